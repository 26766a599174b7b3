package gbdt_test

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// randNode is one node of a random tree (randomTrees).
type randNode struct {
	feature int // -1: leaf
	value   float64
	left    int
	defLeft bool
	catLeft []int
	cover   float64
}

// randCats are the category counts of randomTrees' categorical features,
// which come after the numeric ones: one word and two words of category set.
var randCats = []int{5, 70}

// randomTrees draws random deep trees over nNumeric numeric features (with
// few distinct thresholds, so rows hit them exactly) and randCats'
// categorical ones, each node below depth 2 a leaf with probability stop: random default directions, categories sent left at
// random, covers split unevenly. With zeroCovers some children are reached
// by no training row (cover 0) and some whole trees saw none, where
// Algorithm 2's UNWIND divides by zero; without, every share is in
// [0.02, 0.98]. It returns the trees and the "model" part of an artifact.
func randomTrees(r *rand.Rand, nNumeric, trees, maxDepth int, stop float64, zeroCovers bool) ([][]randNode, string) {
	var feats []string
	for j := range nNumeric {
		feats = append(feats, fmt.Sprintf(`{"name":"x%d"}`, j))
	}
	for c, k := range randCats {
		names := make([]string, k)
		for i := range names {
			names[i] = fmt.Sprintf(`"c%d"`, i)
		}
		feats = append(feats, fmt.Sprintf(`{"name":"cat%d","categorical":true,"categories":[%s]}`, c, strings.Join(names, ",")))
	}
	nf := nNumeric + len(randCats)
	var all [][]randNode
	var ts []string
	for range trees {
		rootCover := 1 + 100*r.Float64()
		if zeroCovers && r.IntN(20) == 0 {
			rootCover = 0
		}
		nodes := []randNode{{feature: -1, left: -1, cover: rootCover}}
		var grow func(i, depth int)
		grow = func(i, depth int) {
			if depth >= maxDepth || (depth > 2 && r.Float64() < stop) {
				nodes[i].value = r.NormFloat64()
				return
			}
			n := randNode{feature: r.IntN(nf), left: len(nodes), defLeft: r.IntN(2) == 0, cover: nodes[i].cover}
			if n.feature < nNumeric {
				n.value = float64(r.IntN(7)) - 3
			} else {
				n.catLeft = []int{}
				for c := range randCats[n.feature-nNumeric] {
					if r.IntN(2) == 0 {
						n.catLeft = append(n.catLeft, c)
					}
				}
			}
			share := 0.02 + 0.96*r.Float64()
			if zeroCovers {
				switch r.IntN(12) {
				case 0:
					share = 0
				case 1:
					share = 1
				}
			}
			nodes[i] = n
			nodes = append(nodes, randNode{feature: -1, left: -1, cover: n.cover * share}, randNode{feature: -1, left: -1, cover: n.cover - n.cover*share})
			grow(n.left, depth+1)
			grow(n.left+1, depth+1)
		}
		grow(0, 0)
		all = append(all, nodes)
		var f, v, l, dl, cl, cv []string
		for _, n := range nodes {
			f = append(f, fmt.Sprint(n.feature))
			v = append(v, fmt.Sprint(n.value))
			l = append(l, fmt.Sprint(n.left))
			dl = append(dl, fmt.Sprint(n.defLeft))
			cv = append(cv, fmt.Sprint(n.cover))
			if n.catLeft == nil {
				cl = append(cl, "null")
			} else {
				b, _ := json.Marshal(n.catLeft)
				cl = append(cl, string(b))
			}
		}
		ts = append(ts, fmt.Sprintf(`{"feature":[%s],"value":[%s],"left":[%s],"default_left":[%s],"categories_left":[%s],"cover":[%s]}`,
			strings.Join(f, ","), strings.Join(v, ","), strings.Join(l, ","), strings.Join(dl, ","), strings.Join(cl, ","), strings.Join(cv, ",")))
	}
	return all, fmt.Sprintf(`{"features":[%s],"base_score":-0.5,"threshold":0.5,"params":{},"meta":{},"trees":[%s]}`,
		strings.Join(feats, ","), strings.Join(ts, ","))
}

// randomModel loads randomTrees' model, walking its trees (no lookup
// tables), so that it is explained by its path tables.
func randomModel(t *testing.T, r *rand.Rand, nNumeric, trees, maxDepth int, stop float64, zeroCovers bool) ([][]randNode, *gbdt.Model) {
	t.Helper()
	nodes, body := randomTrees(r, nNumeric, trees, maxDepth, stop, zeroCovers)
	m, err := gbdt.Unmarshal(artifactOf(t, body))
	if err != nil {
		t.Fatal(err)
	}
	m.Recompile(1, 1)
	return nodes, m
}

// randomRow draws a row for randomTreesBody's features: thresholds and
// their neighbours, missing values, known and unknown category codes.
func randomRow(r *rand.Rand, nNumeric int, x []float64) {
	for j := range nNumeric {
		switch r.IntN(6) {
		case 0:
			x[j] = math.NaN()
		case 1:
			x[j] = float64(r.IntN(7)) - 3 // on a threshold
		default:
			x[j] = 8*r.Float64() - 4
		}
	}
	for c, k := range randCats {
		switch r.IntN(8) {
		case 0:
			x[nNumeric+c] = math.NaN()
		case 1:
			x[nNumeric+c] = float64(k + r.IntN(3)) // no such category: missing
		default:
			x[nNumeric+c] = float64(r.IntN(k))
		}
	}
}

// TestPathTablesEqualAlgorithm2: the path tables (units of several sizes,
// and the direct computation of leaves without a table) give Algorithm 2's
// contributions to 1e-12 on random deep trees, up to 15 levels and 20
// features, with missing values and categorical splits.
func TestPathTablesEqualAlgorithm2(t *testing.T) {
	tests := []struct {
		name                    string
		numeric, trees, maxDeep int
		stop                    float64 // probability that a node below depth 2 is a leaf
		unitSplits              int
		budget                  int // path tables' budget of entries; 0: every leaf computed directly
		maskWords               int // routing masks' budget; 0: compare with each split
		wantDirect              bool
	}{
		{name: "single-leaf tables", numeric: 6, trees: 8, maxDeep: 9, stop: 0.2, unitSplits: 0, budget: 1 << 22, maskWords: 1 << 20},
		{name: "units of 3 splits", numeric: 6, trees: 8, maxDeep: 9, stop: 0.2, unitSplits: 3, budget: 1 << 22, maskWords: 1 << 20},
		{name: "units of 7 splits", numeric: 6, trees: 8, maxDeep: 9, stop: 0.2, unitSplits: 7, budget: 1 << 22, maskWords: 1 << 20},
		{name: "units, routed by comparisons", numeric: 6, trees: 8, maxDeep: 9, stop: 0.2, unitSplits: 7, budget: 1 << 22, maskWords: 0},
		{name: "deep paths, some direct", numeric: 18, trees: 6, maxDeep: 15, stop: 0.3, unitSplits: 7, budget: 1 << 22, wantDirect: true, maskWords: 1 << 20},
		{name: "budget exhausted", numeric: 8, trees: 12, maxDeep: 12, stop: 0.25, unitSplits: 7, budget: 3000, wantDirect: true, maskWords: 1 << 20},
		{name: "all direct", numeric: 8, trees: 12, maxDeep: 12, stop: 0.25, unitSplits: 7, budget: 0, wantDirect: true, maskWords: 1 << 20},
	}
	for ti, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer gbdt.SetPathTableBudget(tt.budget)()
			defer gbdt.SetUnitSplits(tt.unitSplits)()
			defer gbdt.SetRouteMaskWords(tt.maskWords)()
			r := rand.New(rand.NewPCG(uint64(ti), 15))
			_, m := randomModel(t, r, tt.numeric, tt.trees, tt.maxDeep, tt.stop, false)
			direct := checkPathsKind(t, m, tt.wantDirect)
			if got := m.RoutesByComparison(); got != (tt.maskWords == 0) {
				t.Fatalf("routes by comparison: %t, want %t", got, tt.maskWords == 0)
			}
			nf := m.NumFeatures()
			x, got, want := make([]float64, nf), make([]float64, nf+1), make([]float64, nf+1)
			var worst, worstSum float64
			for range 120 {
				randomRow(r, tt.numeric, x)
				if err := m.Contributions(x, got); err != nil {
					t.Fatal(err)
				}
				if err := m.WalkContributions(x, want); err != nil {
					t.Fatal(err)
				}
				worst = max(worst, maxDiff(t, x, got, want, "Algorithm 2"))
				worstSum = max(worstSum, math.Abs(sum(got)-m.WalkRaw(x)))
			}
			if worstSum > 1e-9 {
				t.Errorf("max |bias + contributions - log-odds| = %.3g", worstSum)
			}
			bytes, err := m.ExplainerBytes()
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d trees, %d leaves computed directly, tables %d KiB: max |paths - Algorithm 2| %.3g, additivity %.3g",
				m.NumTrees(), direct, bytes>>10, worst, worstSum)
		})
	}
}

// TestPathTablesZeroCovers: with children no training row reached (cover
// 0), where Algorithm 2's UNWIND divides by zero, the path tables still
// give the Shapley values of the path-dependent value function, computed
// here by brute force over every subset of features.
func TestPathTablesZeroCovers(t *testing.T) {
	for _, budget := range []int{1 << 22, 0} {
		t.Run(fmt.Sprintf("budget %d", budget), func(t *testing.T) {
			defer gbdt.SetPathTableBudget(budget)()
			r := rand.New(rand.NewPCG(7, 15))
			const numeric = 5
			trees, m := randomModel(t, r, numeric, 10, 7, 0.15, true)
			checkPathsKind(t, m, budget == 0)
			nf := m.NumFeatures()
			x, got := make([]float64, nf), make([]float64, nf+1)
			var worst float64
			for range 40 {
				randomRow(r, numeric, x)
				if err := m.Contributions(x, got); err != nil {
					t.Fatal(err)
				}
				want := bruteShapley(trees, numeric, -0.5, x)
				worst = max(worst, maxDiff(t, x, got, want, "brute force"))
			}
			t.Logf("max |paths - brute force| %.3g", worst)
		})
	}
}

// checkPathsKind checks that m is explained by its path tables, with or
// without leaves computed directly, and returns how many are.
func checkPathsKind(t *testing.T, m *gbdt.Model, wantDirect bool) int {
	t.Helper()
	kind, direct, err := m.ExplainerKind()
	if err != nil {
		t.Fatal(err)
	}
	if kind != "paths" || (direct > 0) != wantDirect {
		t.Fatalf("explainer %s with %d direct leaves; want paths, direct leaves: %t", kind, direct, wantDirect)
	}
	return direct
}

// maxDiff fails the test when got and want differ by more than 1e-12 (or
// one is NaN) and returns their largest difference.
func maxDiff(t *testing.T, x, got, want []float64, what string) float64 {
	t.Helper()
	worst := 0.0
	for j := range got {
		d := math.Abs(got[j] - want[j])
		if !(d <= 1e-12) {
			t.Fatalf("row %v: %d: path tables %v, %s %v", x, j, got[j], what, want[j])
		}
		worst = max(worst, d)
	}
	return worst
}

// bruteShapley computes the Shapley values of the path-dependent value
// function of trees (randomTrees' features) for row x by enumerating every
// subset S of features: v(S) is the trees' output with the features of S
// routed as x routes them and the others integrated out by cover (a child
// gets its share of its parent's cover; nothing when the parent has none).
// The last value is v(∅) plus base, the bias.
func bruteShapley(trees [][]randNode, nNumeric int, base float64, x []float64) []float64 {
	nf := nNumeric + len(randCats)
	goesLeft := func(n randNode, v float64) bool {
		if n.feature < nNumeric {
			return v <= n.value || (v != v && n.defLeft)
		}
		k := randCats[n.feature-nNumeric]
		if v >= 0 && v < float64(k) && v == math.Trunc(v) {
			return slices.Contains(n.catLeft, int(v))
		}
		return n.defLeft
	}
	value := func(set int) float64 {
		total := 0.0
		for _, nodes := range trees {
			var ev func(i int) float64
			ev = func(i int) float64 {
				n := nodes[i]
				if n.feature < 0 {
					return n.value
				}
				if set>>n.feature&1 != 0 {
					if goesLeft(n, x[n.feature]) {
						return ev(n.left)
					}
					return ev(n.left + 1)
				}
				if n.cover == 0 {
					return 0
				}
				return nodes[n.left].cover/n.cover*ev(n.left) + nodes[n.left+1].cover/n.cover*ev(n.left+1)
			}
			total += ev(0)
		}
		return total
	}
	v := make([]float64, 1<<nf)
	for s := range v {
		v[s] = value(s)
	}
	fact := func(n int) float64 {
		f := 1.0
		for k := 2; k <= n; k++ {
			f *= float64(k)
		}
		return f
	}
	phi := make([]float64, nf+1)
	for i := range nf {
		for s := range v {
			if s>>i&1 != 0 {
				continue
			}
			k := bits.OnesCount(uint(s))
			phi[i] += fact(k) * fact(nf-k-1) / fact(nf) * (v[s|1<<i] - v[s])
		}
	}
	phi[nf] = base + v[0]
	return phi
}
