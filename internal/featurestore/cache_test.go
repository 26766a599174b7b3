package featurestore_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// countingStore counts reads that reach the store.
type countingStore struct {
	*servetest.Features
	gets int
	fail error
}

func (s *countingStore) Get(ctx context.Context, id string) (featurestore.Record, error) {
	s.gets++
	if s.fail != nil {
		return featurestore.Record{}, s.fail
	}
	return s.Features.Get(ctx, id)
}

func rec(id string, x float64) featurestore.Record {
	return featurestore.Record{UserID: id, Features: map[string]any{"x": x}}
}

func TestCacheServesWithinTTL(t *testing.T) {
	ctx := t.Context()
	inner := &countingStore{Features: servetest.NewFeatures()}
	inner.Upsert("2024-01-31", rec("u1", 1))
	c := featurestore.NewCache(inner, time.Minute, 10)
	for range 5 {
		if r, err := c.Get(ctx, "u1"); err != nil || r.Features["x"] != 1.0 || r.AsOf != "2024-01-31" {
			t.Fatalf("Get = %+v, %v", r, err)
		}
		if _, err := c.Get(ctx, "ghost"); !errors.Is(err, featurestore.ErrNotFound) {
			t.Fatalf("Get ghost: %v, want ErrNotFound", err)
		}
	}
	if inner.gets != 2 {
		t.Errorf("%d store reads for 10 gets of 2 users, want 2", inner.gets)
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

// TestCacheFollowsTheServedVersion: when the store serves another version
// the cache starts over, so the new month is served at once, users absent
// from it are unknown at once, and a store that cannot tell its version
// fails the read rather than serving from memory.
func TestCacheFollowsTheServedVersion(t *testing.T) {
	ctx := t.Context()
	inner := &countingStore{Features: servetest.NewFeatures()}
	inner.Upsert("2024-01-31", rec("stays", 1), rec("leaves", 2))
	c := featurestore.NewCache(inner, time.Hour, 10)
	for _, id := range []string{"stays", "leaves", "joins"} {
		_, _ = c.Get(ctx, id)
	}
	inner.Upsert("2024-02-29", rec("stays", 10), rec("joins", 30))
	cases := []struct {
		id   string
		want float64 // 0: not found
	}{{"stays", 10}, {"leaves", 0}, {"joins", 30}}
	for _, tc := range cases {
		r, err := c.Get(ctx, tc.id)
		switch {
		case tc.want == 0 && !errors.Is(err, featurestore.ErrNotFound):
			t.Errorf("Get %s after the switch = %+v, %v; want ErrNotFound", tc.id, r, err)
		case tc.want != 0 && (err != nil || r.Features["x"] != tc.want || r.AsOf != "2024-02-29"):
			t.Errorf("Get %s after the switch = %+v, %v; want x=%v of 2024-02-29", tc.id, r, err, tc.want)
		}
	}
	inner.SetErr(errors.New("unreachable"))
	if _, err := c.Get(ctx, "stays"); err == nil {
		t.Error("a cached user was served while the store cannot say which version it serves")
	}
	if _, err := c.Current(ctx); err == nil {
		t.Error("Current of a failing store succeeded: it must not be cached")
	}
}

// TestCacheEntryMemo checks the memo slot's lifetime: it lives with the
// cached record, answers only the key it was stored under, and is gone when
// the record is re-read (another version served, or past TTL).
func TestCacheEntryMemo(t *testing.T) {
	ctx := t.Context()
	inner := servetest.NewFeatures()
	inner.Upsert("2024-01-31", rec("u1", 1))
	entry := func(c *featurestore.Cache) *featurestore.Entry {
		t.Helper()
		e, err := c.GetEntry(ctx, "u1")
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	c := featurestore.NewCache(inner, time.Minute, 10)
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
	inner.Upsert("2024-02-29", rec("u1", 2)) // another version: the memo goes with the entry
	if e := entry(c); e.Record.AsOf != "2024-02-29" {
		t.Fatalf("as_of %s after the switch", e.Record.AsOf)
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
