package gbdt_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/metrics"
)

func quickParams() gbdt.Params {
	p := gbdt.DefaultParams()
	p.Rounds = 150
	p.EarlyStoppingRounds = 0
	return p
}

func TestDeterministic(t *testing.T) {
	d := logisticData(t, 3000, 7)
	tests := []struct {
		name   string
		mutate func(*gbdt.Params)
	}{
		{"defaults", func(*gbdt.Params) {}},
		{"subsampling", func(p *gbdt.Params) { p.Subsample, p.ColSample = 0.5, 0.5 }},
		{"early stopping and refit", func(p *gbdt.Params) { p.EarlyStoppingRounds, p.Refit = 10, true }},
		{"balanced", func(p *gbdt.Params) { p.Balanced = true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := quickParams()
			tt.mutate(&p)
			a, err := train(t, d, p).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			b, err := train(t, d, p).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(a, b) {
				t.Fatal("two trainings with the same data, params and seed differ")
			}
			p.Seed++
			c, err := train(t, d, p).Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if (p.Subsample < 1 || p.ColSample < 1 || p.EarlyStoppingRounds > 0) && bytes.Equal(a, c) {
				t.Fatal("another seed gave the same model although sampling is random")
			}
		})
	}
}

// oracleAUC is the AUC of the true data-generating probabilities' ranking,
// estimated by retraining nothing: labels of logisticData are Bernoulli of
// a known z, so we recompute z from the columns.
func TestLearnsLogisticSignal(t *testing.T) {
	d := logisticData(t, 6000, 3)
	tr, te := subset(d, 0, 4000), subset(d, 4000, 6000)
	m := train(t, tr, gbdt.DefaultParams())
	got := auc(t, m, te)
	if got < 0.75 {
		t.Fatalf("held-out AUC = %.4f, want >= 0.75", got)
	}
	// A single-feature baseline (tenure alone) must be clearly beaten.
	tenureOnly := make([]float64, te.Rows())
	for i, v := range te.Cols[0] {
		tenureOnly[i] = -v
	}
	base, err := metrics.AUC(te.Label, tenureOnly)
	if err != nil {
		t.Fatal(err)
	}
	if got < base+0.05 {
		t.Fatalf("held-out AUC %.4f barely beats tenure alone (%.4f)", got, base)
	}
	if m.Meta.BestIteration < 10 || m.NumTrees() != m.Meta.BestIteration {
		t.Errorf("kept %d trees, best iteration %d", m.NumTrees(), m.Meta.BestIteration)
	}
	t.Logf("held-out AUC %.4f (tenure alone %.4f), %d trees", got, base, m.NumTrees())
}

// TestMissingnessIsSignal: a feature whose values are noise but whose
// missingness decides the label must be learned through the missing bin.
func TestMissingnessIsSignal(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	n := 3000
	x, other := make([]float64, n), make([]float64, n)
	y := make([]float64, n)
	for i := range n {
		x[i] = r.NormFloat64()
		other[i] = r.NormFloat64()
		missing := r.Float64() < 0.3
		pr := 0.15
		if missing {
			x[i] = math.NaN()
			pr = 0.85
		}
		if r.Float64() < pr {
			y[i] = 1
		}
	}
	d := gbdt.Dataset{Features: []gbdt.Feature{{Name: "x"}, {Name: "other"}}, Cols: [][]float64{x, other}, Label: y}
	m := train(t, d, quickParams())
	pMissing := m.PredictProba([]float64{math.NaN(), 0})
	for _, v := range []float64{-2, 0, 0.5, 2} {
		pPresent := m.PredictProba([]float64{v, 0})
		if pMissing < 0.7 || pPresent > 0.3 {
			t.Errorf("P(missing) = %.3f, P(x=%v) = %.3f; want about 0.85 and 0.15", pMissing, v, pPresent)
		}
	}
	// Round-trip: the missing-vs-present split has an infinite threshold.
	m2 := roundTrip(t, m)
	if got := m2.PredictProba([]float64{math.NaN(), 0}); got != pMissing {
		t.Errorf("after round trip P(missing) = %v, want %v", got, pMissing)
	}
}

func TestCategorical(t *testing.T) {
	tests := []struct {
		name string
		cats []string
		high map[int]bool // categories with high churn
	}{
		{"three categories, one-vs-rest", []string{"DSL", "Fiber optic", "No"}, map[int]bool{1: true}},
		{"eight categories, sorted partition", []string{"a", "b", "c", "d", "e", "f", "g", "h"}, map[int]bool{1: true, 4: true, 6: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(11, 12))
			n := 4000
			c, noise, y := make([]float64, n), make([]float64, n), make([]float64, n)
			for i := range n {
				k := r.IntN(len(tt.cats))
				c[i] = float64(k)
				noise[i] = r.Float64()
				pr := 0.1
				if tt.high[k] {
					pr = 0.7
				}
				if r.Float64() < pr {
					y[i] = 1
				}
			}
			spec := []gbdt.Feature{{Name: "cat", Categorical: true, Categories: tt.cats}, {Name: "noise"}}
			p := quickParams()
			p.Rounds = 60
			m := train(t, gbdt.Dataset{Features: spec, Cols: [][]float64{c, noise}, Label: y}, p)
			var lowMax, highMin = 0.0, 1.0
			for k := range tt.cats {
				pk := m.PredictProba([]float64{float64(k), 0.5})
				if tt.high[k] {
					highMin = min(highMin, pk)
				} else {
					lowMax = max(lowMax, pk)
				}
			}
			if highMin < 0.55 || lowMax > 0.25 {
				t.Errorf("high-churn categories min P = %.3f, others max P = %.3f; want ~0.7 and ~0.1", highMin, lowMax)
			}
			// Unknown and missing codes must not panic and give a probability.
			for _, v := range []float64{math.NaN(), -1, float64(len(tt.cats)), 1.5} {
				if pv := m.PredictProba([]float64{v, 0.5}); !(pv > 0 && pv < 1) {
					t.Errorf("P(code %v) = %v", v, pv)
				}
			}
		})
	}
}

func TestClassWeighting(t *testing.T) {
	d := logisticData(t, 4000, 9)
	var pos float64
	for _, y := range d.Label {
		pos += y
	}
	rate := pos / float64(d.Rows())
	meanPred := func(m *gbdt.Model) float64 {
		var s float64
		for _, p := range predict(t, m, d) {
			s += p
		}
		return s / float64(d.Rows())
	}
	recall := func(m *gbdt.Model) float64 {
		mt, err := metrics.Compute(d.Label, predict(t, m, d), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		return mt.Recall
	}
	p := quickParams()
	plain := train(t, d, p)
	p.Balanced = true
	balanced := train(t, d, p)
	p.Balanced, p.ScalePosWeight = false, 3
	scaled := train(t, d, p)

	if got := meanPred(plain); math.Abs(got-rate) > 0.03 {
		t.Errorf("unweighted mean prediction %.3f, positive rate %.3f", got, rate)
	}
	if got := meanPred(balanced); math.Abs(got-0.5) > 0.05 {
		t.Errorf("balanced mean prediction %.3f, want about 0.5", got)
	}
	if want := float64(d.Rows()-int(pos)) / pos; balanced.Meta.ScalePosWeight != want {
		t.Errorf("balanced scale_pos_weight = %v, want %v", balanced.Meta.ScalePosWeight, want)
	}
	if rp, rs := recall(plain), recall(scaled); rs <= rp+0.1 {
		t.Errorf("recall at 0.5: unweighted %.3f, scale_pos_weight=3 %.3f; weighting should raise it", rp, rs)
	}
}

func TestEarlyStopping(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 2000
	noise := gbdt.Dataset{Features: []gbdt.Feature{{Name: "a"}, {Name: "b"}}, Cols: [][]float64{make([]float64, n), make([]float64, n)}, Label: make([]float64, n)}
	for i := range n {
		noise.Cols[0][i], noise.Cols[1][i] = r.NormFloat64(), r.NormFloat64()
		if r.Float64() < 0.3 {
			noise.Label[i] = 1
		}
	}
	signal := logisticData(t, n, 4)
	tests := []struct {
		name     string
		d        gbdt.Dataset
		maxTrees int
	}{
		{"pure noise stops early", noise, 60},
		{"real signal stops before the cap", signal, 999},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gbdt.DefaultParams()
			p.Rounds, p.EarlyStoppingRounds, p.LearningRate = 1000, 20, 0.1
			m := train(t, tt.d, p)
			if m.NumTrees() > tt.maxTrees || m.NumTrees() != m.Meta.BestIteration {
				t.Errorf("%d trees (best iteration %d), want at most %d", m.NumTrees(), m.Meta.BestIteration, tt.maxTrees)
			}
			if m.Meta.HoldoutRows != 400 || m.Meta.FitRows != 1600 {
				t.Errorf("hold-out %d / fit %d rows, want 400 / 1600", m.Meta.HoldoutRows, m.Meta.FitRows)
			}
			p.Refit = true
			rf := train(t, tt.d, p)
			if want := int(math.Round(float64(m.Meta.BestIteration) / 0.8)); rf.NumTrees() != max(1, want) {
				t.Errorf("refit kept %d trees, want %d", rf.NumTrees(), want)
			}
		})
	}
}

func TestPredictRowAllocatesNothing(t *testing.T) {
	d := logisticData(t, 2000, 2)
	m := train(t, d, quickParams())
	x := row(d, 3)
	x[2] = math.NaN()
	large, _ := largeTreeModel(t)
	for _, mm := range []*gbdt.Model{m, large} {
		if n := testing.AllocsPerRun(100, func() { _ = mm.PredictProba(x) }); n != 0 {
			t.Fatalf("PredictProba (%d trees, compiled %t) allocates %v times per call", mm.NumTrees(), mm.Compiled(), n)
		}
	}
	dst := make([]float64, 0, 10)
	rows := [][]float64{x, row(d, 4)}
	if n := testing.AllocsPerRun(100, func() { dst, _ = m.PredictBatch(rows, dst) }); n != 0 {
		t.Fatalf("PredictBatch allocates %v times per call", n)
	}
}

func TestPredictBatchMatchesRows(t *testing.T) {
	d := logisticData(t, 1000, 2)
	m := train(t, d, quickParams())
	rows := make([][]float64, d.Rows())
	for i := range rows {
		rows[i] = row(d, i)
	}
	batch, err := m.PredictBatch(rows, nil)
	if err != nil {
		t.Fatal(err)
	}
	cols := predict(t, m, d)
	for i, x := range rows {
		if p := m.PredictProba(x); p != batch[i] || p != cols[i] {
			t.Fatalf("row %d: PredictProba %v, PredictBatch %v, PredictColumns %v", i, p, batch[i], cols[i])
		}
	}
	if _, err := m.PredictBatch([][]float64{{1, 2}}, nil); err == nil {
		t.Error("PredictBatch accepted a short row")
	}
}

func TestTrainRejects(t *testing.T) {
	good := logisticData(t, 200, 1)
	tests := []struct {
		name   string
		mutate func(*gbdt.Dataset, *gbdt.Params)
		want   error
	}{
		{"one class", func(d *gbdt.Dataset, _ *gbdt.Params) { d.Label = make([]float64, len(d.Label)) }, gbdt.ErrInvalidData},
		{"label 2", func(d *gbdt.Dataset, _ *gbdt.Params) { d.Label = append([]float64{2}, d.Label[1:]...) }, gbdt.ErrInvalidData},
		{"short column", func(d *gbdt.Dataset, _ *gbdt.Params) { d.Cols = append([][]float64{d.Cols[0][1:]}, d.Cols[1:]...) }, gbdt.ErrInvalidData},
		{"category code out of range", func(d *gbdt.Dataset, _ *gbdt.Params) {
			c := append([]float64{7}, d.Cols[5][1:]...)
			d.Cols = append(append(append([][]float64{}, d.Cols[:5]...), c), d.Cols[6:]...)
		}, gbdt.ErrInvalidData},
		{"negative weight", func(d *gbdt.Dataset, _ *gbdt.Params) {
			d.Weight = make([]float64, len(d.Label))
			d.Weight[3] = -1
		}, gbdt.ErrInvalidData},
		{"duplicate feature", func(d *gbdt.Dataset, _ *gbdt.Params) {
			d.Features = append([]gbdt.Feature{{Name: "fee"}}, d.Features[1:]...)
		}, gbdt.ErrInvalidData},
		{"zero learning rate", func(_ *gbdt.Dataset, p *gbdt.Params) { p.LearningRate = 0 }, gbdt.ErrInvalidParams},
		{"unbounded trees", func(_ *gbdt.Dataset, p *gbdt.Params) { p.MaxDepth, p.MaxLeaves = 0, 0 }, gbdt.ErrInvalidParams},
		{"max_bin 256", func(_ *gbdt.Dataset, p *gbdt.Params) { p.MaxBin = 256 }, gbdt.ErrInvalidParams},
		{"zero value params", func(_ *gbdt.Dataset, p *gbdt.Params) { *p = gbdt.Params{} }, gbdt.ErrInvalidParams},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			d.Features = append([]gbdt.Feature(nil), good.Features...)
			p := quickParams()
			tt.mutate(&d, &p)
			if _, err := gbdt.Train(d, p); !errors.Is(err, tt.want) {
				t.Fatalf("Train error = %v, want %v", err, tt.want)
			}
		})
	}
}
