package gbdt_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// TestXGBoostCondition: for every float32 input v near a threshold t,
// XGBoost's test v < XGBoostCondition(t) agrees with churnops' float64(v) <= t,
// and the condition is the least float32 that does so.
func TestXGBoostCondition(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	ths := []float64{0, math.Copysign(0, -1), 0.5, 1, -1, 17.5, 29.14104464084511, 24.483650766787413 + 1e-12,
		float64(float32(0.1)), math.Nextafter(float64(float32(0.1)), 1), math.Nextafter(float64(float32(0.1)), -1),
		1e-300, -1e-300, 3.4e38, math.MaxFloat32, 1e39, -1e39, math.Inf(1), math.Inf(-1)}
	for range 2000 {
		ths = append(ths, (r.Float64()-0.5)*math.Pow(10, float64(r.IntN(12)-4)))
	}
	up, down := float32(math.Inf(1)), float32(math.Inf(-1))
	for _, th := range ths {
		c := gbdt.XGBoostCondition(th)
		// Inputs around the condition and around the threshold's rounding.
		vs := []float32{c, math.Nextafter32(c, down), math.Nextafter32(math.Nextafter32(c, down), down), math.Nextafter32(c, up), float32(th)}
		for _, v := range vs {
			if math.IsInf(float64(v), 0) || math.IsNaN(float64(v)) {
				continue // XGBoost's inputs are finite float32s (a NaN is missing)
			}
			if got, want := v < c, float64(v) <= th; got != want {
				t.Errorf("threshold %v, condition %v: float32 %v goes left = %t in XGBoost, %t in churnops", th, c, v, got, want)
			}
		}
		if prev := math.Nextafter32(c, down); !(float64(c) > th || math.IsInf(th, 1)) || float64(prev) > th {
			t.Errorf("threshold %v: condition %v is not the least float32 above it", th, c)
		}
	}
}

// xgbJSON is the part of XGBoost's JSON model the emulator below reads.
// xgbTreeJSON is one tree of an XGBoost JSON model.
type xgbTreeJSON struct {
	Left        []int32   `json:"left_children"`
	Right       []int32   `json:"right_children"`
	Parents     []int32   `json:"parents"`
	Feature     []int32   `json:"split_indices"`
	Cond        []float32 `json:"split_conditions"`
	Type        []int32   `json:"split_type"`
	DefaultLeft []int32   `json:"default_left"`
	Cats        []int32   `json:"categories"`
	CatNodes    []int32   `json:"categories_nodes"`
	CatSegs     []int32   `json:"categories_segments"`
	CatSizes    []int32   `json:"categories_sizes"`
	Hess        []float32 `json:"sum_hessian"`
}

type xgbJSON struct {
	Learner struct {
		FeatureNames []string `json:"feature_names"`
		FeatureTypes []string `json:"feature_types"`
		Booster      struct {
			Model struct {
				Trees []xgbTreeJSON `json:"trees"`
			} `json:"model"`
		} `json:"gradient_booster"`
		Param struct {
			BaseScore string `json:"base_score"`
		} `json:"learner_model_param"`
	} `json:"learner"`
}

// xgbLeaves routes row x through every exported tree as XGBoost does
// (src/predictor/predict_fn.h, src/common/categorical.h): inputs are
// float32; a missing value follows default_left; a numeric split goes left
// when x < condition; a categorical split sends the categories it lists
// right and everything else, out-of-range codes included, left.
func xgbLeaves(t *testing.T, xm *xgbJSON, x []float64) []float32 {
	t.Helper()
	var out []float32
	for _, tr := range xm.Learner.Booster.Model.Trees {
		i := int32(0)
		for tr.Left[i] >= 0 {
			v := float32(x[tr.Feature[i]])
			var left bool
			switch {
			case v != v:
				left = tr.DefaultLeft[i] == 1
			case tr.Type[i] == 1:
				left = true
				k := -1
				for j, n := range tr.CatNodes {
					if n == i {
						k = j
					}
				}
				if k < 0 {
					t.Fatalf("categorical node %d not in categories_nodes", i)
				}
				for _, c := range tr.Cats[tr.CatSegs[k] : tr.CatSegs[k]+tr.CatSizes[k]] {
					if v >= 0 && int32(v) == c {
						left = false
					}
				}
			default:
				left = v < tr.Cond[i]
			}
			if left {
				i = tr.Left[i]
			} else {
				i = tr.Right[i]
			}
		}
		out = append(out, tr.Cond[i])
	}
	return out
}

func exportXGB(t *testing.T, m *gbdt.Model) *xgbJSON {
	t.Helper()
	b, err := m.MarshalXGBoostJSON()
	if err != nil {
		t.Fatal(err)
	}
	// encoding/json does not read Infinity; the emulator only needs a
	// condition above every input (3.4e38 marks it for the tests).
	b = bytesReplace(b, "Infinity", "3.4e38")
	var xm xgbJSON
	if err := json.Unmarshal(b, &xm); err != nil {
		t.Fatalf("the export is not JSON: %v", err)
	}
	return &xm
}

func bytesReplace(b []byte, old, new string) []byte {
	var out []byte
	for i := 0; i < len(b); {
		if i+len(old) <= len(b) && string(b[i:i+len(old)]) == old {
			out = append(out, new...)
			i += len(old)
			continue
		}
		out = append(out, b[i])
		i++
	}
	return out
}

// checkRoutes checks that every row reaches, in every exported tree, the
// leaf churnops reaches (tree 0 is the base score). The rows' values are
// first rounded to float32: XGBoost sees nothing else (whether the lab's
// float64 values survive that rounding is TestExportRoutesLabMonths'
// business, in internal/training).
func checkRoutes(t *testing.T, m *gbdt.Model, xm *xgbJSON, rows [][]float64) {
	t.Helper()
	for _, x := range rows {
		for j, v := range x {
			x[j] = float64(float32(v))
		}
		got := xgbLeaves(t, xm, x)
		values := m.TreeValues(x)
		want := []float64{m.Base()} // the export writes the trees in its own order
		for _, k := range m.XGBoostTreeOrder() {
			want = append(want, values[k])
		}
		if len(got) != len(want) {
			t.Fatalf("%d exported trees, want %d", len(got), len(want))
		}
		for k := range want {
			if got[k] != float32(want[k]) {
				t.Fatalf("row %v, tree %d: XGBoost reaches leaf %v, churnops %v", x, k, got[k], want[k])
			}
		}
	}
}

func TestXGBoostExportHandBuilt(t *testing.T) {
	m := handBuilt(t)
	xm := exportXGB(t, m)
	l := xm.Learner
	if got := l.FeatureNames; len(got) != 4 || got[0] != "a" || got[2] != "plan" {
		t.Errorf("feature_names %v", got)
	}
	if got := l.FeatureTypes; got[0] != "float" || got[2] != "c" || got[3] != "float" {
		t.Errorf("feature_types %v", got)
	}
	if l.Param.BaseScore != "5E-1" {
		t.Errorf("base_score %q, want 5E-1 (a margin of 0: the base is tree 0)", l.Param.BaseScore)
	}
	trees := l.Booster.Model.Trees
	if len(trees) != 4 || len(trees[0].Left) != 1 || trees[0].Cond[0] != 0.25 {
		t.Fatalf("tree 0 is not the base score 0.25: %+v", trees[0])
	}
	// exported is the exported tree of churnops' tree k.
	exported := func(k int) xgbTreeJSON { return trees[1+slices.Index(m.XGBoostTreeOrder(), k)] }
	// Churnops' third tree: plan in {x, z} goes left, missing right.
	// XGBoost's left child is the default (right) one, leaf 1.5, and it
	// lists the categories that go the other way, x and z, to its right
	// child, leaf -0.5.
	c := exported(2)
	if c.Type[0] != 1 || c.DefaultLeft[0] != 1 || c.Cond[c.Left[0]] != 1.5 || c.Cond[c.Right[0]] != -0.5 ||
		len(c.Cats) != 2 || c.Cats[0] != 0 || c.Cats[1] != 2 {
		t.Errorf("categorical split exported as %+v", c)
	}
	if c.Hess[0] != 10 || c.Hess[c.Left[0]] != 3 || c.Hess[c.Right[0]] != 7 {
		t.Errorf("sum_hessian %v, want covers 10, 3 (default child), 7", c.Hess)
	}
	// Churnops' first tree's root: a <= 0.5, missing left: condition
	// 0.5's next float32.
	if r := exported(0); r.Cond[0] != math.Nextafter32(0.5, 1) || r.DefaultLeft[0] != 1 || r.Parents[0] != math.MaxInt32 {
		t.Errorf("numeric split exported as condition %v default_left %d parent %d", r.Cond[0], r.DefaultLeft[0], r.Parents[0])
	}
	nan := math.NaN()
	var rows [][]float64
	next := func(v float64) float64 { return float64(math.Nextafter32(float32(v), float32(math.Inf(1)))) }
	prev := func(v float64) float64 { return float64(math.Nextafter32(float32(v), float32(math.Inf(-1)))) }
	for _, a := range []float64{nan, -3, -1, prev(-1), next(-1), 0, 0.5, prev(0.5), next(0.5), 2, next(2), 2.5} {
		for _, b := range []float64{nan, 0, 1, prev(1), next(1), 5} {
			for _, plan := range []float64{nan, 0, 1, 2, 3, 100} {
				rows = append(rows, []float64{a, b, plan, 0})
			}
		}
	}
	checkRoutes(t, m, xm, rows)
}

// TestXGBoostExportDegenerateCategorical: a categorical split that sends
// every category the default way lists no category, which XGBoost
// refuses; it is exported as a numeric split sending everything left.
func TestXGBoostExportDegenerateCategorical(t *testing.T) {
	body := `{"features":[{"name":"plan","categorical":true,"categories":["x","y"]}],"base_score":0,"threshold":0.5,"params":{},"meta":{},"trees":[` +
		`{"feature":[0,-1,-1],"value":[0,-1,1],"left":[1,-1,-1],"default_left":[true,false,false],"categories_left":[[0,1],null,null],"cover":[2,1,1]},` +
		`{"feature":[0,-1,-1],"value":[0,-1,1],"left":[1,-1,-1],"default_left":[false,false,false],"categories_left":[[],null,null],"cover":[2,1,1]}]}`
	m, err := gbdt.Unmarshal(artifactOf(t, body))
	if err != nil {
		t.Fatal(err)
	}
	xm := exportXGB(t, m)
	for k, tr := range xm.Learner.Booster.Model.Trees[1:] {
		if tr.Type[0] != 0 || len(tr.Cats) != 0 || tr.Cond[0] != 3.4e38 || tr.DefaultLeft[0] != 1 {
			t.Errorf("tree %d: %+v, want a numeric split at +Inf, default left", k+1, tr)
		}
	}
	checkRoutes(t, m, xm, [][]float64{{0}, {1}, {math.NaN()}, {5}})
}

// TestXGBoostExportTrained exports trained models (categorical and missing
// values, deep trees) and routes training rows and edge rows through them.
func TestXGBoostExportTrained(t *testing.T) {
	d := logisticData(t, 2000, 13)
	for _, depth := range []int{2, 6} {
		p := quickParams()
		p.MaxDepth, p.MaxLeaves, p.Rounds = depth, 1<<depth, 60
		m := train(t, d, p)
		xm := exportXGB(t, m)
		var rows [][]float64
		for i := range d.Rows() {
			rows = append(rows, row(d, i))
		}
		th := m.SplitThresholds()
		for k := range 300 {
			x := row(d, k)
			for j := range x {
				if len(th[j]) > 0 && !d.Features[j].Categorical {
					v := th[j][(k+j)%len(th[j])]
					// The threshold and the float32s on either side of it.
					x[j] = [3]float64{v, float64(math.Nextafter32(float32(v), float32(math.Inf(-1)))), float64(math.Nextafter32(float32(v), float32(math.Inf(1))))}[k%3]
				}
			}
			rows = append(rows, x)
		}
		checkRoutes(t, m, xm, rows)
		// After the base score, trees with smaller leaves come first.
		last := 0.0
		for k, tr := range xm.Learner.Booster.Model.Trees[1:] {
			scale := 0.0
			for i, l := range tr.Left {
				if l < 0 {
					scale = max(scale, math.Abs(float64(tr.Cond[i])))
				}
			}
			if scale < last {
				t.Fatalf("depth %d: exported tree %d has leaves up to %g, after a tree with %g", depth, k+1, scale, last)
			}
			last = scale
		}
	}
}

func TestXGBoostExportNeedsCovers(t *testing.T) {
	m, _ := trainedModel(t)
	art, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	old, err := gbdt.Unmarshal(edit(t, art, true, func(_, model map[string]any) {
		for _, tr := range model["trees"].([]any) {
			delete(tr.(map[string]any), "cover")
		}
	}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := old.MarshalXGBoostJSON(); !errors.Is(err, gbdt.ErrNoCovers) {
		t.Errorf("export without covers: %v, want ErrNoCovers", err)
	}
}
