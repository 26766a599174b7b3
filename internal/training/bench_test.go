package training_test

import (
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/training"
)

// BenchmarkTrain fits the default model on month_000's train users.
func BenchmarkTrain(b *testing.B) {
	m := month000(b)
	train, _ := m.Split()
	d := training.DatasetOf(train)
	p := training.DefaultParams().GBDT
	for b.Loop() {
		if _, err := gbdt.Train(d, p); err != nil {
			b.Fatal(err)
		}
	}
}

func realModel(b *testing.B) (*gbdt.Model, [][]float64) {
	b.Helper()
	m := month000(b)
	res, err := training.Train(m, training.DefaultParams())
	if err != nil {
		b.Fatal(err)
	}
	_, val := m.Split()
	d := training.DatasetOf(val)
	rows := make([][]float64, d.Rows())
	for i := range rows {
		rows[i] = make([]float64, len(d.Cols))
		for j, c := range d.Cols {
			rows[i][j] = c[i]
		}
	}
	return res.Model, rows
}

// BenchmarkPredictRow scores one encoded validation user with the default
// month_000 model.
func BenchmarkPredictRow(b *testing.B) {
	model, rows := realModel(b)
	var sink float64
	i := 0
	for b.Loop() {
		sink += model.PredictProba(rows[i])
		if i++; i == len(rows) {
			i = 0
		}
	}
	_ = sink
}

// BenchmarkPredictBatch scores all validation users of month_000.
func BenchmarkPredictBatch(b *testing.B) {
	model, rows := realModel(b)
	dst := make([]float64, 0, len(rows))
	for b.Loop() {
		var err error
		if dst, err = model.PredictBatch(rows, dst); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(rows)), "ns/row")
}
