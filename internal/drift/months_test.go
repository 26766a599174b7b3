package drift_test

import (
	"encoding/csv"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/snapshot/snapshottest"

	"github.com/churnops/churnops/internal/snapshot"
)

// dataDir is where the lab's sample months live when the tests run from
// this package's directory (the benchmark falls back to synthetic columns
// without them).
const dataDir = "../../../shared/data/streamflow"

var monthFiles = []string{"users", "subscriptions", "usage_agg_30d", "payments_agg_90d", "support_agg_90d", "labels"}

// driftColumnNames is the order of snapshot.Month.DriftColumns.
func driftColumnNames() []string {
	return append(append([]string(nil), snapshot.FeatureNames...), snapshot.Label)
}

// rawMonth is a month's CSV columns by name, rows in file order.
type rawMonth map[string][]string

// readMonth reads the six CSVs of a sample month, skipping the test when
// the data is not on this machine. It checks that the files agree on the
// user_id of every row, as the lab's layout promises.
func readMonth(tb testing.TB, name string) rawMonth {
	tb.Helper()
	dir := snapshottest.Month(tb, name)
	m := rawMonth{}
	for _, f := range monthFiles {
		fh, err := os.Open(filepath.Join(dir, f+".csv"))
		if err != nil {
			tb.Fatal(err)
		}
		recs, err := csv.NewReader(fh).ReadAll()
		fh.Close()
		if err != nil {
			tb.Fatalf("%s/%s.csv: %v", name, f, err)
		}
		header := recs[0]
		for j, col := range header {
			vals := make([]string, len(recs)-1)
			for i, r := range recs[1:] {
				vals[i] = r[j]
			}
			if col == "user_id" {
				if prev, ok := m[col]; ok {
					for i := range prev {
						if prev[i] != vals[i] {
							tb.Fatalf("%s/%s.csv row %d: user_id %s, want %s", name, f, i, vals[i], prev[i])
						}
					}
				}
			}
			m[col] = vals
		}
	}
	return m
}

// slice is rows [start, end) of a month (end < 0: to the last row).
type slice struct {
	month      rawMonth
	start, end int
}

// columns builds the drift columns of the concatenated slices, typed as
// the snapshot package types them: numbers numerical (empty = NaN),
// booleans and strings categorical ("" = missing).
func columns(tb testing.TB, parts ...slice) []snapshot.Column {
	tb.Helper()
	var cols []snapshot.Column
	for _, name := range driftColumnNames() {
		kind, ok := snapshot.KindOf(name)
		if !ok {
			tb.Fatalf("unknown column %s", name)
		}
		col := snapshot.Column{Name: name, Kind: kind}
		for _, p := range parts {
			raw, ok := p.month[name]
			if !ok {
				tb.Fatalf("no column %s in the CSVs", name)
			}
			end := p.end
			if end < 0 {
				end = len(raw)
			}
			for _, s := range raw[p.start:end] {
				if kind == snapshot.Categorical {
					col.Cat = append(col.Cat, s)
					continue
				}
				v := math.NaN()
				if s != "" {
					f, err := strconv.ParseFloat(s, 64)
					if err != nil {
						tb.Fatalf("%s: %v", name, err)
					}
					v = f
				}
				col.Num = append(col.Num, v)
			}
		}
		cols = append(cols, col)
	}
	return cols
}
