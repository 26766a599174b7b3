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

// TestCacheEntryMemo checks the memo slot's lifetime: it lives with the
// cached record, answers only the key it was stored under, and is gone when
// the record is re-read (a write through the cache, or past TTL).
func TestCacheEntryMemo(t *testing.T) {
	ctx := context.Background()
	inner := open(t)
	put := func(c *featurestore.Cache, asOf string) {
		t.Helper()
		if err := c.PutBatch(ctx, []featurestore.Record{{UserID: "u1", AsOf: asOf, Features: map[string]any{"x": 1.0}}}); err != nil {
			t.Fatal(err)
		}
	}
	entry := func(c *featurestore.Cache) *featurestore.Entry {
		t.Helper()
		e, err := c.GetEntry(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	c := featurestore.NewCache(inner, time.Minute, 10)
	put(c, "2024-01-31")
	e := entry(c)
	if _, ok := e.Memo("model-v1"); ok {
		t.Fatal("a fresh entry has a memo")
	}
	e.SetMemo("model-v1", 42)
	if v, ok := entry(c).Memo("model-v1"); !ok || v != 42 {
		t.Fatalf("memo within TTL = %v, %v; want 42", v, ok)
	}
	if _, ok := entry(c).Memo("model-v2"); ok {
		t.Fatal("memo answered another key")
	}
	entry(c).SetMemo("model-v2", 43) // a new key replaces the old
	if _, ok := entry(c).Memo("model-v1"); ok {
		t.Fatal("the replaced key still answers")
	}
	put(c, "2024-02-29") // a write drops the entry: the memo goes with it
	if e := entry(c); e.Record.AsOf != "2024-02-29" {
		t.Fatalf("as_of %s after the write", e.Record.AsOf)
	} else if _, ok := e.Memo("model-v2"); ok {
		t.Fatal("memo survived a new record")
	}

	expiring := featurestore.NewCache(inner, time.Nanosecond, 10)
	entry(expiring).SetMemo("k", 1)
	time.Sleep(time.Millisecond)
	if _, ok := entry(expiring).Memo("k"); ok {
		t.Fatal("memo survived the record's TTL")
	}
	if _, err := expiring.GetEntry(ctx, "ghost"); !errors.Is(err, featurestore.ErrNotFound) {
		t.Fatalf("GetEntry of an unknown user: %v, want ErrNotFound", err)
	}
}
