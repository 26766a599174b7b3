package featurestore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Cache is a read-through cache in front of a Store for servers that read
// far more often than features change (they change at ingest, monthly):
// the local /predict server would otherwise pay the embedded store's
// per-read file locking on every request. An entry, found or not found,
// lives for TTL, so an ingest is visible within TTL. Records returned are
// shared: callers must not modify them. GetEntry hands out the entry itself,
// with a memo slot for data a reader derives from the record.
type Cache struct {
	store Store
	ttl   time.Duration
	max   int
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	e       *Entry // nil when the user is missing
	expires time.Time
}

// Entry is one cached record with a memo: a slot where a reader keeps what
// it derives from the record (the /predict server keeps the encoded model
// row and the rendered features there), so that derived data is computed
// once per record and is replaced with it when the record is re-read.
type Entry struct {
	Record Record // shared: callers must not modify it
	memo   atomic.Pointer[memo]
}

type memo struct {
	key, value any
}

// Memo returns the value last stored under key by SetMemo, if the slot
// still holds key (one key at a time: a new key replaces the old).
func (e *Entry) Memo(key any) (any, bool) {
	if m := e.memo.Load(); m != nil && m.key == key {
		return m.value, true
	}
	return nil, false
}

// SetMemo stores value under key, replacing whatever the slot held. key
// must be comparable.
func (e *Entry) SetMemo(key, value any) { e.memo.Store(&memo{key: key, value: value}) }

var _ Store = (*Cache)(nil)

// NewCache returns a Cache over store keeping at most maxEntries users
// (when full, it starts over empty rather than tracking recency).
func NewCache(store Store, ttl time.Duration, maxEntries int) *Cache {
	return &Cache{store: store, ttl: ttl, max: maxEntries, now: time.Now, entries: map[string]cacheEntry{}}
}

// Get returns the user's record from the cache or, past TTL, from the store.
func (c *Cache) Get(ctx context.Context, userID string) (Record, error) {
	e, err := c.GetEntry(ctx, userID)
	if err != nil {
		return Record{}, err
	}
	return e.Record, nil
}

// GetEntry is Get returning the cache entry itself, with its memo slot.
func (c *Cache) GetEntry(ctx context.Context, userID string) (*Entry, error) {
	now := c.now()
	c.mu.RLock()
	ce, ok := c.entries[userID]
	c.mu.RUnlock()
	if ok && now.Before(ce.expires) {
		if ce.e == nil {
			return nil, ErrNotFound
		}
		return ce.e, nil
	}
	rec, err := c.store.Get(ctx, userID)
	missing := errors.Is(err, ErrNotFound)
	if err != nil && !missing {
		return nil, err // a failing store is not cached
	}
	ce = cacheEntry{expires: now.Add(c.ttl)}
	if !missing {
		ce.e = &Entry{Record: rec}
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.entries = make(map[string]cacheEntry, len(c.entries))
	}
	c.entries[userID] = ce
	c.mu.Unlock()
	if missing {
		return nil, err
	}
	return ce.e, nil
}

// PutBatch writes through to the store and drops the written users from
// the cache, so this process sees its own writes at once.
func (c *Cache) PutBatch(ctx context.Context, recs []Record) error {
	err := c.store.PutBatch(ctx, recs)
	c.mu.Lock()
	for _, r := range recs {
		delete(c.entries, r.UserID)
	}
	c.mu.Unlock()
	return err
}

// Prime fills the cache with records read in bulk (they expire after TTL
// like any entry), so a fresh server does not start on cache misses.
func (c *Cache) Prime(recs []Record) {
	exp := c.now().Add(c.ttl)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		if len(c.entries) >= c.max {
			return
		}
		c.entries[r.UserID] = cacheEntry{e: &Entry{Record: r}, expires: exp}
	}
}
