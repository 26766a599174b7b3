package gbdt

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRawThresholdsMatchBins checks the core invariant of the artifact:
// walking the trees on raw values with the stored thresholds gives exactly
// what training computed in bin space, for every training row, including
// missing values, values at bin edges and categorical codes.
func TestRawThresholdsMatchBins(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	n := 3000
	spec := []Feature{{Name: "cont"}, {Name: "few"}, {Name: "cat", Categorical: true, Categories: []string{"x", "y", "z", "w", "v", "u"}}}
	d := Dataset{Features: spec, Cols: [][]float64{make([]float64, n), make([]float64, n), make([]float64, n)}, Label: make([]float64, n)}
	for i := range n {
		d.Cols[0][i] = math.Round(r.NormFloat64()*1000) / 100 // many ties, > 255 distinct values
		d.Cols[1][i] = float64(r.IntN(4))
		d.Cols[2][i] = float64(r.IntN(6))
		if r.Float64() < 0.1 {
			d.Cols[0][i] = math.NaN()
		}
		if r.Float64() < 0.05 {
			d.Cols[2][i] = math.NaN()
		}
		z := d.Cols[1][i] - 1.5 + math.Sin(d.Cols[2][i])
		if !math.IsNaN(d.Cols[0][i]) {
			z += d.Cols[0][i] / 5
		}
		if r.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	p := DefaultParams()
	p.Rounds, p.EarlyStoppingRounds, p.MaxCatOneHot = 40, 0, 2
	pr := prepare(&d, &p, &splitmix{s: 1})
	b := pr.b
	if b.nbins[0] != p.MaxBin+1 {
		t.Fatalf("continuous feature has %d bins, want %d", b.nbins[0], p.MaxBin+1)
	}
	bo := &booster{ctx: context.Background(), p: &p, pr: pr, rng: &splitmix{s: 1}, cat: []bool{false, false, true}}
	trees := bo.run(p.Rounds).trees
	m := newModel(spec, b, 0, trees, p, Meta{})
	x := make([]float64, 3)
	for i := range n {
		var want float64
		for k := range trees {
			want += trees[k].predict(b, int32(i))
		}
		for j := range x {
			x[j] = d.Cols[j][i]
		}
		if got := m.walkRaw(x); got != want {
			t.Fatalf("row %d %v: raw-value walk %v, bin walk %v", i, x, got, want)
		}
	}
	// Bin edges put every training value in the bin its upper bound implies.
	for i, v := range d.Cols[0] {
		bin := numBin(b.upper[0], v)
		if math.IsNaN(v) != (bin == 0) || bin > 0 && (v > b.upper[0][bin-1] || bin > 1 && v <= b.upper[0][bin-2]) {
			t.Fatalf("row %d: value %v in bin %d", i, v, bin)
		}
	}
}

// TestFloat32Cut: every float64 near a cut is on the side of it its
// float32 rounding is on, and the cut lies between the two values.
func TestFloat32Cut(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 5000 {
		a := (r.Float64() - 0.3) * math.Pow(10, float64(r.IntN(10)-3))
		b := a + math.Abs(a)*math.Pow(10, -float64(r.IntN(9))) + 1e-300
		c, ok := float32Cut(a, b)
		if float32(a) == float32(b) {
			if ok {
				t.Fatalf("cut %v between float32 twins %v and %v", c, a, b)
			}
			continue
		}
		if !ok || !(a <= c && c < b) {
			t.Fatalf("cut(%v, %v) = %v, %t", a, b, c, ok)
		}
		f := float32(c) // c rounds to the float32 just below the boundary
		for _, x := range []float64{c, math.Nextafter(c, math.Inf(1)), math.Nextafter(c, math.Inf(-1)), a, b, float64(f),
			float64(math.Nextafter32(f, float32(math.Inf(1))))} {
			if (x <= c) != (float32(x) <= f) {
				t.Fatalf("cut %v: %v <= cut is %t, float32 %v <= %v is %t", c, x, x <= c, float32(x), f, float32(x) <= f)
			}
		}
	}
}

func TestBinEdges(t *testing.T) {
	tests := []struct {
		name string
		col  []float64
		max  int
		want []float64
	}{
		// Cuts are the float32 rounding boundaries nearest the midpoints:
		// 1.5 and 2.5 are float32s, the boundary above is half a float32
		// step (2^-23 in [1, 2), 2^-22 in [2, 4)) higher.
		{"few distinct values", []float64{3, 1, 2, 2, math.NaN()}, 255, []float64{1.5 + 0x1p-24, 2.5 + 0x1p-23, math.Inf(1)}},
		{"all missing", []float64{math.NaN()}, 255, []float64{math.Inf(1)}},
		{"constant", []float64{4, 4}, 255, []float64{math.Inf(1)}},
		{"quantiles", []float64{1, 2, 3, 4, 5, 6, 7, 8}, 4, []float64{2.5 + 0x1p-23, 4.5 + 0x1p-22, 6.5 + 0x1p-22, math.Inf(1)}},
		{"heavy value", []float64{1, 1, 1, 1, 1, 1, 2, 3}, 2, []float64{1.5 + 0x1p-24, math.Inf(1)}},
		// Values closer than float32 can tell apart share a bin.
		{"float32 twins", []float64{1, 1 + 0x1p-30, 2}, 255, []float64{1.5 + 0x1p-24, math.Inf(1)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := binEdges(tt.col, tt.max)
			if len(got) != len(tt.want) {
				t.Fatalf("binEdges = %v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("binEdges = %v, want %v", got, tt.want)
				}
			}
		})
	}
}
