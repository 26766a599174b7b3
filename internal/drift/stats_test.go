package drift_test

import (
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/drift"
)

// sampleSpec describes a deterministic sample, rebuilt identically by
// testdata/gen_stats.py: splitmix64 uniforms u in [0, 1), transformed.
type sampleSpec struct {
	Seed   uint64  `json:"seed"`
	N      int     `json:"n"`
	Kind   string  `json:"kind"`
	Shift  float64 `json:"shift"`
	Scale  float64 `json:"scale"`
	Levels int     `json:"levels"`
}

func (s sampleSpec) values(tb testing.TB) []float64 {
	tb.Helper()
	state := s.Seed
	out := make([]float64, s.N)
	for i := range out {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		z ^= z >> 31
		u := float64(z>>11) * 0x1p-53
		switch s.Kind {
		case "uniform":
			out[i] = s.Shift + float64(s.Scale*u)
		case "square":
			out[i] = s.Shift + float64(s.Scale*float64(u*u))
		case "int":
			out[i] = s.Shift + math.Floor(float64(s.Levels)*u)
		default:
			tb.Fatalf("unknown sample kind %q", s.Kind)
		}
	}
	return out
}

func (s sampleSpec) sorted(tb testing.TB) []float64 {
	tb.Helper()
	v := s.values(tb)
	slices.Sort(v)
	return v
}

type statsExpected struct {
	KS []struct {
		Name      string     `json:"name"`
		A         sampleSpec `json:"a"`
		B         sampleSpec `json:"b"`
		Statistic float64    `json:"statistic"`
		PValue    float64    `json:"pvalue"`
	} `json:"ks"`
	KSTwoSF []struct {
		N  int     `json:"n"`
		X  float64 `json:"x"`
		SF float64 `json:"sf"`
	} `json:"kstwo_sf"`
	Wasserstein []struct {
		Name     string     `json:"name"`
		A        sampleSpec `json:"a"`
		B        sampleSpec `json:"b"`
		Distance float64    `json:"distance"`
		Std      float64    `json:"std"`
		Normed   float64    `json:"normed"`
	} `json:"wasserstein"`
	Sturges []struct {
		Name      string     `json:"name"`
		A         sampleSpec `json:"a"`
		B         sampleSpec `json:"b"`
		Edges     []float64  `json:"edges"`
		RefCounts []int      `json:"ref_counts"`
		CurCounts []int      `json:"cur_counts"`
	} `json:"sturges"`
	ChiSquare []struct {
		Ref     []int   `json:"ref"`
		Cur     []int   `json:"cur"`
		PValue  float64 `json:"pvalue"`
		Drifted bool    `json:"drifted"`
	} `json:"chisquare"`
	ZTest []struct {
		RefFirst int     `json:"ref_first"`
		NRef     int     `json:"n_ref"`
		CurFirst int     `json:"cur_first"`
		NCur     int     `json:"n_cur"`
		PValue   float64 `json:"pvalue"`
		Drifted  bool    `json:"drifted"`
	} `json:"ztest"`
	JensenShannon []struct {
		P         []float64 `json:"p"`
		Q         []float64 `json:"q"`
		RefCounts []int     `json:"ref_counts"`
		CurCounts []int     `json:"cur_counts"`
		Distance  float64   `json:"distance"`
	} `json:"jensenshannon"`
}

func loadJSON(tb testing.TB, path string, v any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
}

func loadStats(tb testing.TB) *statsExpected {
	tb.Helper()
	var e statsExpected
	loadJSON(tb, "testdata/stats_expected.json", &e)
	if len(e.KS) == 0 || len(e.KSTwoSF) == 0 || len(e.Sturges) == 0 {
		tb.Fatal("testdata/stats_expected.json lacks cases")
	}
	return &e
}

// Tolerances: scores must agree with scipy to 1e-9 relative; the absolute
// slack only matters for values within rounding of zero.
const (
	relTol = 1e-9
	absTol = 1e-15
)

func assertClose(tb testing.TB, what string, got, want float64) {
	tb.Helper()
	if got == want {
		return
	}
	if math.IsNaN(got) || math.IsNaN(want) || math.Abs(got-want) > relTol*math.Max(math.Abs(got), math.Abs(want))+absTol {
		tb.Errorf("%s = %.17g, want %.17g (rel diff %.3g)", what, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

func TestKSAgainstScipy(t *testing.T) {
	for _, c := range loadStats(t).KS {
		t.Run(c.Name, func(t *testing.T) {
			x, y := c.A.sorted(t), c.B.sorted(t)
			assertClose(t, "statistic", drift.KSStatistic(x, y), c.Statistic)
			assertClose(t, "p-value", drift.KSPValue(x, y), c.PValue)
			// The test is symmetric in its samples.
			assertClose(t, "p-value (swapped)", drift.KSPValue(y, x), c.PValue)
		})
	}
}

func TestKolmogorovSmirnovSFAgainstScipy(t *testing.T) {
	for _, c := range loadStats(t).KSTwoSF {
		assertClose(t, "kstwo.sf("+ftoa(c.X)+", "+itoa(c.N)+")", drift.KolmogorovSmirnovSF(c.N, c.X), c.SF)
	}
}

func TestWassersteinAgainstScipy(t *testing.T) {
	for _, c := range loadStats(t).Wasserstein {
		t.Run(c.Name, func(t *testing.T) {
			x, y := c.A.sorted(t), c.B.sorted(t)
			assertClose(t, "distance", drift.WassersteinDistance(x, y), c.Distance)
			assertClose(t, "distance (swapped)", drift.WassersteinDistance(y, x), c.Distance)
			assertClose(t, "np.std", drift.PopulationStd(x), c.Std)
			assertClose(t, "normed", drift.WassersteinNormed(x, y), c.Normed)
		})
	}
}

func TestSturgesAgainstNumpy(t *testing.T) {
	for _, c := range loadStats(t).Sturges {
		t.Run(c.Name, func(t *testing.T) {
			x, y := c.A.sorted(t), c.B.sorted(t)
			lo, hi := min(x[0], y[0]), max(x[len(x)-1], y[len(y)-1])
			edges := drift.SturgesEdges(lo, hi, len(x)+len(y))
			if len(edges) != len(c.Edges) {
				t.Fatalf("%d edges %v, want %d %v", len(edges), edges, len(c.Edges), c.Edges)
			}
			for i := range edges {
				if edges[i] != c.Edges[i] { // bit-exact: values on an edge must land in numpy's bin
					t.Errorf("edge %d = %.17g, want %.17g", i, edges[i], c.Edges[i])
				}
			}
			if got := drift.HistogramCounts(x, c.Edges); !slices.Equal(got, c.RefCounts) {
				t.Errorf("reference counts %v, want %v", got, c.RefCounts)
			}
			if got := drift.HistogramCounts(y, c.Edges); !slices.Equal(got, c.CurCounts) {
				t.Errorf("current counts %v, want %v", got, c.CurCounts)
			}
		})
	}
}

func TestChiSquareAgainstEvidently(t *testing.T) {
	for _, c := range loadStats(t).ChiSquare {
		t.Run(itoas(c.Ref)+"_vs_"+itoas(c.Cur), func(t *testing.T) {
			got := drift.ChiSquarePValue(c.Ref, c.Cur, sum(c.Ref), sum(c.Cur))
			assertClose(t, "p-value", got, c.PValue)
			if (got < 0.05) != c.Drifted {
				t.Errorf("drifted = %v, want %v", got < 0.05, c.Drifted)
			}
		})
	}
}

func TestZTestAgainstEvidently(t *testing.T) {
	for _, c := range loadStats(t).ZTest {
		t.Run(itoas([]int{c.RefFirst, c.NRef, c.CurFirst, c.NCur}), func(t *testing.T) {
			got := drift.ZTestPValue(c.NRef-c.RefFirst, c.NCur-c.CurFirst, c.NRef, c.NCur)
			assertClose(t, "p-value", got, c.PValue)
			if (got < 0.05) != c.Drifted {
				t.Errorf("drifted = %v, want %v", got < 0.05, c.Drifted)
			}
		})
	}
}

func TestJensenShannonAgainstScipy(t *testing.T) {
	for i, c := range loadStats(t).JensenShannon {
		t.Run(itoa(i), func(t *testing.T) {
			p, q := c.P, c.Q
			if p == nil { // Evidently's path: raw frequencies of categorical samples
				nr, nc := float64(sum(c.RefCounts)), float64(sum(c.CurCounts))
				for j := range c.RefCounts {
					p = append(p, float64(c.RefCounts[j])/nr)
					q = append(q, float64(c.CurCounts[j])/nc)
				}
			}
			assertClose(t, "distance", drift.JensenShannon(p, q), c.Distance)
		})
	}
}
