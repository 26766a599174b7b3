package drift_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/churnops/churnops/internal/drift"
)

// TestApproximationBounds compares the report of capped summaries (the
// continuous columns truncated) with the exact one on the same generated
// months: each approximate column's score, mean, std, min, quantiles and
// max must lie within the bounds its Approximation states, for caps from
// the default (200k customers: 14-15 bits kept) down to 64 distinct values
// (a few bits: errors large enough that a wrong bound would show; more
// columns get truncated), and the default cap's score bound must be small
// next to the 0.1 threshold.
func TestApproximationBounds(t *testing.T) {
	cases := []struct {
		n, maxDistinct int
		maxScoreBound  float64 // the bound must be at most this
	}{
		{20000, 4096, 5e-3},
		{20000, 512, 0.1},
		{20000, 64, 1},
		{200000, drift.MaxDistinct, 1e-3},
	}
	for _, c := range cases {
		t.Run(itoa(c.n)+"/cap="+itoa(c.maxDistinct), func(t *testing.T) {
			if c.n > 20000 && (testing.Short() || raceEnabled) {
				t.Skip("200k customers take minutes with -race")
			}
			ref, cur := months(t, c.n)
			compare := func(maxDistinct int) *drift.Report {
				t.Helper()
				rs, err := drift.SummarizeCapped(ref.DriftColumns(), maxDistinct)
				if err != nil {
					t.Fatal(err)
				}
				cs, err := drift.SummarizeCapped(cur.DriftColumns(), maxDistinct)
				if err != nil {
					t.Fatal(err)
				}
				rep, err := drift.CompareSummaries(rs, cs, drift.Options{})
				if err != nil {
					t.Fatal(err)
				}
				return rep
			}
			exact, approx := compare(drift.ExactCap), compare(c.maxDistinct)
			seen := 0
			for i, a := range approx.Columns {
				e := exact.Columns[i]
				if e.Approximate || e.Approximation != nil {
					t.Fatalf("%s: approximate with ExactCap", e.Column)
				}
				if !a.Approximate {
					if a.Score != e.Score {
						t.Errorf("%s: exact column scored %v, exact %v", a.Column, a.Score, e.Score)
					}
					continue
				}
				seen++
				ap := a.Approximation
				if ap == nil || ap.ScoreBound == nil {
					t.Fatalf("%s (%s): approximate without a score bound: %+v", a.Column, a.Test, ap)
				}
				if a.Test != e.Test || a.NReference != e.NReference || a.NCurrent != e.NCurrent {
					t.Errorf("%s: test %s n %d/%d, exact %s %d/%d", a.Column, a.Test, a.NReference, a.NCurrent, e.Test, e.NReference, e.NCurrent)
				}
				if d := math.Abs(a.Score - e.Score); d > *ap.ScoreBound {
					t.Errorf("%s: score %v is %.3g from the exact %v, past its bound %.3g", a.Column, a.Score, d, e.Score, *ap.ScoreBound)
				}
				if *ap.ScoreBound > c.maxScoreBound {
					t.Errorf("%s: score bound %.3g, want at most %.3g", a.Column, *ap.ScoreBound, c.maxScoreBound)
				}
				t.Logf("%s: %d/%d bits, score %.6g, exact %.6g: error %.3g, bound %.3g",
					a.Column, ap.ReferenceBits, ap.CurrentBits, a.Score, e.Score, math.Abs(a.Score-e.Score), *ap.ScoreBound)
				for _, side := range []struct {
					name          string
					a, e          drift.ColumnStats
					bits          int
					meanBd, stdBd float64
				}{
					{"reference", a.Reference, e.Reference, ap.ReferenceBits, ap.ReferenceMeanBound, ap.ReferenceStdBound},
					{"current", a.Current, e.Current, ap.CurrentBits, ap.CurrentMeanBound, ap.CurrentStdBound},
				} {
					an, en := side.a.Numeric, side.e.Numeric
					rel := math.Ldexp(1, -side.bits)
					if rel > ap.RelativeError {
						t.Errorf("%s %s: %d bits, relative error %v stated", a.Column, side.name, side.bits, ap.RelativeError)
					}
					scale := math.Max(math.Abs(en.Min), math.Abs(en.Max))
					for _, q := range []struct {
						what      string
						got, want float64
						bound     float64
					}{
						{"mean", an.Mean, en.Mean, side.meanBd},
						{"std", an.Std, en.Std, side.stdBd},
						{"min", an.Min, en.Min, rel * math.Abs(en.Min)},
						{"max", an.Max, en.Max, rel * math.Abs(en.Max)},
						{"p25", an.P25, en.P25, rel * scale},
						{"median", an.Median, en.Median, rel * scale},
						{"p75", an.P75, en.P75, rel * scale},
					} {
						if d := math.Abs(q.got - q.want); d > q.bound {
							t.Errorf("%s %s %s = %v, exact %v: off by %.3g, bound %.3g", a.Column, side.name, q.what, q.got, q.want, d, q.bound)
						}
					}
					if side.a.Rows != side.e.Rows || side.a.Missing != side.e.Missing {
						t.Errorf("%s %s: counts %+v, exact %+v", a.Column, side.name, side.a, side.e)
					}
				}
			}
			if seen < 2 {
				t.Errorf("%d approximate columns, want watch hours and session length at least", seen)
			}
		})
	}
}

// TestDistinctByBits checks the one-pass count of distinct truncated values
// that picks a column's bits against truncating at every width, on values
// of both signs, zeros, subnormals and close neighbours.
func TestDistinctByBits(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 14))
	samples := [][]float64{
		{},
		{1},
		{0, math.SmallestNonzeroFloat64, 5e-324 * 7, -math.SmallestNonzeroFloat64, 1, 1.5, 1.75, 2, -2, -3},
	}
	for range 20 {
		var x []float64
		for range 1 + r.IntN(3000) {
			switch r.IntN(4) {
			case 0:
				x = append(x, float64(r.IntN(100)-50))
			case 1:
				x = append(x, 30+10*r.NormFloat64())
			case 2:
				x = append(x, math.Nextafter(1, 2)+float64(r.IntN(8))*0x1p-50)
			default:
				x = append(x, -r.ExpFloat64()*1e-300)
			}
		}
		samples = append(samples, x)
	}
	for i, x := range samples {
		fast, slow := drift.DistinctByBits(x)
		if fast != slow {
			t.Errorf("sample %d: one pass %v, truncating %v", i, fast, slow)
		}
	}
}
