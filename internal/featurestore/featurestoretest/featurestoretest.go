// Package featurestoretest is the contract suite for featurestore.Store:
// the embedded bbolt store and the DynamoDB adapter both run it, so /predict
// reads the same features, with the same JSON types, on a laptop and on AWS.
//
//	func TestStore(t *testing.T) {
//		featurestoretest.Run(t, func(t *testing.T) featurestore.Store { return newTestStore(t) })
//	}
//
// Every subtest uses user IDs unique to the run, so one table may serve all
// subtests and survive earlier runs.
package featurestoretest

import (
	"errors"
	"fmt"
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
)

// BigBatch is the size of the large-batch test: a month of a small service.
const BigBatch = 10_000

// Run runs the featurestore.Store contract against stores made by newStore,
// called once per subtest with that subtest's t.
func Run(t *testing.T, newStore func(t *testing.T) featurestore.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s featurestore.Store)
	}{
		{"feature types round-trip", testTypes},
		{"upsert replaces the whole record", testUpsert},
		{"later duplicates in a batch win", testDuplicates},
		{"missing users", testNotFound},
		{"invalid batches", testInvalid},
		{"big batch", testBigBatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

var nonce atomic.Int64

// users returns a user-ID prefix no other subtest or earlier run uses.
func users(t *testing.T) string {
	t.Helper()
	return fmt.Sprintf("ft%d-", time.Now().UnixNano()+nonce.Add(1))
}

func putBatch(t *testing.T, s featurestore.Store, recs ...featurestore.Record) {
	t.Helper()
	if err := s.PutBatch(t.Context(), recs); err != nil {
		t.Fatalf("PutBatch of %d records: %v", len(recs), err)
	}
}

func get(t *testing.T, s featurestore.Store, userID string) featurestore.Record {
	t.Helper()
	r, err := s.Get(t.Context(), userID)
	if err != nil {
		t.Fatalf("Get %s: %v", userID, err)
	}
	return r
}

// assertRecord compares values and their dynamic types: a number must come
// back as float64, a boolean as bool, a missing value as nil.
func assertRecord(t *testing.T, got, want featurestore.Record) {
	t.Helper()
	if got.UserID != want.UserID || got.AsOf != want.AsOf {
		t.Errorf("record %s/%s, want %s/%s", got.UserID, got.AsOf, want.UserID, want.AsOf)
	}
	if len(got.Features) != len(want.Features) {
		t.Errorf("%s: %d features %v, want %d %v", want.UserID, len(got.Features), got.Features, len(want.Features), want.Features)
	}
	for name, w := range want.Features {
		g, ok := got.Features[name]
		if !ok {
			t.Errorf("%s: feature %s missing", want.UserID, name)
			continue
		}
		if fmt.Sprintf("%T", g) != fmt.Sprintf("%T", w) || g != w {
			t.Errorf("%s: feature %s = %#v (%T), want %#v (%T)", want.UserID, name, g, g, w, w)
		}
	}
}

func testTypes(t *testing.T, s featurestore.Store) {
	u := users(t)
	cases := []struct {
		name     string
		features map[string]any
	}{
		{"numbers", map[string]any{"monthly_fee": 12.99, "months_active": 14.0, "zero": 0.0, "negative": -3.5, "large": 1e12, "tiny": 1e-9}},
		{"booleans", map[string]any{"paperless_billing": true, "plan_stream_tv": false}},
		{"missing values", map[string]any{"net_service": nil, "plan_stream_movies": nil}},
		{"strings", map[string]any{"net_service": "fiber", "empty": ""}},
		{"mixed", map[string]any{"monthly_fee": 7.0, "net_service": "dsl", "plan_stream_tv": nil, "paperless_billing": false}},
		{"no features", map[string]any{}},
	}
	var recs []featurestore.Record
	for i, tc := range cases {
		recs = append(recs, featurestore.Record{UserID: fmt.Sprintf("%su%d", u, i), AsOf: "2024-01-31", Features: tc.features})
	}
	putBatch(t, s, recs...)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertRecord(t, get(t, s, recs[i].UserID), recs[i]) })
	}
	t.Run("non-JSON number", func(t *testing.T) {
		bad := featurestore.Record{UserID: u + "nan", AsOf: "2024-01-31", Features: map[string]any{"x": math.NaN()}}
		if err := s.PutBatch(t.Context(), []featurestore.Record{bad}); err == nil {
			t.Error("PutBatch with a NaN feature succeeded, want an error")
		}
	})
}

func testUpsert(t *testing.T, s featurestore.Store) {
	id := users(t) + "u1"
	putBatch(t, s, featurestore.Record{UserID: id, AsOf: "2024-01-31", Features: map[string]any{"a": 1.0, "b": true, "c": "x"}})
	next := featurestore.Record{UserID: id, AsOf: "2024-02-29", Features: map[string]any{"a": 2.0, "b": nil}}
	putBatch(t, s, next)
	assertRecord(t, get(t, s, id), next)
}

func testDuplicates(t *testing.T, s featurestore.Store) {
	u := users(t)
	first := featurestore.Record{UserID: u + "dup", AsOf: "2024-01-31", Features: map[string]any{"a": 1.0}}
	other := featurestore.Record{UserID: u + "other", AsOf: "2024-01-31", Features: map[string]any{"a": 5.0}}
	last := featurestore.Record{UserID: u + "dup", AsOf: "2024-01-31", Features: map[string]any{"a": 2.0}}
	putBatch(t, s, first, other, last)
	assertRecord(t, get(t, s, first.UserID), last)
	assertRecord(t, get(t, s, other.UserID), other)
}

func testNotFound(t *testing.T, s featurestore.Store) {
	u := users(t)
	putBatch(t, s, featurestore.Record{UserID: u + "present", AsOf: "2024-01-31", Features: map[string]any{"a": 1.0}})
	for _, id := range []string{u + "absent", u + "presen", u + "present2"} {
		t.Run(id, func(t *testing.T) {
			if _, err := s.Get(t.Context(), id); !errors.Is(err, featurestore.ErrNotFound) {
				t.Errorf("Get %s: err %v, want ErrNotFound", id, err)
			}
		})
	}
}

func testInvalid(t *testing.T, s featurestore.Store) {
	u := users(t)
	t.Run("empty batch", func(t *testing.T) {
		if err := s.PutBatch(t.Context(), nil); err != nil {
			t.Errorf("PutBatch(nil): %v", err)
		}
	})
	t.Run("empty user ID", func(t *testing.T) {
		good := featurestore.Record{UserID: u + "good", AsOf: "2024-01-31", Features: map[string]any{"a": 1.0}}
		bad := featurestore.Record{AsOf: "2024-01-31", Features: map[string]any{"a": 1.0}}
		if err := s.PutBatch(t.Context(), []featurestore.Record{good, bad}); err == nil {
			t.Fatal("PutBatch with an empty user ID succeeded")
		}
		if _, err := s.Get(t.Context(), good.UserID); !errors.Is(err, featurestore.ErrNotFound) {
			t.Errorf("record before the bad one: err %v, want ErrNotFound (nothing written)", err)
		}
	})
}

func testBigBatch(t *testing.T, s featurestore.Store) {
	u := users(t)
	recs := make([]featurestore.Record, BigBatch)
	for i := range recs {
		recs[i] = featurestore.Record{
			UserID: fmt.Sprintf("%s%06d", u, i),
			AsOf:   "2024-01-31",
			Features: map[string]any{
				"months_active":     float64(i % 72),
				"monthly_fee":       float64(i%40) + 0.99,
				"paperless_billing": i%2 == 0,
				"net_service":       []any{"dsl", "fiber", nil}[i%3],
			},
		}
	}
	putBatch(t, s, recs...)
	// Check a spread of records, first and last included, rather than all
	// of them, so the suite stays quick against a remote table.
	for i := 0; i < BigBatch; i += BigBatch / 100 {
		assertRecord(t, get(t, s, recs[i].UserID), recs[i])
	}
	assertRecord(t, get(t, s, recs[BigBatch-1].UserID), recs[BigBatch-1])
}
