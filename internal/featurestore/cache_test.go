package featurestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/featurestore/featurestoretest"
	"github.com/churnops/churnops/internal/localstore"
)

// countingStore counts reads that reach the store.
type countingStore struct {
	featurestore.Store
	gets int
	fail error
}

func (s *countingStore) Get(ctx context.Context, id string) (featurestore.Record, error) {
	s.gets++
	if s.fail != nil {
		return featurestore.Record{}, s.fail
	}
	return s.Store.Get(ctx, id)
}

func open(t *testing.T) featurestore.Store {
	t.Helper()
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.Features
}

func TestCacheContract(t *testing.T) {
	// A zero TTL caches nothing: the cache must then behave as the store.
	featurestoretest.Run(t, func(t *testing.T) featurestore.Store {
		return featurestore.NewCache(open(t), 0, 100)
	})
}

func TestCacheServesWithinTTL(t *testing.T) {
	ctx := context.Background()
	inner := &countingStore{Store: open(t)}
	if err := inner.PutBatch(ctx, []featurestore.Record{{UserID: "u1", AsOf: "2024-01-31", Features: map[string]any{"x": 1.0}}}); err != nil {
		t.Fatal(err)
	}
	c := featurestore.NewCache(inner, time.Minute, 10)
	for range 5 {
		if r, err := c.Get(ctx, "u1"); err != nil || r.Features["x"] != 1.0 {
			t.Fatalf("Get = %+v, %v", r, err)
		}
		if _, err := c.Get(ctx, "ghost"); !errors.Is(err, featurestore.ErrNotFound) {
			t.Fatalf("Get ghost: %v, want ErrNotFound", err)
		}
	}
	if inner.gets != 2 {
		t.Errorf("%d store reads for 10 gets of 2 users, want 2", inner.gets)
	}
	// A write through the cache is visible at once.
	if err := c.PutBatch(ctx, []featurestore.Record{{UserID: "u1", AsOf: "2024-02-29", Features: map[string]any{"x": 2.0}}}); err != nil {
		t.Fatal(err)
	}
	if r, _ := c.Get(ctx, "u1"); r.AsOf != "2024-02-29" {
		t.Errorf("after PutBatch got as_of %s, want the new record", r.AsOf)
	}
	// Store failures are returned and not cached.
	inner.fail = errors.New("disk on fire")
	if _, err := c.Get(ctx, "other"); err == nil {
		t.Error("store failure not returned")
	}
	inner.fail = nil
	if _, err := c.Get(ctx, "other"); !errors.Is(err, featurestore.ErrNotFound) {
		t.Errorf("after a failure: %v, want a fresh read (ErrNotFound)", err)
	}
}

func TestCachePrime(t *testing.T) {
	ctx := context.Background()
	inner := &countingStore{Store: open(t)}
	c := featurestore.NewCache(inner, time.Minute, 2)
	c.Prime([]featurestore.Record{{UserID: "a", AsOf: "2024-01-31"}, {UserID: "b"}, {UserID: "c"}})
	if r, err := c.Get(ctx, "a"); err != nil || r.AsOf != "2024-01-31" {
		t.Fatalf("Get a = %+v, %v; want the primed record", r, err)
	}
	if inner.gets != 0 {
		t.Errorf("%d store reads for a primed user, want 0", inner.gets)
	}
	// Past maxEntries nothing more is primed: c falls through to the store.
	if _, err := c.Get(ctx, "c"); !errors.Is(err, featurestore.ErrNotFound) || inner.gets != 1 {
		t.Errorf("Get c: %v after %d reads; want a store read answering ErrNotFound", err, inner.gets)
	}
}
