package gbdt_test

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// TestDeterministicAcrossCores: training splits its work over GOMAXPROCS
// goroutines, and the model must not depend on how many there are. Every
// piece list runs in parallel here, and the dataset has several blocks of
// rows (histograms per feature; blocks for gradients, partitions, the
// hold-out, binning).
func TestDeterministicAcrossCores(t *testing.T) {
	d := logisticData(t, 24000, 17)
	caps := []gbdt.Capacity{
		{MaxLeaves: 31, LearningRate: 0.3, Rounds: 30, MinSamplesLeaf: 20, Lambda: 1, ColSample: 1},
		{MaxLeaves: 4, MaxDepth: 2, LearningRate: 0.1, Rounds: 40, MinSamplesLeaf: 50, Lambda: 1, ColSample: 0.5},
	}
	tests := []struct {
		name   string
		mutate func(*gbdt.Params)
		caps   []gbdt.Capacity
	}{
		{"no hold-out", func(p *gbdt.Params) { p.EarlyStoppingRounds = 0 }, nil},
		{"subsampling and early stopping", func(p *gbdt.Params) { p.Subsample, p.ColSample, p.EarlyStoppingRounds = 0.7, 0.6, 5 }, nil},
		{"search, extended on all rows", func(p *gbdt.Params) { p.EarlyStoppingRounds, p.ExtendOnAll, p.Balanced = 5, true, true }, caps},
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	defer gbdt.SetMinParallelWork(1)() // every piece list in parallel, however small
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := gbdt.DefaultParams()
			p.Rounds, p.MaxLeaves, p.MaxDepth = 15, 31, 0
			tt.mutate(&p)
			var first []byte
			for _, procs := range []int{1, 2, 4} {
				runtime.GOMAXPROCS(procs)
				m, err := gbdt.Search(d, p, tt.caps)
				if err != nil {
					t.Fatal(err)
				}
				b, err := m.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				if first == nil {
					first = b
					continue
				}
				if !bytes.Equal(b, first) {
					t.Fatalf("GOMAXPROCS=%d gave another model than GOMAXPROCS=1", procs)
				}
			}
		})
	}
}

// TestSearch: on few noisy rows the large trees stop early and the small
// ones are tried and win; on many rows whose label needs interactions the
// large trees keep improving into the last tenth of their rounds and the search stops
// there.
func TestSearch(t *testing.T) {
	caps := []gbdt.Capacity{
		{MaxLeaves: 31, LearningRate: 0.1, Rounds: 60, MinSamplesLeaf: 20, Lambda: 1, ColSample: 1},
		{MaxLeaves: 4, MaxDepth: 2, LearningRate: 0.05, Rounds: 1000, MinSamplesLeaf: 50, Lambda: 1, ColSample: 0.5},
	}
	p := gbdt.DefaultParams()
	p.EarlyStoppingRounds, p.ExtendOnAll = 30, true
	tests := []struct {
		name   string
		d      gbdt.Dataset
		tried  int
		winner int
	}{
		{"few rows: small trees", logisticData(t, 3000, 8), 2, 1},
		{"many rows with interactions: large trees", interactionData(t, 20000, 8), 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := gbdt.Search(tt.d, p, caps)
			if err != nil {
				t.Fatal(err)
			}
			cands := m.Meta.Candidates
			if len(cands) != tt.tried {
				t.Fatalf("tried %+v, want %d candidates", cands, tt.tried)
			}
			win := caps[tt.winner]
			if got := m.Params; got.MaxLeaves != win.MaxLeaves || got.LearningRate != win.LearningRate || got.ColSample != win.ColSample {
				t.Errorf("model params %+v, want capacity %+v", got, win)
			}
			for i, c := range cands {
				if c.Capacity != caps[i] || c.BestIteration < 1 || !(c.HoldoutLogLoss > 0) {
					t.Errorf("candidate %d: %+v", i, c)
				}
				if c.HoldoutLogLoss < cands[tt.winner].HoldoutLogLoss {
					t.Errorf("candidate %d has a lower hold-out loss than the winner: %+v", i, cands)
				}
			}
			if i := tt.winner; cands[i].BestIteration != m.Meta.BestIteration || cands[i].HoldoutLogLoss != m.Meta.HoldoutLogLoss {
				t.Errorf("meta %+v, winner %+v", m.Meta, cands[i])
			}
			// ExtendOnAll: best * hold-out / fit more rounds.
			meta := m.Meta
			if want := meta.BestIteration + int(math.Round(float64(meta.BestIteration)*float64(meta.HoldoutRows)/float64(meta.FitRows))); m.NumTrees() != want {
				t.Errorf("%d trees, best iteration %d: want %d", m.NumTrees(), m.Meta.BestIteration, want)
			}
			if m.Meta.FitRows+m.Meta.HoldoutRows != tt.d.Rows() {
				t.Errorf("fit %d + hold-out %d rows of %d", m.Meta.FitRows, m.Meta.HoldoutRows, tt.d.Rows())
			}
			t.Logf("%+v", cands)
		})
	}
}

// TestExtendOnAllLearnsFromHoldout: the rounds after the best one see the
// hold-out rows, so the model differs from the early-stopped one and from
// a model that would only train longer on the fit rows.
func TestExtendOnAllLearnsFromHoldout(t *testing.T) {
	d := logisticData(t, 4000, 9)
	p := gbdt.DefaultParams()
	p.EarlyStoppingRounds = 20
	stopped := train(t, d, p)
	p.ExtendOnAll = true
	ext := train(t, d, p)
	if ext.Meta.BestIteration != stopped.Meta.BestIteration || ext.NumTrees() <= stopped.NumTrees() {
		t.Fatalf("extended: %d trees, best %d; early-stopped: %d trees, best %d",
			ext.NumTrees(), ext.Meta.BestIteration, stopped.NumTrees(), stopped.Meta.BestIteration)
	}
	// The first BestIteration trees are the same trees: extended
	// predictions minus the early-stopped ones are the added trees' sum,
	// which is not zero on rows of the hold-out.
	x := row(d, 0)
	if ext.PredictRaw(x) == stopped.PredictRaw(x) {
		t.Error("extension changed nothing")
	}
}

func TestSearchRejects(t *testing.T) {
	d := logisticData(t, 500, 1)
	p := gbdt.DefaultParams()
	caps := []gbdt.Capacity{{MaxLeaves: 4, MaxDepth: 2, LearningRate: 0.1, Rounds: 10, MinSamplesLeaf: 5, Lambda: 1, ColSample: 1}}
	p.EarlyStoppingRounds = 0
	if _, err := gbdt.Search(d, p, caps); !errors.Is(err, gbdt.ErrInvalidParams) {
		t.Errorf("search without early stopping: %v", err)
	}
	p.EarlyStoppingRounds = 5
	caps[0].LearningRate = 0
	if _, err := gbdt.Search(d, p, caps); !errors.Is(err, gbdt.ErrInvalidParams) {
		t.Errorf("capacity with learning rate 0: %v", err)
	}
}

// interactionData draws n rows whose log-odds mix products of features:
// depth-2 trees cannot express them, large trees take many rounds to.
func interactionData(tb testing.TB, n int, seed uint64) gbdt.Dataset {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 7))
	spec := []gbdt.Feature{{Name: "a"}, {Name: "b"}, {Name: "c"}, {Name: "d"}, {Name: "e"}}
	d := gbdt.Dataset{Features: spec, Cols: make([][]float64, len(spec)), Label: make([]float64, n)}
	for j := range d.Cols {
		d.Cols[j] = make([]float64, n)
	}
	for i := range n {
		var x [5]float64
		for j := range x {
			x[j] = r.Float64()
			d.Cols[j][i] = x[j]
		}
		z := 2*math.Sin(6*x[0])*math.Cos(6*x[1]) + 8*(x[2]-0.5)*(x[3]-0.5)*math.Sin(5*x[4]) + x[4]
		if r.Float64() < 1/(1+math.Exp(-z)) {
			d.Label[i] = 1
		}
	}
	return d
}

// TestEarlyStoppingMaxRows: the hold-out is EarlyStoppingFraction of the
// rows, at most EarlyStoppingMaxRows (one class's rounding either way).
func TestEarlyStoppingMaxRows(t *testing.T) {
	d := logisticData(t, 3000, 4)
	for _, tt := range []struct{ max, want int }{{0, 600}, {1000, 600}, {300, 300}} {
		p := gbdt.DefaultParams()
		p.Rounds, p.EarlyStoppingRounds, p.EarlyStoppingMaxRows = 20, 5, tt.max
		m := train(t, d, p)
		if got := m.Meta.HoldoutRows; got < tt.want-1 || got > tt.want+1 || m.Meta.FitRows+got != 3000 {
			t.Errorf("max %d: hold-out %d, fit %d rows; want a hold-out of %d", tt.max, got, m.Meta.FitRows, tt.want)
		}
	}
	p := gbdt.DefaultParams()
	p.EarlyStoppingMaxRows = -1
	if _, err := gbdt.Train(d, p); !errors.Is(err, gbdt.ErrInvalidParams) {
		t.Errorf("negative max rows: %v", err)
	}
}
