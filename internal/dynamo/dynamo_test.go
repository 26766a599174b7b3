package dynamo_test

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
)

// unreachable is a Client whose every method fails the test: the requests
// below must be refused before anything is sent to DynamoDB. (The embedded
// nil interface panics on any call; the recover in run turns that into a
// test failure.)
type unreachable struct{ dynamo.Client }

// TestRefusedBeforeAnyRequest checks the validation that happens locally,
// so a bad batch or call never leaves a partial write behind; the
// integration tests cover everything that needs a table.
func TestRefusedBeforeAnyRequest(t *testing.T) {
	fs := dynamo.NewFeatureStore(unreachable{}, "features")
	reg := dynamo.NewRegistry(unreachable{}, "registry")
	good := featurestore.Record{UserID: "u1", AsOf: "2024-01-31", Features: map[string]any{"a": 1.0}}
	withFeature := func(v any) featurestore.Record {
		return featurestore.Record{UserID: "u2", AsOf: "2024-01-31", Features: map[string]any{"x": v}}
	}
	cases := []struct {
		name string
		call func(ctx context.Context) error
		want error // a sentinel the error must wrap, or nil for any error
	}{
		{"NaN feature", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{good, withFeature(math.NaN())})
		}, featurestore.ErrInvalid},
		{"+Inf feature", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{good, withFeature(math.Inf(1))})
		}, featurestore.ErrInvalid},
		{"a number beyond DynamoDB's range", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{good, withFeature(1e300)})
		}, featurestore.ErrInvalid},
		{"unsupported feature type", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{good, withFeature(struct{}{})})
		}, featurestore.ErrInvalid},
		{"empty user ID", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{good, {AsOf: "2024-01-31"}})
		}, featurestore.ErrInvalid},
		{"bad as_of", func(ctx context.Context) error {
			return fs.Write(ctx, "2024-01-31/../x", 0, 1, []featurestore.Record{good})
		}, featurestore.ErrInvalid},
		{"Get of an empty user ID", func(ctx context.Context) error { _, err := fs.Get(ctx, ""); return err }, featurestore.ErrNotFound},
		{"Register without a model", func(ctx context.Context) error { _, err := reg.Register(ctx, registry.Version{}); return err }, registry.ErrInvalid},
		{"Get of version 0", func(ctx context.Context) error { _, err := reg.Get(ctx, "churn", 0); return err }, registry.ErrNotFound},
		{"Promote of version -1", func(ctx context.Context) error { return reg.Promote(ctx, "churn", -1, 0, registry.Decision{}) }, registry.ErrNotFound},
		{"Decide to Production", func(ctx context.Context) error {
			return reg.Decide(ctx, "churn", 1, registry.StageProduction, registry.Decision{})
		}, registry.ErrInvalid},
		{"Promote with a NaN in the decision", func(ctx context.Context) error {
			return reg.Promote(ctx, "churn", 2, 1, registry.Decision{CandidateAUC: math.NaN()})
		}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t, tc.call)
			if err == nil {
				t.Fatal("succeeded, want an error")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
		})
	}
}

func run(t *testing.T, call func(context.Context) error) (err error) {
	t.Helper()
	defer func() {
		if r := recover(); r != nil {
			t.Fatalf("sent a request to DynamoDB (%v); it should have been refused first", r)
		}
	}()
	return call(t.Context())
}
