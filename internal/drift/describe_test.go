package drift_test

import (
	"math"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// TestColumnStatsAgainstNumpy checks a numerical column's statistics in
// the report against numpy on the same samples (testdata/gen_describe.py):
// quantiles, min and max bit for bit (np.quantile's linear method is
// reproduced step by step), mean and std to the tests' tolerance (numpy
// sums rows pairwise, the report sums distinct values with compensation).
func TestColumnStatsAgainstNumpy(t *testing.T) {
	var want struct {
		Cases []struct {
			Name                                  string     `json:"name"`
			Sample                                sampleSpec `json:"sample"`
			Mean, Std, Min, P25, Median, P75, Max float64
		} `json:"cases"`
	}
	loadJSON(t, "testdata/describe_expected.json", &want)
	if len(want.Cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range want.Cases {
		t.Run(c.Name, func(t *testing.T) {
			x := c.Sample.values(t)
			col := []snapshot.Column{{Name: "x", Kind: snapshot.Numerical, Num: append(x, math.NaN(), math.Inf(1))}}
			rep, err := drift.Compare(col, col, drift.Options{})
			if err != nil {
				t.Fatal(err)
			}
			s := rep.Columns[0].Reference
			if s.Rows != len(x)+2 || s.Missing != 1 || s.Infinite != 1 {
				t.Errorf("rows %d missing %d infinite %d, want %d, 1, 1", s.Rows, s.Missing, s.Infinite, len(x)+2)
			}
			slices.Sort(x)
			if d := len(slices.Compact(x)); s.Distinct != d {
				t.Errorf("distinct = %d, want %d", s.Distinct, d)
			}
			n := s.Numeric
			for _, q := range []struct {
				what      string
				got, want float64
			}{{"min", n.Min, c.Min}, {"p25", n.P25, c.P25}, {"median", n.Median, c.Median}, {"p75", n.P75, c.P75}, {"max", n.Max, c.Max}} {
				if q.got != q.want {
					t.Errorf("%s = %.17g, numpy %.17g", q.what, q.got, q.want)
				}
			}
			assertClose(t, "mean", n.Mean, c.Mean)
			assertClose(t, "std", n.Std, c.Std)
		})
	}
}

// TestColumnStatsCategorical checks missing counts, top categories (most
// frequent first, ties by name, at most five) and the constant-column note.
func TestColumnStatsCategorical(t *testing.T) {
	cat := func(vals ...string) []snapshot.Column {
		return []snapshot.Column{{Name: "c", Kind: snapshot.Categorical, Cat: vals}}
	}
	ref := cat("b", "a", "", "c", "b", "d", "e", "f", "", "a", "f")
	cur := cat("b", "b", "b", "", "", "", "g", "a", "a", "a", "c")
	rep, err := drift.Compare(ref, cur, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	r, c := rep.Columns[0].Reference, rep.Columns[0].Current
	if r.Rows != 11 || r.Missing != 2 || r.Distinct != 6 || c.Missing != 3 || c.Distinct != 4 {
		t.Errorf("reference %+v, current %+v", r, c)
	}
	wantTop := []drift.CategoryCount{{Value: "a", Count: 2}, {Value: "b", Count: 2}, {Value: "f", Count: 2}, {Value: "c", Count: 1}, {Value: "d", Count: 1}}
	if !slices.Equal(r.Top, wantTop) {
		t.Errorf("top %v, want %v", r.Top, wantTop)
	}
	if r.Numeric != nil || rep.Columns[0].Constant {
		t.Errorf("numeric %v, constant %v", r.Numeric, rep.Columns[0].Constant)
	}

	for _, tc := range []struct {
		name     string
		ref, cur []snapshot.Column
		want     bool
	}{
		{"same single value", cat("x", "", "x"), cat("x", "x"), true},
		{"one value each, not the same", cat("x", "x"), cat("y", "y"), false},
		{"constant number", []snapshot.Column{{Name: "n", Num: []float64{2, 2, math.NaN()}}}, []snapshot.Column{{Name: "n", Num: []float64{2}}}, true},
		{"two values", []snapshot.Column{{Name: "n", Num: []float64{2, 3}}}, []snapshot.Column{{Name: "n", Num: []float64{2}}}, false},
	} {
		rep, err := drift.Compare(tc.ref, tc.cur, drift.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Columns[0].Constant; got != tc.want {
			t.Errorf("%s: constant = %v, want %v", tc.name, got, tc.want)
		}
	}
}
