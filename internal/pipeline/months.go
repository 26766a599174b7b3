package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// openMonth opens the stored month of an as_of field: its manifest, or a
// SnapshotNotFoundError when none is visible.
func (p *Pipeline) openMonth(ctx context.Context, field, asOf string) (*dataset.Manifest, error) {
	if _, err := parseAsOf(field, asOf); err != nil {
		return nil, err
	}
	m, err := dataset.Open(ctx, p.Blobs, asOf)
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, &SnapshotNotFoundError{AsOf: asOf}
	}
	if err != nil {
		return nil, fmt.Errorf("open month %s: %w", asOf, err)
	}
	return m, nil
}

// sampleMonth reads the training sample of a stored month: the budget
// customers of smallest dataset.SampleKey (the whole month when it has no
// more), the same users month after month. Train and Evaluate read the
// same sample of a month with the same budget, so Production is evaluated
// on exactly the candidate's validation users.
func (p *Pipeline) sampleMonth(ctx context.Context, field, asOf string, budget int) (*dataset.Manifest, *snapshot.Month, error) {
	if budget < 0 {
		return nil, nil, &InvalidInputError{Msg: fmt.Sprintf("row_budget %d must be >= 0 (0: %d)", budget, dataset.DefaultSampleRows)}
	}
	m, err := p.openMonth(ctx, field, asOf)
	if err != nil {
		return nil, nil, err
	}
	s, err := dataset.Sample(ctx, p.Blobs, m, budget)
	if err != nil {
		return nil, nil, fmt.Errorf("sample %s: %w", asOf, err)
	}
	return m, s, nil
}

// monthFingerprint identifies a stored month's data: its manifest's
// fingerprint, or, for a month stored before sharding (whose manifest
// knows none), that of its one shard as read.
func monthFingerprint(m *dataset.Manifest, read *snapshot.Month) string {
	if m.Fingerprint != "" {
		return m.Fingerprint
	}
	return read.Fingerprint()
}

// summary returns a stored month's drift summary: the one its ingest
// stored, or — for a month stored without one — the summary of its shards
// read one at a time, which is the same (drift.Summary.Add).
func (p *Pipeline) summary(ctx context.Context, m *dataset.Manifest) (*drift.Summary, error) {
	if m.DriftSummary != "" {
		data, err := p.Blobs.Get(ctx, m.DriftSummary)
		if err != nil {
			return nil, fmt.Errorf("read the drift summary of %s: %w", m.AsOf, err)
		}
		s, err := drift.UnmarshalSummary(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.DriftSummary, err)
		}
		return s, nil
	}
	var s drift.Summary
	err := dataset.Each(ctx, p.Blobs, m, func(k int, shard *snapshot.Month) error {
		if len(shard.Customers) == 0 {
			return nil
		}
		return s.Add(shard.DriftColumns())
	})
	if err != nil {
		return nil, fmt.Errorf("summarize %s: %w", m.AsOf, err)
	}
	return &s, nil
}
