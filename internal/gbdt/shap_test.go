package gbdt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"runtime"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// handBuiltBody is a three-tree model written by hand (the "model" part of
// an artifact), small enough to work its contributions out on paper:
//
//	features: a, b (numeric), plan (categorical x, y, z), c (never split)
//	base score 0.25
//
//	tree 1: node 0  a <= 0.5 (missing goes left)      cover 10
//	          node 1  b <= 1 (missing right)          cover 6
//	            node 3  leaf  1                       cover 2
//	            node 4  leaf -2                       cover 4
//	          node 2  leaf  3                         cover 4
//	        expected value E1 = 0.6·(2/6·1 + 4/6·(-2)) + 0.4·3 = -0.6 + 1.2 = 0.6
//
//	tree 2: node 0  a <= 2 (missing right)            cover 8
//	          node 1  a <= -1 (a again)               cover 5
//	            node 3  leaf -1                       cover 1
//	            node 4  leaf  2                       cover 4
//	          node 2  leaf  4                         cover 3
//	        E2 = 5/8·(1/5·(-1) + 4/5·2) + 3/8·4 = 0.875 + 1.5 = 2.375
//	        One feature only, so its contribution is f2(x) - E2.
//
//	tree 3: node 0  plan in {x, z} (missing right)    cover 10
//	          node 1  leaf -0.5                       cover 7
//	          node 2  leaf  1.5                       cover 3
//	        E3 = 0.7·(-0.5) + 0.3·1.5 = 0.1; contribution f3(x) - E3.
//
//	bias = 0.25 + 0.6 + 2.375 + 0.1 = 3.325
const handBuiltBody = `{"features":[{"name":"a"},{"name":"b"},{"name":"plan","categorical":true,"categories":["x","y","z"]},{"name":"c"}],` +
	`"base_score":0.25,"threshold":0.5,"params":{},"meta":{},"trees":[` +
	`{"feature":[0,1,-1,-1,-1],"value":[0.5,1,3,1,-2],"left":[1,3,-1,-1,-1],"default_left":[true,false,false,false,false],` +
	`"categories_left":[null,null,null,null,null],"cover":[10,6,4,2,4]},` +
	`{"feature":[0,0,-1,-1,-1],"value":[2,-1,4,-1,2],"left":[1,3,-1,-1,-1],"default_left":[false,false,false,false,false],` +
	`"categories_left":[null,null,null,null,null],"cover":[8,5,3,1,4]},` +
	`{"feature":[2,-1,-1],"value":[0,-0.5,1.5],"left":[1,-1,-1],"default_left":[false,false,false],` +
	`"categories_left":[[0,2],null,null],"cover":[10,7,3]}]}`

// artifactOf wraps a model body in an artifact envelope with its checksum.
func artifactOf(t *testing.T, body string) []byte {
	t.Helper()
	sum := sha256.Sum256([]byte(body))
	return mustJSON(t, map[string]any{
		"schema_version": gbdt.SchemaVersion, "kind": gbdt.Kind, "layout": "",
		"sha256": hex.EncodeToString(sum[:]), "model": json.RawMessage(body),
	})
}

func handBuilt(t *testing.T) *gbdt.Model {
	t.Helper()
	m, err := gbdt.Unmarshal(artifactOf(t, handBuiltBody))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestContributionsHandBuilt(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		x    []float64 // a, b, plan, c
		want []float64 // a, b, plan, c, bias
	}{{
		// Tree 1 sends x to node 4 (a = 0 <= 0.5, b = 2 > 1): f1 = -2. Its
		// value of each subset of {a, b} (the others integrated out by cover):
		//   v() = E1 = 0.6;  v(a) = 2/6·1 + 4/6·(-2) = -1
		//   v(b) = 0.6·(-2) + 0.4·3 = 0;  v(a,b) = -2
		//   a: ½[(v(a)-v()) + (v(a,b)-v(b))] = ½[-1.6 - 2] = -1.8
		//   b: ½[(v(b)-v()) + (v(a,b)-v(a))] = ½[-0.6 - 1] = -0.8
		// Tree 2: a = 0 goes to node 4: f2 = 2, a gets 2 - 2.375 = -0.375.
		// Tree 3: plan = y is not in {x, z}: f3 = 1.5, plan gets 1.5 - 0.1 = 1.4.
		// a: -1.8 - 0.375 = -2.175. Sum: 3.325 - 2.175 - 0.8 + 1.4 = 1.75
		// = 0.25 - 2 + 2 + 1.5, the model's log-odds.
		name: "numeric and category",
		x:    []float64{0, 2, 1, 7},
		want: []float64{-2.175, -0.8, 1.4, 0, 3.325},
	}, {
		// Tree 1: a missing goes left (default), b = 0 <= 1: node 3, f1 = 1.
		//   v() = 0.6;  v(a) = -1 (as above: a known sends x left)
		//   v(b) = 0.6·1 + 0.4·3 = 1.8;  v(a,b) = 1
		//   a: ½[(-1 - 0.6) + (1 - 1.8)] = -1.2
		//   b: ½[(1.8 - 0.6) + (1 - (-1))] = 1.6
		// Tree 2: a missing goes right (default): f2 = 4, a gets 4 - 2.375 = 1.625.
		// Tree 3: plan missing goes right (default): f3 = 1.5, plan gets 1.4.
		// a: -1.2 + 1.625 = 0.425. Sum: 3.325 + 0.425 + 1.6 + 1.4 = 6.75
		// = 0.25 + 1 + 4 + 1.5.
		name: "missing values follow the default",
		x:    []float64{nan, 0, nan, nan},
		want: []float64{0.425, 1.6, 1.4, 0, 3.325},
	}, {
		// Tree 1: a = 1 > 0.5: node 2, f1 = 3, whatever b is.
		//   v() = 0.6;  v(a) = 3;  v(b) = 0.6·(-2) + 0.4·3 = 0 (b = 5 > 1);  v(a,b) = 3
		//   a: ½[(3 - 0.6) + (3 - 0)] = 2.7;  b: ½[(0 - 0.6) + (3 - 3)] = -0.3
		// Tree 2: a = 1 <= 2, 1 > -1: node 4, f2 = 2: a gets -0.375.
		// Tree 3: plan = x (code 0) is in {x, z}: f3 = -0.5, plan gets -0.6.
		// An unknown code (7) would be missing: see the next case.
		name: "category in the left set",
		x:    []float64{1, 5, 0, 0},
		want: []float64{2.7 - 0.375, -0.3, -0.6, 0, 3.325},
	}, {
		// Tree 2 twice on a: a = -3 <= -1: node 3, f2 = -1: a gets -3.375.
		// Tree 1: a = -3 <= 0.5 and b = 1 <= 1: node 3, f1 = 1; as in the
		// second case, a gets -1.2 and b 1.6. plan = 7 is no category:
		// missing, right: 1.4.
		name: "repeated feature and unknown category",
		x:    []float64{-3, 1, 7, -1},
		want: []float64{-1.2 - 3.375, 1.6, 1.4, 0, 3.325},
	}}
	m := handBuilt(t)
	if !m.Compiled() {
		t.Fatal("the hand-built model did not compile to tables")
	}
	out, walk := make([]float64, 5), make([]float64, 5)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := m.Contributions(tt.x, out); err != nil {
				t.Fatal(err)
			}
			if err := m.WalkContributions(tt.x, walk); err != nil {
				t.Fatal(err)
			}
			for j := range tt.want {
				if math.Abs(out[j]-tt.want[j]) > 1e-12 || math.Abs(walk[j]-tt.want[j]) > 1e-12 {
					t.Errorf("contribution %d: tables %v, walk %v, want %v", j, out[j], walk[j], tt.want[j])
				}
			}
			if out[3] != 0 || walk[3] != 0 {
				t.Errorf("c, which no tree splits on, got %v (tables) and %v (walk), want exactly 0", out[3], walk[3])
			}
			if got, raw := sum(out), m.PredictRaw(tt.x); math.Abs(got-raw) > 1e-12 {
				t.Errorf("bias + contributions = %v, log-odds %v", got, raw)
			}
		})
	}
}

func sum(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x
	}
	return s
}

// constantColumn returns d with a column that never varies appended: no
// split can use it.
func withConstantColumn(d gbdt.Dataset) gbdt.Dataset {
	out := gbdt.Dataset{Features: append(append([]gbdt.Feature(nil), d.Features...), gbdt.Feature{Name: "constant"}), Label: d.Label}
	out.Cols = append(append([][]float64(nil), d.Cols...), make([]float64, d.Rows()))
	for i := range out.Cols[len(out.Cols)-1] {
		out.Cols[len(out.Cols)-1][i] = 5
	}
	return out
}

// TestContributionsAdditive: on trained models of several shapes (the
// package default's depth 4 and deep trees, which do not compile to
// tables, and churnops' depth-2 trees, which do), bias + contributions equals the log-odds to 1e-9 on every row,
// the tables agree with the walk, and a feature no split uses gets 0.
func TestContributionsAdditive(t *testing.T) {
	d := withConstantColumn(logisticData(t, 3000, 17))
	tests := []struct {
		name     string
		mutate   func(*gbdt.Params)
		compiled bool
	}{
		{"defaults (depth 4), walked", func(*gbdt.Params) {}, false},
		{"depth 2", func(p *gbdt.Params) { p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.ColSample = 2, 4, 50, 0.5 }, true},
		{"depth 8, walked", func(p *gbdt.Params) { p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.Rounds = 8, 255, 5, 40 }, false},
		{"depth 2, subsampled, balanced", func(p *gbdt.Params) { p.MaxDepth, p.MaxLeaves, p.Subsample, p.Balanced = 2, 4, 0.5, true }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := quickParams()
			tt.mutate(&p)
			m := roundTrip(t, train(t, d, p))
			if m.Compiled() != tt.compiled {
				t.Fatalf("compiled = %t, want %t", m.Compiled(), tt.compiled)
			}
			if th := m.SplitThresholds()[len(d.Features)-1]; len(th) != 0 {
				t.Fatalf("the model splits on the constant column at %v", th)
			}
			nf := m.NumFeatures()
			out, walk := make([]float64, nf+1), make([]float64, nf+1)
			var worst, worstWalk float64
			rows := d.Rows()
			if !tt.compiled {
				rows = 150 // Algorithm 2 on deep trees is slow under -race
			}
			for i := range rows {
				x := row(d, i)
				if err := m.Contributions(x, out); err != nil {
					t.Fatal(err)
				}
				if err := m.WalkContributions(x, walk); err != nil {
					t.Fatal(err)
				}
				raw := m.PredictRaw(x)
				worst = max(worst, math.Abs(sum(out)-raw))
				for j := range out {
					worstWalk = max(worstWalk, math.Abs(out[j]-walk[j]))
				}
				if out[nf-1] != 0 {
					t.Fatalf("row %d: the constant column contributes %v", i, out[nf-1])
				}
			}
			if worst > 1e-9 || worstWalk > 1e-9 {
				t.Errorf("max |bias + contributions - log-odds| = %.3g, max |tables - walk| = %.3g; want <= 1e-9", worst, worstWalk)
			}
			t.Logf("%d trees: max additivity error %.3g, tables vs walk %.3g", m.NumTrees(), worst, worstWalk)
		})
	}
}

// TestContributionsEdgeRows explains rows made of the model's own split
// thresholds, their neighbours, missing values and unknown categories,
// where a routing mistake would show.
func TestContributionsEdgeRows(t *testing.T) {
	d := logisticData(t, 2000, 5)
	p := quickParams()
	p.MaxDepth, p.MaxLeaves = 3, 8
	m := train(t, d, p)
	th := m.SplitThresholds()
	nf := m.NumFeatures()
	out, walk := make([]float64, nf+1), make([]float64, nf+1)
	x := make([]float64, nf)
	for k := range 400 {
		for j := range x {
			switch cand := th[j]; {
			case d.Features[j].Categorical:
				x[j] = float64(k%7) - 1 // -1 and 5, 6: unknown codes
			case k%5 == 0 || len(cand) == 0:
				x[j] = math.NaN()
			default:
				v := cand[(k*7+j)%len(cand)]
				x[j] = [3]float64{v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1))}[k%3]
			}
		}
		if err := m.Contributions(x, out); err != nil {
			t.Fatal(err)
		}
		if err := m.WalkContributions(x, walk); err != nil {
			t.Fatal(err)
		}
		if got, raw := sum(out), m.PredictRaw(x); math.Abs(got-raw) > 1e-9 {
			t.Fatalf("row %v: bias + contributions = %v, log-odds %v", x, got, raw)
		}
		for j := range out {
			if math.Abs(out[j]-walk[j]) > 1e-9 {
				t.Fatalf("row %v: feature %d: tables %v, walk %v", x, j, out[j], walk[j])
			}
		}
	}
}

// TestNoCovers: an artifact written before covers existed still loads and
// predicts exactly as before; explaining it is ErrNoCovers.
func TestNoCovers(t *testing.T) {
	m, d := trainedModel(t)
	if !m.HasCovers() {
		t.Fatal("a freshly trained model has no covers")
	}
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
		t.Fatalf("an artifact without covers does not load: %v", err)
	}
	want, got := predict(t, m, d), predict(t, old, d)
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("row %d: %v with covers, %v without", i, want[i], got[i])
		}
	}
	out := make([]float64, old.NumFeatures()+1)
	if old.HasCovers() {
		t.Error("HasCovers on a model without covers")
	}
	if err := old.Contributions(row(d, 0), out); !errors.Is(err, gbdt.ErrNoCovers) {
		t.Errorf("Contributions = %v, want ErrNoCovers", err)
	}
	if err := old.PrepareContributions(); !errors.Is(err, gbdt.ErrNoCovers) {
		t.Errorf("PrepareContributions = %v, want ErrNoCovers", err)
	}
	if _, err := old.MeanAbsContributions(d.Cols); !errors.Is(err, gbdt.ErrNoCovers) {
		t.Errorf("MeanAbsContributions = %v, want ErrNoCovers", err)
	}
	// Re-marshalled, it stays without covers rather than gaining zeros.
	again, err := old.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if roundTrip(t, old).HasCovers() || bytes.Contains(again, []byte(`"cover"`)) {
		t.Error("a model without covers was written with covers")
	}
}

func TestContributionsArguments(t *testing.T) {
	m := handBuilt(t)
	if err := m.Contributions([]float64{0, 0, 0}, make([]float64, 5)); err == nil {
		t.Error("a row one value short was explained")
	}
	for _, n := range []int{4, 6} {
		if err := m.Contributions([]float64{0, 0, 0, 0}, make([]float64, n)); err == nil {
			t.Errorf("an output of %d values was accepted, want 5", n)
		}
	}
}

func TestMeanAbsContributions(t *testing.T) {
	m := handBuilt(t)
	nan := math.NaN()
	// The first two rows of TestContributionsHandBuilt:
	// a: (|-2.175| + |0.425|)/2 = 1.3; b: (0.8 + 1.6)/2 = 1.2; plan: 1.4; c: 0.
	cols := [][]float64{{0, nan}, {2, 0}, {1, nan}, {7, nan}}
	got, err := m.MeanAbsContributions(cols)
	if err != nil {
		t.Fatal(err)
	}
	want := []float64{1.3, 1.2, 1.4, 0}
	for j := range want {
		if math.Abs(got[j]-want[j]) > 1e-12 {
			t.Errorf("feature %d: %v, want %v", j, got[j], want[j])
		}
	}
	if _, err := m.MeanAbsContributions(cols[:3]); err == nil {
		t.Error("three columns accepted for four features")
	}
	if _, err := m.MeanAbsContributions([][]float64{{0}, {1, 2}, {0}, {0}}); err == nil {
		t.Error("ragged columns accepted")
	}
}

// TestContributionsConcurrent explains from several goroutines at once on
// a model whose explainer is not built yet (run it with -race).
func TestContributionsConcurrent(t *testing.T) {
	d := logisticData(t, 400, 8)
	p := quickParams()
	p.MaxDepth, p.MaxLeaves, p.Rounds = 3, 8, 60
	for _, compiled := range []bool{true, false} {
		m := train(t, d, p)
		if !compiled {
			m.Recompile(1, 1) // no tables: walk
		}
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for g := range 4 {
			wg.Go(func() {
				out := make([]float64, m.NumFeatures()+1)
				for i := g; i < d.Rows(); i += 4 {
					x := row(d, i)
					if err := m.Contributions(x, out); err != nil {
						errs <- err
						return
					}
					if math.Abs(sum(out)-m.PredictRaw(x)) > 1e-9 {
						errs <- errors.New("not additive")
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("compiled=%t: %v", compiled, err)
		}
	}
}

// TestContributionsDoNotAllocate: neither the tables of a compiled model
// nor the path tables of a walked one allocate per row.
func TestContributionsDoNotAllocate(t *testing.T) {
	if raceEnabled {
		// The path tables' scratch comes from a sync.Pool, which drops a
		// quarter of what is put back under the race detector.
		t.Skip("the race detector makes sync.Pool allocate")
	}
	d := logisticData(t, 1500, 9)
	for _, compiled := range []bool{true, false} {
		p := quickParams()
		p.MaxDepth, p.MaxLeaves = 2, 4
		m := train(t, d, p)
		if !compiled {
			m.Recompile(1, 1)
		}
		if m.Compiled() != compiled {
			t.Fatalf("compiled = %t, want %t", m.Compiled(), compiled)
		}
		if err := m.PrepareContributions(); err != nil {
			t.Fatal(err)
		}
		x, out := row(d, 3), make([]float64, m.NumFeatures()+1)
		allocs := testing.AllocsPerRun(100, func() {
			if err := m.Contributions(x, out); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("compiled=%t: %v allocations per call", compiled, allocs)
		}
	}
}

// TestMeanAbsContributionsAcrossCores: blocks explained on several cores
// give the same bits as on one, and the mean of |Contributions| row by row.
func TestMeanAbsContributionsAcrossCores(t *testing.T) {
	d := logisticData(t, 20000, 4) // three blocks of rows
	m := train(t, d, quickParams())
	defer gbdt.SetMinParallelWork(1)()
	var got [][]float64
	for _, procs := range []int{1, 4} {
		old := runtime.GOMAXPROCS(procs)
		imp, err := m.MeanAbsContributions(d.Cols)
		runtime.GOMAXPROCS(old)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, imp)
	}
	want := make([]float64, m.NumFeatures())
	out := make([]float64, m.NumFeatures()+1)
	for i := range d.Rows() {
		if err := m.Contributions(row(d, i), out); err != nil {
			t.Fatal(err)
		}
		for j := range want {
			want[j] += math.Abs(out[j]) / float64(d.Rows())
		}
	}
	for j := range want {
		if math.Float64bits(got[0][j]) != math.Float64bits(got[1][j]) {
			t.Errorf("feature %d: %v on 1 core, %v on 4", j, got[0][j], got[1][j])
		}
		if math.Abs(got[0][j]-want[j]) > 1e-12 {
			t.Errorf("feature %d: %v, want the mean %v", j, got[0][j], want[j])
		}
	}
}
