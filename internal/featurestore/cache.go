package featurestore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Reader is the read side of a Store: what a Cache reads through.
type Reader interface {
	Get(ctx context.Context, userID string) (Record, error)
	Current(ctx context.Context) (string, error)
}

// Cache is a read-through cache in front of a Store's read side, for
// servers that read far more often than versions change (monthly). Its
// entries belong to the version that was served when they were read: when
// the store serves another version, the cache starts over, so a switch is
// seen as soon as the store sees it, and a customer absent from the new
// version is unknown at once. Each read asks the store which version it
// serves (Current), which the stores answer without I/O most of the time.
//
// An entry, found or not found, also expires after TTL, which bounds how
// long a version rewritten in place (a repaired shard) is served from
// memory. Records returned are shared: callers must not modify them.
// GetEntry hands out the entry itself, with a memo slot for data a reader
// derives from the record.
type Cache struct {
	store Reader
	ttl   time.Duration
	max   int
	now   func() time.Time

	mu      sync.RWMutex
	version string // the version the entries belong to
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

var _ Reader = (*Cache)(nil)

// NewCache returns a Cache over store keeping at most maxEntries users
// (when full, it starts over empty rather than tracking recency).
func NewCache(store Reader, ttl time.Duration, maxEntries int) *Cache {
	return &Cache{store: store, ttl: ttl, max: maxEntries, now: time.Now, entries: map[string]cacheEntry{}}
}

// Current returns the store's served version; it is never cached, so that
// a readiness check asks the store itself.
func (c *Cache) Current(ctx context.Context) (string, error) { return c.store.Current(ctx) }

// Get returns the user's record from the cache or the store.
func (c *Cache) Get(ctx context.Context, userID string) (Record, error) {
	e, err := c.GetEntry(ctx, userID)
	if err != nil {
		return Record{}, err
	}
	return e.Record, nil
}

// GetEntry is Get returning the cache entry itself, with its memo slot.
func (c *Cache) GetEntry(ctx context.Context, userID string) (*Entry, error) {
	version, err := c.store.Current(ctx)
	if err != nil {
		return nil, err // nothing served, or the store cannot tell: not cached
	}
	now := c.now()
	c.mu.RLock()
	ce, ok := c.entries[userID]
	same := c.version == version
	c.mu.RUnlock()
	if ok && same && now.Before(ce.expires) {
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
	if !missing && rec.AsOf != version {
		// The store switched between the two reads: serve the record,
		// keep nothing; the next read starts the cache over.
		return &Entry{Record: rec}, nil
	}
	ce = cacheEntry{expires: now.Add(c.ttl)}
	if !missing {
		ce.e = &Entry{Record: rec}
	}
	c.mu.Lock()
	if c.version != version || len(c.entries) >= c.max {
		c.entries = make(map[string]cacheEntry, len(c.entries))
		c.version = version
	}
	c.entries[userID] = ce
	c.mu.Unlock()
	if missing {
		return nil, err
	}
	return ce.e, nil
}
