package servetest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/shard"
)

// Features is an in-memory featurestore.Store (it passes the contract
// suite). SetErr makes reads fail, as an unreachable store would, and
// Upsert edits the served version in place for tests that change a user.
type Features struct {
	mu       sync.RWMutex
	versions map[string]*memVersion
	served   string
	err      error
}

type memVersion struct {
	shards int
	parts  map[int]map[string]featurestore.Record
}

func (v *memVersion) complete() bool { return len(v.parts) == v.shards }

func (v *memVersion) records() int {
	n := 0
	for _, p := range v.parts {
		n += len(p)
	}
	return n
}

var _ featurestore.Store = (*Features)(nil)

// DefaultAsOf is the version NewFeatures serves records without an AsOf
// under.
const DefaultAsOf = "2024-01-31"

// NewFeatures returns a store serving recs as one version, the newest
// AsOf among them (every record is served with it); without recs, an
// empty store.
func NewFeatures(recs ...featurestore.Record) *Features {
	f := &Features{versions: map[string]*memVersion{}}
	if len(recs) == 0 {
		return f
	}
	asOf := DefaultAsOf
	for _, r := range recs {
		if r.AsOf != "" {
			asOf = max(asOf, r.AsOf)
		}
	}
	f.Upsert(asOf, recs...)
	return f
}

// SetErr makes every later Get and Current fail with err (nil: succeed
// again).
func (f *Features) SetErr(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

// Upsert puts recs into version asOf (one shard), replacing those users'
// records, and serves that version. It is a test shortcut past Write and
// Publish: a real version never changes once written.
func (f *Features) Upsert(asOf string, recs ...featurestore.Record) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.versions[asOf]
	if v == nil || v.shards != 1 {
		v = &memVersion{shards: 1, parts: map[int]map[string]featurestore.Record{0: {}}}
		f.versions[asOf] = v
	}
	for _, r := range recs {
		r.AsOf = asOf
		v.parts[0][r.UserID] = r
	}
	f.served = asOf
}

// Write implements featurestore.Store.
func (f *Features) Write(ctx context.Context, asOf string, sh, shards int, recs []featurestore.Record) error {
	if err := featurestore.CheckWrite(asOf, sh, shards, recs); err != nil {
		return fmt.Errorf("write online features: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	part := make(map[string]featurestore.Record, len(recs))
	for _, r := range recs {
		r.AsOf = asOf
		r.Features = maps.Clone(r.Features)
		part[r.UserID] = r
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	v := f.versions[asOf]
	if v == nil {
		v = &memVersion{shards: shards, parts: map[int]map[string]featurestore.Record{}}
		f.versions[asOf] = v
	}
	if v.shards != shards {
		return fmt.Errorf("write online features as_of=%s: written with %d shards, not %d: %w", asOf, v.shards, shards, featurestore.ErrInvalid)
	}
	v.parts[sh] = part
	return nil
}

// Publish implements featurestore.Store.
func (f *Features) Publish(ctx context.Context, asOf string) (string, bool, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", false, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.served >= asOf {
		return f.served, false, nil
	}
	v := f.versions[asOf]
	if v == nil || !v.complete() {
		return f.served, false, fmt.Errorf("publish as_of=%s: %w", asOf, featurestore.ErrIncomplete)
	}
	f.served = asOf
	return asOf, true, nil
}

// Current implements featurestore.Store.
func (f *Features) Current(ctx context.Context) (string, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.err != nil {
		return "", f.err
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if f.served == "" {
		return "", featurestore.ErrNoVersion
	}
	return f.served, nil
}

// Get implements featurestore.Store. The record's map is shared, not
// copied: callers must not modify it (the service does not).
func (f *Features) Get(ctx context.Context, userID string) (featurestore.Record, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.err != nil {
		return featurestore.Record{}, f.err
	}
	if err := ctx.Err(); err != nil {
		return featurestore.Record{}, err
	}
	if f.served == "" {
		return featurestore.Record{}, featurestore.ErrNoVersion
	}
	v := f.versions[f.served]
	r, ok := v.parts[shard.Of(userID, v.shards)][userID]
	if !ok {
		return featurestore.Record{}, fmt.Errorf("user %q: %w", userID, featurestore.ErrNotFound)
	}
	return r, nil
}

// Versions implements featurestore.Store.
func (f *Features) Versions(context.Context) ([]featurestore.Version, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []featurestore.Version
	for _, asOf := range slices.Sorted(maps.Keys(f.versions)) {
		v := f.versions[asOf]
		out = append(out, featurestore.Version{AsOf: asOf, Shards: v.shards, Written: len(v.parts),
			Records: v.records(), Complete: v.complete(), Served: asOf == f.served})
	}
	return out, nil
}

// Remove implements featurestore.Store.
func (f *Features) Remove(_ context.Context, asOf string, force bool) (string, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if asOf == f.served {
		next := ""
		for _, d := range slices.Backward(slices.Sorted(maps.Keys(f.versions))) {
			if d != asOf && f.versions[d].complete() {
				next = d
				break
			}
		}
		if next == "" && !force {
			return f.served, fmt.Errorf("remove as_of=%s: %w", asOf, featurestore.ErrLastVersion)
		}
		f.served = next
	}
	delete(f.versions, asOf)
	return f.served, nil
}

// Prune implements featurestore.Store.
func (f *Features) Prune(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.served == "" {
		return nil, nil
	}
	dates := slices.Sorted(maps.Keys(f.versions))
	keep := ""
	for _, d := range slices.Backward(dates) {
		if d < f.served && f.versions[d].complete() {
			keep = d
			break
		}
	}
	var removed []string
	for _, d := range dates {
		if d >= keep {
			break
		}
		delete(f.versions, d)
		removed = append(removed, d)
	}
	return removed, nil
}
