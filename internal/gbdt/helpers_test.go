package gbdt_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/metrics"
)

// logisticData draws n rows from a known logistic model over five numeric
// features (one with 15% missing values), a 5-category feature and a noise
// feature, so that a learner has a real, recoverable signal.
func logisticData(tb testing.TB, n int, seed uint64) gbdt.Dataset {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 99))
	spec := []gbdt.Feature{
		{Name: "tenure"}, {Name: "fee"}, {Name: "usage"}, {Name: "tickets"}, {Name: "noise"},
		{Name: "plan", Categorical: true, Categories: []string{"a", "b", "c", "d", "e"}},
		{Name: "flag"},
	}
	planEffect := []float64{-1, 0.8, -0.2, 1.5, 0}
	d := gbdt.Dataset{Features: spec, Cols: make([][]float64, len(spec)), Label: make([]float64, n)}
	for j := range d.Cols {
		d.Cols[j] = make([]float64, n)
	}
	for i := range n {
		tenure := r.Float64() * 72
		fee := 20 + r.Float64()*100
		usage := r.NormFloat64()
		tickets := float64(r.IntN(5))
		plan := r.IntN(5)
		flag := float64(r.IntN(2))
		z := -0.5 - 0.04*tenure + 0.02*(fee-70) - 0.6*usage + 0.35*tickets + planEffect[plan] + 0.5*flag
		if usage > 1 { // a non-linear bump a tree can find
			z += 0.8
		}
		d.Cols[0][i], d.Cols[1][i], d.Cols[2][i], d.Cols[3][i] = tenure, fee, usage, tickets
		d.Cols[4][i] = r.NormFloat64()
		d.Cols[5][i] = float64(plan)
		d.Cols[6][i] = flag
		if r.Float64() < 0.15 {
			d.Cols[2][i] = math.NaN()
		}
		if r.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	return d
}

// subset returns rows [lo, hi) of d.
func subset(d gbdt.Dataset, lo, hi int) gbdt.Dataset {
	out := gbdt.Dataset{Features: d.Features, Cols: make([][]float64, len(d.Cols)), Label: d.Label[lo:hi]}
	for j, c := range d.Cols {
		out.Cols[j] = c[lo:hi]
	}
	if d.Weight != nil {
		out.Weight = d.Weight[lo:hi]
	}
	return out
}

func train(tb testing.TB, d gbdt.Dataset, p gbdt.Params) *gbdt.Model {
	tb.Helper()
	m, err := gbdt.Train(d, p)
	if err != nil {
		tb.Fatalf("Train: %v", err)
	}
	return m
}

// roundTrip returns m after Marshal and Unmarshal, as a loaded artifact.
func roundTrip(tb testing.TB, m *gbdt.Model) *gbdt.Model {
	tb.Helper()
	b, err := m.Marshal()
	if err != nil {
		tb.Fatalf("Marshal: %v", err)
	}
	loaded, err := gbdt.Unmarshal(b)
	if err != nil {
		tb.Fatalf("Unmarshal: %v", err)
	}
	return loaded
}

func predict(tb testing.TB, m *gbdt.Model, d gbdt.Dataset) []float64 {
	tb.Helper()
	p, err := m.PredictColumns(d.Cols)
	if err != nil {
		tb.Fatalf("PredictColumns: %v", err)
	}
	return p
}

func auc(tb testing.TB, m *gbdt.Model, d gbdt.Dataset) float64 {
	tb.Helper()
	a, err := metrics.AUC(d.Label, predict(tb, m, d))
	if err != nil {
		tb.Fatalf("AUC: %v", err)
	}
	return a
}

// row returns row i of d in the layout PredictProba takes.
func row(d gbdt.Dataset, i int) []float64 {
	x := make([]float64, len(d.Cols))
	for j, c := range d.Cols {
		x[j] = c[i]
	}
	return x
}
