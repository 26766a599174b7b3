package ingest_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// TestShardedEqualsUnsharded ingests generated months with 1, 3 and 7
// shards and checks that the shards together are exactly snapshot.Load's
// month: every customer once, in its shard, joined identically, each
// shard in users.csv order; with one shard, the same fingerprint and row
// order as before sharding.
func TestShardedEqualsUnsharded(t *testing.T) {
	dir := t.TempDir()
	cfg := synth.Config{Users: 4000, Months: 2, Seed: 3, Drift: map[int]synth.Drift{1: synth.FeatureShift}}
	if _, err := synth.GenerateToDir(dir, cfg, synth.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Months {
		want, err := snapshot.Load(filepath.Join(dir, synth.MonthDir(i)), synth.AsOf(i))
		if err != nil {
			t.Fatal(err)
		}
		order := map[string]int{}
		byID := map[string]snapshot.Customer{}
		for j, c := range want.Customers {
			order[c.UserID] = j
			byID[c.UserID] = c
		}
		for _, k := range []int{1, 3, 7} {
			t.Run(synth.MonthDir(i)+"/k="+string(rune('0'+k)), func(t *testing.T) {
				store := newLocalStore(t)
				src := ingest.Dir(filepath.Join(dir, synth.MonthDir(i)))
				res, err := ingest.Run(context.Background(), src, store, synth.AsOf(i), ingest.Options{PlanOptions: ingest.PlanOptions{Shards: k}})
				if err != nil {
					t.Fatal(err)
				}
				if res.Commit.AlreadyIngested || res.Commit.Manifest.K != k {
					t.Fatalf("commit %+v", res.Commit)
				}
				m, shards := storedMonth(t, store, synth.AsOf(i).Format(snapshot.DateLayout))
				if m.Rows != len(want.Customers) {
					t.Errorf("manifest rows %d, want %d", m.Rows, len(want.Customers))
				}
				seen := map[string]bool{}
				for s, cs := range shards {
					last := -1
					for _, c := range cs {
						if seen[c.UserID] {
							t.Fatalf("%s in two shards", c.UserID)
						}
						seen[c.UserID] = true
						if got := shard.Of(c.UserID, k); got != s {
							t.Errorf("%s stored in shard %d, belongs to %d", c.UserID, s, got)
						}
						if !sameCustomer(c, byID[c.UserID]) {
							t.Errorf("%s joined differently:\n%+v\n%+v", c.UserID, c, byID[c.UserID])
						}
						if order[c.UserID] < last {
							t.Errorf("shard %d: %s out of users.csv order", s, c.UserID)
						}
						last = order[c.UserID]
					}
				}
				if len(seen) != len(want.Customers) {
					t.Errorf("%d customers stored, want %d", len(seen), len(want.Customers))
				}
				if k == 1 && m.Fingerprint != want.Fingerprint() {
					t.Errorf("one-shard fingerprint %s, Load's %s", m.Fingerprint, want.Fingerprint())
				}
				sample, err := dataset.Sample(context.Background(), store, m, 0)
				if err != nil {
					t.Fatal(err)
				}
				if k == 1 && sample.Fingerprint() != want.Fingerprint() {
					t.Error("the sample of a one-shard month under the budget is not Load's month in Load's order")
				}
			})
		}
	}
}
