package gbdt_test

import (
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

func BenchmarkTrainSynthetic(b *testing.B) {
	d := logisticData(b, 5300, 1)
	p := gbdt.DefaultParams()
	p.EarlyStoppingRounds = 0
	p.Rounds = 300
	for b.Loop() {
		if _, err := gbdt.Train(d, p); err != nil {
			b.Fatal(err)
		}
	}
}

// benchModel is 300 trees of the shape churnops trains (depth 2).
func benchModel(b *testing.B) (*gbdt.Model, gbdt.Dataset) {
	b.Helper()
	d := logisticData(b, 5300, 1)
	p := gbdt.DefaultParams()
	p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.ColSample = 2, 4, 50, 0.5
	p.EarlyStoppingRounds = 0
	p.Rounds = 300
	return train(b, d, p), d
}

// largeTreeModel is the shape the churn recipe picks on a month of
// millions: 60 leaf-wise trees of up to 31 leaves.
func largeTreeModel(tb testing.TB) (*gbdt.Model, gbdt.Dataset) {
	tb.Helper()
	d := logisticData(tb, 20000, 1)
	p := gbdt.DefaultParams()
	p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.LearningRate, p.ColSample = 0, 31, 20, 0.2, 1
	p.EarlyStoppingRounds, p.Rounds = 0, 60
	return train(tb, d, p), d
}

// BenchmarkPredictRowLargeTrees scores one row with the large-tree shape,
// which walks its trees (too many cuts for the lookup tables).
func BenchmarkPredictRowLargeTrees(b *testing.B) {
	m, d := largeTreeModel(b)
	x := row(d, 7)
	var sink float64
	for b.Loop() {
		sink += m.PredictRaw(x)
	}
	_ = sink
}

// BenchmarkPredictRow compares the lookup tables PredictRaw reads with
// walking the trees, on the same row of a 300-tree model.
func BenchmarkPredictRow(b *testing.B) {
	m, d := benchModel(b)
	if !m.Compiled() {
		b.Fatal("the model did not compile to tables")
	}
	x := row(d, 7)
	for _, bb := range []struct {
		name string
		f    func([]float64) float64
	}{{"tables", m.PredictRaw}, {"walk", m.WalkRaw}} {
		b.Run(bb.name, func(b *testing.B) {
			var sink float64
			for b.Loop() {
				sink += bb.f(x)
			}
			_ = sink
		})
	}
}

func BenchmarkPredictBatch(b *testing.B) {
	m, d := benchModel(b)
	rows := make([][]float64, 1000)
	for i := range rows {
		rows[i] = row(d, i)
	}
	dst := make([]float64, 0, len(rows))
	b.ResetTimer()
	for b.Loop() {
		var err error
		if dst, err = m.PredictBatch(rows, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}

// BenchmarkContributions explains one row of the 300-tree bench model from
// its contributions' tables and by walking its trees with Algorithm 2, next
// to BenchmarkPredictRow.
func BenchmarkContributions(b *testing.B) {
	m, d := benchModel(b)
	x := row(d, 7)
	out := make([]float64, m.NumFeatures()+1)
	if err := m.PrepareContributions(); err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name string
		f    func(x, out []float64) error
	}{{"tables", m.Contributions}, {"walk", m.WalkContributions}} {
		b.Run(bb.name, func(b *testing.B) {
			for b.Loop() {
				if err := bb.f(x, out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkContributionsLargeTrees explains rows of the large-tree shape
// (60 trees of up to 31 leaves: walked, explained from path tables) next to
// predicting them and to Algorithm 2's walk, in one run; it reports the
// path tables' memory.
func BenchmarkContributionsLargeTrees(b *testing.B) {
	m, d := largeTreeModel(b)
	if m.Compiled() {
		b.Fatal("the large-tree model compiled to lookup tables")
	}
	if err := m.PrepareContributions(); err != nil {
		b.Fatal(err)
	}
	bytes, err := m.ExplainerBytes()
	if err != nil {
		b.Fatal(err)
	}
	rows := make([][]float64, 1000)
	for i := range rows {
		rows[i] = row(d, i)
	}
	out := make([]float64, m.NumFeatures()+1)
	for _, bb := range []struct {
		name string
		f    func(x []float64) error
	}{
		{"predict", func(x []float64) error { m.PredictRaw(x); return nil }},
		{"paths", func(x []float64) error { return m.Contributions(x, out) }},
		{"walk", func(x []float64) error { return m.WalkContributions(x, out) }},
	} {
		b.Run(bb.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if err := bb.f(rows[i%len(rows)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			if bb.name == "paths" {
				b.ReportMetric(float64(bytes), "table-bytes")
			}
		})
	}
}

// BenchmarkPrepareContributionsLargeTrees is the load-time cost of the
// large-tree shape's path tables.
func BenchmarkPrepareContributionsLargeTrees(b *testing.B) {
	m, _ := largeTreeModel(b)
	for b.Loop() {
		m.ResetExplainer()
		if err := m.PrepareContributions(); err != nil {
			b.Fatal(err)
		}
	}
}
