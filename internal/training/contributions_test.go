package training_test

import (
	"encoding/json"
	"maps"
	"math"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
	"github.com/churnops/churnops/internal/training"
)

// checkAdditive explains every customer of each month with model and checks
// bias + contributions = log-odds to 1e-9, and that the features the model
// never splits on get exactly 0.
func checkAdditive(t *testing.T, model *gbdt.Model, months ...*snapshot.Month) {
	t.Helper()
	unused := unusedFeatures(t, model)
	nf := model.NumFeatures()
	x, out := make([]float64, nf), make([]float64, nf+1)
	for _, m := range months {
		d := training.DatasetOf(m.Customers)
		var worst float64
		for i := range m.Customers {
			for j, c := range d.Cols {
				x[j] = c[i]
			}
			if err := model.Contributions(x, out); err != nil {
				t.Fatal(err)
			}
			var s float64
			for _, v := range out {
				s += v
			}
			worst = max(worst, math.Abs(s-model.PredictRaw(x)))
			for _, j := range unused {
				if out[j] != 0 {
					t.Fatalf("%s: %s, which the model never splits on, contributes %v", m.Customers[i].UserID, d.Features[j].Name, out[j])
				}
			}
		}
		if worst > 1e-9 {
			t.Errorf("as of %s: max |bias + contributions - log-odds| = %.3g over %d customers, want <= 1e-9", m.AsOf.Format(snapshot.DateLayout), worst, len(m.Customers))
		}
		t.Logf("as of %s: %d customers, max additivity error %.3g; features never split on: %d", m.AsOf.Format(snapshot.DateLayout), len(m.Customers), worst, len(unused))
	}
}

// artifactTree is a tree of a model's artifact (its public format).
type artifactTree struct {
	Feature []int32     `json:"feature"`
	Value   []threshold `json:"value"`
}

// threshold is an artifact value: a number, or "+Inf"/"-Inf".
type threshold float64

func (v *threshold) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"+Inf"`:
		*v = threshold(math.Inf(1))
	case `"-Inf"`:
		*v = threshold(math.Inf(-1))
	default:
		var f float64
		if err := json.Unmarshal(b, &f); err != nil {
			return err
		}
		*v = threshold(f)
	}
	return nil
}

// artifactTrees reads the trees of a model's artifact.
func artifactTrees(t *testing.T, model *gbdt.Model) []artifactTree {
	t.Helper()
	b, err := model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var art struct {
		Model struct {
			Trees []artifactTree `json:"trees"`
		} `json:"model"`
	}
	if err := json.Unmarshal(b, &art); err != nil {
		t.Fatal(err)
	}
	return art.Model.Trees
}

func unusedFeatures(t *testing.T, model *gbdt.Model) []int {
	used := make([]bool, model.NumFeatures())
	for _, tr := range artifactTrees(t, model) {
		for _, f := range tr.Feature {
			if f >= 0 {
				used[f] = true
			}
		}
	}
	var out []int
	for j, u := range used {
		if !u {
			out = append(out, j)
		}
	}
	return out
}

func TestContributionsSynthMonths(t *testing.T) {
	run, err := synth.Simulate(synth.Config{Months: 2, Seed: 5, Drift: map[int]synth.Drift{1: synth.FeatureShift}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := training.Train(run.Months[0], training.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	checkAdditive(t, res.Model, run.Months...)
}

func TestContributionsLabMonths(t *testing.T) {
	m0, m1 := month000(t), month001(t)
	res, err := training.Train(m0, training.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	checkAdditive(t, res.Model, m0, m1)
}

// TestExportRoutesLabMonths: XGBoost reads inputs as float32, so an
// exported model routes a customer as churnops does only if no threshold
// falls between one of the customer's values and its float32 rounding
// (for float32 inputs the export's conditions are exact: see gbdt's
// TestXGBoostCondition). This checks every numeric value of every customer
// of both lab months against every threshold of the default model trained
// on either month.
func TestExportRoutesLabMonths(t *testing.T) {
	months := []*snapshot.Month{month000(t), month001(t)}
	for _, trainOn := range months {
		res, err := training.Train(trainOn, training.DefaultParams())
		if err != nil {
			t.Fatal(err)
		}
		spec := res.Model.Features()
		ths := make([][]float64, len(spec))
		for _, tr := range artifactTrees(t, res.Model) {
			for i, f := range tr.Feature {
				if f >= 0 && !spec[f].Categorical {
					ths[f] = append(ths[f], float64(tr.Value[i]))
				}
			}
		}
		checked := 0
		for _, m := range months {
			d := training.DatasetOf(m.Customers)
			for j, col := range d.Cols {
				for i, v := range col {
					r := float64(float32(v))
					for _, th := range ths[j] {
						if (v <= th) != (r <= th) {
							t.Errorf("model of %s: %s of %s is %v, float32 %v: threshold %v routes them apart",
								trainOn.AsOf.Format(snapshot.DateLayout), spec[j].Name, m.Customers[i].UserID, v, r, th)
						}
						checked++
					}
				}
			}
		}
		t.Logf("model of %s: %d (value, threshold) pairs route alike in float32", trainOn.AsOf.Format(snapshot.DateLayout), checked)
	}
}

// TestTrainRecordsImportance: Train measures each feature's mean
// |contribution| over the validation users (the mean of Contributions,
// customer by customer), keeps it in the model's artifact, and Evaluate
// returns the evaluated model's.
func TestTrainRecordsImportance(t *testing.T) {
	m0 := month000(t)
	res, err := training.Train(m0, training.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Importance) != res.Model.NumFeatures() {
		t.Fatalf("importance of %d features, want %d: %v", len(res.Importance), res.Model.NumFeatures(), res.Importance)
	}
	_, val := m0.Split()
	d := training.DatasetOf(val)
	x, out := make([]float64, res.Model.NumFeatures()), make([]float64, res.Model.NumFeatures()+1)
	want := make([]float64, res.Model.NumFeatures())
	for i := range val {
		for j, c := range d.Cols {
			x[j] = c[i]
		}
		if err := res.Model.Contributions(x, out); err != nil {
			t.Fatal(err)
		}
		for j := range want {
			want[j] += math.Abs(out[j]) / float64(len(val))
		}
	}
	for j, f := range res.Model.Features() {
		if got := res.Importance[f.Name]; math.Abs(got-want[j]) > 1e-12 {
			t.Errorf("%s: importance %v, want %v", f.Name, got, want[j])
		}
	}
	for _, j := range unusedFeatures(t, res.Model) {
		if v := res.Importance[d.Features[j].Name]; v != 0 {
			t.Errorf("%s, never split on, has importance %v", d.Features[j].Name, v)
		}
	}
	art, err := res.Model.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := gbdt.Unmarshal(art)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := training.Evaluate(loaded, month001(t))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(ev.Importance, res.Importance) || !maps.Equal(loaded.Meta.Importance, res.Importance) {
		t.Errorf("the artifact keeps %v, Evaluate returns %v; want %v", loaded.Meta.Importance, ev.Importance, res.Importance)
	}
}
