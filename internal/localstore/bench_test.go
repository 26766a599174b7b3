package localstore_test

import (
	"fmt"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
)

// BenchmarkPromote measures one atomic promotion (archive + promote +
// pointer, one fsynced transaction), alternating two versions the way a
// rollback does.
func BenchmarkPromote(b *testing.B) {
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			ctx := b.Context()
			s := openState(b, b.TempDir(), m.opts)
			for range 2 {
				if _, err := s.Registry.Register(ctx, registry.Version{Model: model}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Registry.Promote(ctx, model, 1, 0, registry.Decision{}); err != nil {
				b.Fatal(err)
			}
			cur := 1
			for b.Loop() {
				next := 3 - cur
				if err := s.Registry.Promote(ctx, model, next, cur, registry.Decision{Outcome: registry.OutcomeRolledBack}); err != nil {
					b.Fatal(err)
				}
				cur = next
			}
		})
	}
}

// BenchmarkFeatureGet measures the /predict feature read among 10k users
// of a served version: a stat of CURRENT, a binary search, one block read.
// bench/features compares it with the old bbolt store at 1M users.
func BenchmarkFeatureGet(b *testing.B) {
	const users = 10_000
	ctx := b.Context()
	s := openState(b, b.TempDir(), localstore.Options{})
	recs := make([]featurestore.Record, users)
	for i := range recs {
		recs[i] = featurestore.Record{UserID: fmt.Sprintf("u%06d", i), Features: map[string]any{
			"months_active": 12.0, "monthly_fee": 9.99, "paperless_billing": true, "plan_stream_tv": nil,
			"net_service": "fiber", "watch_hours_30d": 41.5, "avg_session_mins_7d": 33.0, "unique_devices_30d": 2.0,
			"skips_7d": 4.0, "rebuffer_events_7d": 1.0, "failed_payments_90d": 0.0, "support_tickets_90d": 1.0,
			"ticket_avg_resolution_hrs_90d": 5.5, "plan_stream_movies": false,
		}}
	}
	if err := s.Features.Write(ctx, "2024-01-31", 0, 1, recs); err != nil {
		b.Fatal(err)
	}
	if _, _, err := s.Features.Publish(ctx, "2024-01-31"); err != nil {
		b.Fatal(err)
	}
	i := 0
	for b.Loop() {
		if _, err := s.Features.Get(ctx, recs[i%users].UserID); err != nil {
			b.Fatal(err)
		}
		i += 7919 // a prime stride: spread reads over the file
	}
}
