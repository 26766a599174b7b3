package dataset

import (
	"context"
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/snapshot"
)

// Verify checks a stored month against its manifest, one file at a time:
// every shard's Parquet file present, of the size and row count the
// manifest records, and the drift summary and sample it names present (the
// sample with its row count). It returns what is wrong, nothing when the
// month is whole; an error only when the store cannot be read.
func Verify(ctx context.Context, store Reader, m *Manifest) ([]string, error) {
	var problems []string
	for _, s := range m.Shards {
		if s.Key == "" {
			continue
		}
		data, err := store.Get(ctx, s.Key)
		if errors.Is(err, blob.ErrNotFound) {
			problems = append(problems, fmt.Sprintf("shard %d's file %s is missing", s.Shard, s.Key))
			continue
		}
		if err != nil {
			return problems, fmt.Errorf("dataset: verify %s: %w", s.Key, err)
		}
		if !m.Legacy && s.Bytes > 0 && len(data) != s.Bytes {
			problems = append(problems, fmt.Sprintf("shard %d's file %s holds %d bytes, the manifest says %d", s.Shard, s.Key, len(data), s.Bytes))
			continue
		}
		rows, err := snapshot.ParquetRows(data)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("shard %d's file %s is not readable Parquet: %v", s.Shard, s.Key, err))
		case !m.Legacy && rows != int64(s.Rows):
			problems = append(problems, fmt.Sprintf("shard %d's file %s holds %d rows, the manifest says %d", s.Shard, s.Key, rows, s.Rows))
		}
	}
	if m.DriftSummary != "" {
		if _, err := store.Get(ctx, m.DriftSummary); errors.Is(err, blob.ErrNotFound) {
			problems = append(problems, fmt.Sprintf("the drift summary %s is missing", m.DriftSummary))
		} else if err != nil {
			return problems, fmt.Errorf("dataset: verify %s: %w", m.DriftSummary, err)
		}
	}
	if sf := m.Sample; sf != nil {
		data, err := store.Get(ctx, sf.Key)
		switch {
		case errors.Is(err, blob.ErrNotFound):
			problems = append(problems, fmt.Sprintf("the sample %s is missing", sf.Key))
		case err != nil:
			return problems, fmt.Errorf("dataset: verify %s: %w", sf.Key, err)
		default:
			if rows, err := snapshot.ParquetRows(data); err != nil || rows != int64(sf.Rows) {
				problems = append(problems, fmt.Sprintf("the sample %s holds %d rows (%v), the manifest says %d", sf.Key, rows, err, sf.Rows))
			}
		}
	}
	return problems, nil
}
