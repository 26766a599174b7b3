package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// assertServes fails the test unless the online store serves exactly m:
// each of its customers with m's features, and nobody else among others
// (customers of other months who are not in m must be unknown).
func assertServes(t *testing.T, fs featurestore.Store, m *snapshot.Month, others ...*snapshot.Month) {
	t.Helper()
	ctx := t.Context()
	asOf := m.AsOf.Format(snapshot.DateLayout)
	in := make(map[string]bool, len(m.Customers))
	bad := 0
	for i := range m.Customers {
		c := &m.Customers[i]
		in[c.UserID] = true
		rec, err := fs.Get(ctx, c.UserID)
		if err != nil || rec.AsOf != asOf || !sameFeatures(rec.Features, c.RawFeatures()) {
			if bad++; bad <= 3 {
				t.Errorf("user %s of %s: served %s %v (err %v), want that month's features", c.UserID, asOf, rec.AsOf, rec.Features, err)
			}
		}
	}
	for _, o := range others {
		for i := range o.Customers {
			id := o.Customers[i].UserID
			if in[id] {
				continue
			}
			if rec, err := fs.Get(ctx, id); !errors.Is(err, featurestore.ErrNotFound) {
				if bad++; bad <= 6 {
					t.Errorf("user %s is not a customer of %s but is served (%s, err %v); want not found", id, asOf, rec.AsOf, err)
				}
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d users served wrongly: the online store is not exactly %s", bad, asOf)
	}
}

// sameFeatures compares two raw feature maps (values are float64, bool,
// string or nil: comparable).
func sameFeatures(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || v != w {
			return false
		}
	}
	return true
}

// TestIngestServesExactlyTheMonthsCustomers (#13 defect 9): customers who
// left before the newest month are not served old features; /predict must
// not know them.
func TestIngestServesExactlyTheMonthsCustomers(t *testing.T) {
	p, st := newPipeline(t)
	months, err := synth.Generate(synth.Config{Users: 1000, Months: 2, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	gone := 0
	in1 := map[string]bool{}
	for _, c := range months[1].Customers {
		in1[c.UserID] = true
	}
	for _, c := range months[0].Customers {
		if !in1[c.UserID] {
			gone++
		}
	}
	if gone == 0 {
		t.Fatal("the generated months have no departed customer: the test would prove nothing")
	}
	for _, m := range months {
		if _, err := pipelinetest.IngestMonth(t.Context(), p, m, t.TempDir(), pipeline.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	assertServes(t, st.Features, months[1], months[0])
}

// heldWrites is a feature store whose first write says it has arrived
// and then waits until release is closed: a process descheduled between
// deciding to write its month and writing it.
type heldWrites struct {
	featurestore.Store
	arrived chan<- struct{}
	release <-chan struct{}
}

func (h heldWrites) Write(ctx context.Context, asOf string, shard, shards int, recs []featurestore.Record) error {
	close(h.arrived)
	<-h.release
	return h.Store.Write(ctx, asOf, shard, shards, recs)
}

// TestConcurrentIngestsServeTheNewestMonth (#13 defect 2): two ingests of
// different months at once, each through its own open of the state (as two
// processes would), must leave the newer month online whichever of them
// writes its features last: one ingest is held just before its write while
// the other runs from start to end.
func TestConcurrentIngestsServeTheNewestMonth(t *testing.T) {
	months, err := synth.Generate(synth.Config{Users: 1000, Months: 2, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, last := range []int{0, 1} {
		t.Run(fmt.Sprintf("%s writes last", months[last].AsOf.Format(snapshot.DateLayout)), func(t *testing.T) {
			dir := t.TempDir()
			ingest := func(m *snapshot.Month, wrap func(featurestore.Store) featurestore.Store) error {
				st, err := localstore.Open(dir, localstore.Options{LockTimeout: time.Minute})
				if err != nil {
					return err
				}
				defer st.Close()
				p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: wrap(st.Features)}
				_, err = pipelinetest.IngestMonth(t.Context(), p, m, t.TempDir(), pipeline.IngestOptions{})
				return err
			}
			arrived, release := make(chan struct{}), make(chan struct{})
			held := make(chan error, 1)
			go func() {
				held <- ingest(months[last], func(s featurestore.Store) featurestore.Store {
					return heldWrites{Store: s, arrived: arrived, release: release}
				})
			}()
			select {
			case <-arrived:
			case err := <-held:
				t.Fatalf("the held ingest never wrote: %v", err)
			}
			other := ingest(months[1-last], func(s featurestore.Store) featurestore.Store { return s })
			close(release)
			if err := errors.Join(other, <-held); err != nil {
				t.Fatal(err)
			}
			st, err := localstore.Open(dir, localstore.Options{HoldLock: true})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			assertServes(t, st.Features, months[1])
		})
	}
}

// TestIngestRefusesFutureAsOf (#13 defect 8): an as_of after today (one day
// of tolerance for time zones) is a typo, and accepting it would freeze the
// online store on it: every real month would then be a backfill.
func TestIngestRefusesFutureAsOf(t *testing.T) {
	months, err := synth.Generate(synth.Config{Users: 200, Months: 1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2024, 3, 1, 23, 30, 0, 0, time.UTC)
	cases := []struct {
		asOf    string
		refused bool
	}{
		{"2024-02-29", false},
		{"2024-03-01", false}, // today
		{"2024-03-02", false}, // tomorrow: within the tolerance
		{"2024-03-03", true},
		{"2204-01-31", true}, // a typo for 2024-01-31
		{"2999-12-31", true},
	}
	for _, tc := range cases {
		t.Run(tc.asOf, func(t *testing.T) {
			p, st := newPipeline(t)
			p.Now = func() time.Time { return now }
			m := *months[0]
			m.AsOf, _ = time.Parse(snapshot.DateLayout, tc.asOf)
			_, err := pipelinetest.IngestMonth(t.Context(), p, &m, t.TempDir(), pipeline.IngestOptions{})
			var invalid *pipeline.InvalidInputError
			if !tc.refused {
				if err != nil {
					t.Fatalf("ingest: %v", err)
				}
				return
			}
			if !errors.As(err, &invalid) {
				t.Fatalf("ingest of as_of %s: err %v, want an InvalidInputError", tc.asOf, err)
			}
			if keys, _ := st.Blobs.List(t.Context(), ""); len(keys) != 0 {
				t.Errorf("a refused ingest stored %v", keys)
			}
			if _, err := st.Features.Get(t.Context(), m.Customers[0].UserID); err == nil {
				t.Error("a refused ingest put features online")
			}
		})
	}
}
