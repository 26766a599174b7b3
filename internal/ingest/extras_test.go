package ingest_test

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/ingest"
)

// countingReader counts the Gets of one blob store, to tell which keys a
// reader touched.
type countingReader struct {
	blob.Store
	got []string
}

func (c *countingReader) Get(ctx context.Context, key string) ([]byte, error) {
	c.got = append(c.got, key)
	return c.Store.Get(ctx, key)
}

// TestStoredDriftSummary: the commit stores the month's drift summary,
// named by the manifest, byte for byte the summary of the whole month
// (the shards' summaries merged), whatever the number of shards.
func TestStoredDriftSummary(t *testing.T) {
	dir, want := genMonth(t, 1500)
	wantSum, err := drift.Summarize(want.DriftColumns())
	if err != nil {
		t.Fatal(err)
	}
	wantBytes, err := wantSum.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []int{1, 3, 5} {
		store := newStore(t)
		res, err := run(t, ingest.Dir(dir), store, k)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Commit.Manifest
		if m.DriftSummary != dataset.SummaryKey(m.AsOf, m.Fingerprint) {
			t.Fatalf("k=%d: manifest names drift summary %q", k, m.DriftSummary)
		}
		got, err := store.Get(context.Background(), m.DriftSummary)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, wantBytes) {
			t.Errorf("k=%d: the stored summary (%d bytes) is not the whole month's (%d bytes)", k, len(got), len(wantBytes))
		}
	}
}

// TestStoredSample: a month larger than the plan's sample budget gets its
// sample stored at the commit; dataset.Sample then reads that file alone,
// and gives exactly what reading the whole month gives, for the stored
// budget and any smaller one. A larger budget reads the month.
func TestStoredSample(t *testing.T) {
	dir, want := genMonth(t, 3000)
	const budget = 1000
	store := newStore(t)
	res, err := ingest.Run(context.Background(), ingest.Dir(dir), store, asOf0,
		ingest.Options{PlanOptions: ingest.PlanOptions{Shards: 4, SampleRows: budget}})
	if err != nil {
		t.Fatal(err)
	}
	m := res.Commit.Manifest
	if m.Sample == nil || m.Sample.Budget != budget || m.Sample.Rows != budget {
		t.Fatalf("manifest sample %+v, want %d rows", m.Sample, budget)
	}
	if res.Plan.SampleBound == 0 || res.Plan.Rows != len(want.Customers) {
		t.Fatalf("plan: bound %d, rows %d", res.Plan.SampleBound, res.Plan.Rows)
	}
	whole := *m
	whole.Sample = nil // the same month without its stored sample: read whole
	for _, b := range []int{budget, 999, 250, 1, 1001, 5000} {
		fromFile := &countingReader{Store: store}
		got, err := dataset.Sample(context.Background(), fromFile, m, b)
		if err != nil {
			t.Fatal(err)
		}
		ref, err := dataset.Sample(context.Background(), store, &whole, b)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Customers) != min(b, len(want.Customers)) {
			t.Errorf("budget %d: %d customers", b, len(got.Customers))
		}
		if got.Fingerprint() != ref.Fingerprint() {
			t.Errorf("budget %d: the stored sample gives other customers (or another order) than the month", b)
		}
		readFile := slices.Equal(fromFile.got, []string{m.Sample.Key})
		if readFile != (b <= budget) {
			t.Errorf("budget %d: read %v", b, fromFile.got)
		}
	}
}

// TestNoSampleWithinBudget: a month within the budget stores no sample
// (it is its own), nor does an ingest asked for none.
func TestNoSampleWithinBudget(t *testing.T) {
	dir, _ := genMonth(t, 600)
	for _, rows := range []int{600, 0, -1} {
		store := newStore(t)
		res, err := ingest.Run(context.Background(), ingest.Dir(dir), store, asOf0,
			ingest.Options{PlanOptions: ingest.PlanOptions{Shards: 2, SampleRows: rows}})
		if err != nil {
			t.Fatal(err)
		}
		if s := res.Commit.Manifest.Sample; s != nil {
			t.Errorf("SampleRows %d: a sample %+v was stored", rows, s)
		}
		keys, _ := store.List(context.Background(), "datasets/")
		for _, k := range keys {
			if strings.Contains(k, "/sample-") {
				t.Errorf("SampleRows %d: %s stored", rows, k)
			}
		}
	}
}
