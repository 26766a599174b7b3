package localstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/featurestore/featurestoretest"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/registry/registrytest"
)

// modes are the two lock disciplines; every contract runs under both.
var modes = []struct {
	name string
	opts localstore.Options
}{
	{"shared", localstore.Options{}},
	{"held", localstore.Options{HoldLock: true}},
}

func openState(tb testing.TB, dir string, opts localstore.Options) *localstore.State {
	tb.Helper()
	s, err := localstore.Open(dir, opts)
	if err != nil {
		tb.Fatalf("Open %s: %v", dir, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestRegistryContract(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			registrytest.Run(t, func(t *testing.T) registry.Registry { return openState(t, t.TempDir(), m.opts).Registry })
		})
	}
}

func TestApprovalsContract(t *testing.T) {
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			registrytest.RunApprovals(t, func(t *testing.T) registry.Approvals { return openState(t, t.TempDir(), m.opts).Approvals })
		})
	}
}

func TestFeaturesContract(t *testing.T) {
	featurestoretest.Run(t, func(t *testing.T) featurestore.Store { return openState(t, t.TempDir(), localstore.Options{}).Features })
}

func TestBlobsContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return openState(t, t.TempDir(), localstore.Options{}).Blobs })
}

// TestReopen checks that everything written survives closing and reopening
// the state directory, as it must between two CLI invocations.
func TestReopen(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s, err := localstore.Open(dir, localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := s.Registry.Register(ctx, registry.Version{Model: "churn", ArtifactKey: "models/churn/v1/model.json"})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Registry.Promote(ctx, "churn", v.Version, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatal(err)
	}
	if err := s.Features.Write(ctx, "2024-01-31", 0, 1, []featurestore.Record{{UserID: "u1", Features: map[string]any{"a": 1.0}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Features.Publish(ctx, "2024-01-31"); err != nil {
		t.Fatal(err)
	}
	if err := s.Blobs.Put(ctx, "models/churn/v1/model.json", []byte("model")); err != nil {
		t.Fatal(err)
	}
	if err := s.Approvals.Put(ctx, "tok", []byte("cp"), registry.ApprovalInfo{Model: "churn", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openState(t, dir, localstore.Options{})
	checks := []struct {
		name string
		err  func() error
	}{
		{"registry", func() error {
			p, err := s.Registry.Production(ctx, "churn")
			if err == nil && p.ArtifactKey != v.ArtifactKey {
				err = errors.New("wrong artifact " + p.ArtifactKey)
			}
			return err
		}},
		{"features", func() error { _, err := s.Features.Get(ctx, "u1"); return err }},
		{"blobs", func() error { _, err := s.Blobs.Get(ctx, "models/churn/v1/model.json"); return err }},
		{"approvals", func() error { _, err := s.Approvals.Get(ctx, "tok"); return err }},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if err := c.err(); err != nil {
				t.Errorf("after reopening: %v", err)
			}
		})
	}
	for _, name := range []string{"registry.db", "features/CURRENT", "features/as_of=2024-01-31/part-00000-of-00001.kv", "blobs/models/churn/v1/model.json"} {
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err != nil {
			t.Errorf("state layout: %v", err)
		}
	}
}

// TestClosed checks that a closed state fails cleanly instead of reopening
// its files behind the caller's back.
func TestClosed(t *testing.T) {
	ctx := t.Context()
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			s, err := localstore.Open(t.TempDir(), m.opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			ops := []struct {
				name string
				err  error
			}{
				{"Register", func() error { _, err := s.Registry.Register(ctx, registry.Version{Model: "m"}); return err }()},
				{"Production", func() error { _, err := s.Registry.Production(ctx, "m"); return err }()},
				{"Features.Get", func() error { _, err := s.Features.Get(ctx, "u"); return err }()},
				{"Approvals.List", func() error { _, err := s.Approvals.List(ctx); return err }()},
			}
			for _, op := range ops {
				if !errors.Is(op.err, os.ErrClosed) {
					t.Errorf("%s after Close: err %v, want os.ErrClosed", op.name, op.err)
				}
			}
		})
	}
}
