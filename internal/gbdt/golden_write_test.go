package gbdt_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/synth"
	"github.com/churnops/churnops/internal/training"
)

var writeGoldenV1 = flag.Bool("write-golden-v1", false, "write testdata/golden_v1 with this commit's training code")

func fstr(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// TestWriteGoldenV1 writes the schema-v1 golden artifacts. It ran once, on
// the training code of the commit that added testdata/golden_v1.
func TestWriteGoldenV1(t *testing.T) {
	if !*writeGoldenV1 {
		t.Skip("run with -write-golden-v1")
	}
	dir := filepath.Join("testdata", "golden_v1")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}

	// The churn recipe on a generated month of 7,043 users: hundreds of
	// depth-2 trees that compile to lookup tables.
	run, err := synth.Simulate(synth.Config{Months: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	month := run.Months[0]
	res, err := training.Train(month, training.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	churn := res.Model
	churn.Meta.TrainSeconds, churn.Meta.TrainedAt = 0, ""
	churn.Metrics["train_time_s"] = 0
	_, val := month.Split()
	vd := training.DatasetOf(val)
	writeGolden(t, dir, "churn", churn, goldenRows(churn, vd, 100))

	// Deep leaf-wise trees with many-vs-many category sets and missing
	// values: the trees a lookup table does not hold.
	d := logisticData(t, 3000, 11)
	p := gbdt.DefaultParams()
	p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.MaxCatOneHot = 7, 40, 5, 2
	p.Rounds, p.EarlyStoppingRounds = 25, 0
	deep := train(t, d, p)
	deep.Metrics = map[string]float64{"val_auc": 0.5}
	writeGolden(t, dir, "deep", deep, goldenRows(deep, subset(d, 2000, 3000), 100))
}

// goldenRows is n rows of d, then rows that put each feature on missing,
// ±Inf, ±0, every category code and codes the feature does not have, and on
// a few of the model's split thresholds and their neighbouring floats.
func goldenRows(m *gbdt.Model, d gbdt.Dataset, n int) [][]float64 {
	var out [][]float64
	for i := range n {
		out = append(out, row(d, i))
	}
	thresholds := m.SplitThresholds()
	for j, f := range d.Features {
		vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)}
		if f.Categorical {
			for c := range len(f.Categories) + 1 {
				vals = append(vals, float64(c))
			}
			vals = append(vals, -1, 0.5, 1e300)
		}
		th := thresholds[j]
		for k := 0; k < len(th); k += max(1, len(th)/4) {
			v := th[k]
			vals = append(vals, v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1)))
		}
		for k, v := range vals {
			x := row(d, (7*k+j)%len(d.Label))
			x[j] = v
			out = append(out, x)
		}
	}
	return out
}

func writeGolden(t *testing.T, dir, name string, m *gbdt.Model, rows [][]float64) {
	t.Helper()
	art, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, x := range rows {
		c := goldenCase{Raw: fstr(m.PredictRaw(x)), Walk: fstr(m.WalkRaw(x)), Proba: fstr(m.PredictProba(x))}
		for _, v := range x {
			c.Row = append(c.Row, fstr(v))
		}
		line, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(line)
		if i+1 < len(rows) {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("]\n")
	if err := os.WriteFile(filepath.Join(dir, name+".model.json"), art, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".cases.json"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d trees, compiled %t, %d bytes, %d rows", name, m.NumTrees(), m.Compiled(), len(art), len(rows))
}
