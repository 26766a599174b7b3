package training_test

import (
	"os"
	"slices"
	"testing"
	"time"

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
	return res.Model, valRows(b)
}

// valRows are month_000's validation users, encoded.
func valRows(b *testing.B) [][]float64 {
	_, val := month000(b).Split()
	d := training.DatasetOf(val)
	rows := make([][]float64, d.Rows())
	for i := range rows {
		rows[i] = make([]float64, len(d.Cols))
		for j, c := range d.Cols {
			rows[i][j] = c[i]
		}
	}
	return rows
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

// BenchmarkContributions explains one validation user of month_000 with the
// default model (the per-request cost of reasons): compare it with
// BenchmarkPredictRow in the same run.
func BenchmarkContributions(b *testing.B) {
	model, rows := realModel(b)
	if err := model.PrepareContributions(); err != nil {
		b.Fatal(err)
	}
	out := make([]float64, model.NumFeatures()+1)
	i := 0
	for b.Loop() {
		if err := model.Contributions(rows[i], out); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(rows) {
			i = 0
		}
	}
}

// BenchmarkLatency times every call, over all validation users of
// month_000, of a prediction alone and of a prediction with its
// contributions, and reports the median and 99th percentile per call, for
// the default model of month_000 (depth-2 trees compiled to lookup tables)
// and, when $CHURNOPS_BENCH_LARGE_MODEL names its model.json, the default
// model of a large month (31-leaf trees, walked, explained from path
// tables). To make that model:
//
//	churnops gen --out /tmp/big --months 1 --users 1000000
//	churnops train --data /tmp/big/month_000 --as-of 2024-01-31 --out /tmp/big/model
func BenchmarkLatency(b *testing.B) {
	models := []struct {
		name  string
		model func(b *testing.B) (*gbdt.Model, [][]float64)
	}{{"lab", realModel}, {"large", largeModel}}
	for _, mm := range models {
		b.Run(mm.name, func(b *testing.B) {
			model, rows := mm.model(b)
			if err := model.PrepareContributions(); err != nil {
				b.Fatal(err)
			}
			out := make([]float64, model.NumFeatures()+1)
			var sink float64
			for _, bb := range []struct {
				name string
				f    func(x []float64)
			}{
				{"predict", func(x []float64) { sink += model.PredictProba(x) }},
				{"predict+contributions", func(x []float64) {
					sink += model.PredictProba(x)
					if err := model.Contributions(x, out); err != nil {
						b.Fatal(err)
					}
				}},
			} {
				b.Run(bb.name, func(b *testing.B) {
					var ns []float64
					for b.Loop() {
						for _, x := range rows {
							t := time.Now()
							bb.f(x)
							ns = append(ns, float64(time.Since(t).Nanoseconds()))
						}
					}
					slices.Sort(ns)
					b.ReportMetric(ns[len(ns)/2], "p50-ns")
					b.ReportMetric(ns[len(ns)*99/100], "p99-ns")
					b.ReportMetric(0, "ns/op")
				})
			}
			_ = sink
		})
	}
}

// largeModel loads the model $CHURNOPS_BENCH_LARGE_MODEL names (skipping
// without it) with month_000's validation users as rows.
func largeModel(b *testing.B) (*gbdt.Model, [][]float64) {
	b.Helper()
	path := os.Getenv("CHURNOPS_BENCH_LARGE_MODEL")
	if path == "" {
		b.Skip("set CHURNOPS_BENCH_LARGE_MODEL to a model.json trained on a large month")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	model, err := gbdt.Unmarshal(data)
	if err != nil {
		b.Fatal(err)
	}
	return model, valRows(b)
}

// BenchmarkPrepareContributions is the load-time cost of a model's
// explainer (its contributions per table cell), from the artifact.
func BenchmarkPrepareContributions(b *testing.B) {
	model, _ := realModel(b)
	art, err := model.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		m, err := gbdt.Unmarshal(art)
		if err != nil {
			b.Fatal(err)
		}
		if err := m.PrepareContributions(); err != nil {
			b.Fatal(err)
		}
	}
}
