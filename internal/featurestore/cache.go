package featurestore

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Cache is a read-through cache in front of a Store for servers that read
// far more often than features change (they change at ingest, monthly):
// the local /predict server would otherwise pay the embedded store's
// per-read file locking on every request. An entry, found or not found,
// lives for TTL, so an ingest is visible within TTL. Records returned are
// shared: callers must not modify them.
type Cache struct {
	store Store
	ttl   time.Duration
	max   int
	now   func() time.Time

	mu      sync.RWMutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	rec     Record
	missing bool
	expires time.Time
}

var _ Store = (*Cache)(nil)

// NewCache returns a Cache over store keeping at most maxEntries users
// (when full, it starts over empty rather than tracking recency).
func NewCache(store Store, ttl time.Duration, maxEntries int) *Cache {
	return &Cache{store: store, ttl: ttl, max: maxEntries, now: time.Now, entries: map[string]cacheEntry{}}
}

// Get returns the user's record from the cache or, past TTL, from the store.
func (c *Cache) Get(ctx context.Context, userID string) (Record, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := c.entries[userID]
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		if e.missing {
			return Record{}, ErrNotFound
		}
		return e.rec, nil
	}
	rec, err := c.store.Get(ctx, userID)
	missing := errors.Is(err, ErrNotFound)
	if err != nil && !missing {
		return Record{}, err // a failing store is not cached
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		c.entries = make(map[string]cacheEntry, len(c.entries))
	}
	c.entries[userID] = cacheEntry{rec: rec, missing: missing, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return rec, err
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
		c.entries[r.UserID] = cacheEntry{rec: r, expires: exp}
	}
}
