package dataset

import (
	"context"
	"fmt"

	"github.com/churnops/churnops/internal/snapshot"
)

// ReadShard reads shard k of a stored month: its customers in the order
// they came in users.csv (for a month of one shard, the whole month in
// users.csv order, as before sharding). A shard without users gives a
// month with no customers.
func ReadShard(ctx context.Context, store Reader, m *Manifest, k int) (*snapshot.Month, error) {
	if k < 0 || k >= len(m.Shards) {
		return nil, fmt.Errorf("dataset: %s has no shard %d (k=%d)", m.AsOf, k, m.K)
	}
	asOf, err := snapshot.ParseAsOf(m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	s := m.Shards[k]
	if s.Key == "" {
		return &snapshot.Month{AsOf: asOf}, nil
	}
	data, err := store.Get(ctx, s.Key)
	if err != nil {
		return nil, fmt.Errorf("dataset: read %s shard %d: %w", m.AsOf, k, err)
	}
	month, err := snapshot.UnmarshalParquet(data)
	if err != nil {
		return nil, fmt.Errorf("dataset: read %s: %w", s.Key, err)
	}
	if !month.AsOf.Equal(asOf) {
		return nil, fmt.Errorf("dataset: %s holds as_of %s, want %s", s.Key, month.AsOf.Format(snapshot.DateLayout), m.AsOf)
	}
	if !m.Legacy && len(month.Customers) != s.Rows {
		return nil, fmt.Errorf("dataset: %s holds %d rows, manifest says %d", s.Key, len(month.Customers), s.Rows)
	}
	return month, nil
}

// Each calls fn with every shard of the month in shard order, one shard in
// memory at a time. It stops at the first error.
func Each(ctx context.Context, store Reader, m *Manifest, fn func(k int, shard *snapshot.Month) error) error {
	for k := range m.Shards {
		if err := ctx.Err(); err != nil {
			return err
		}
		s, err := ReadShard(ctx, store, m, k)
		if err != nil {
			return err
		}
		if err := fn(k, s); err != nil {
			return err
		}
	}
	return nil
}
