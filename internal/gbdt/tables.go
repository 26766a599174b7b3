package gbdt

import (
	"math"
	"slices"
	"strconv"
	"strings"
)

// Prediction by lookup tables.
//
// A churn model is hundreds of shallow trees, and each depth-2 tree reads at
// most three features. Summing trees one by one costs a walk per tree; under
// a loaded server that walk is the largest cost of a request we control. So
// a model is also compiled into tables:
//
//  1. Every numeric feature's split thresholds, over all trees, are sorted
//     into one list of cuts. A value's rank is the number of cuts below it,
//     so "x <= threshold k" becomes "rank <= k". A categorical value's rank
//     is its code; missing values and unknown codes get a rank of their own.
//  2. Trees that read the same set of features are grouped (in order, up to
//     maxTableCells per table). Within a group, each feature's ranks fall
//     into a few cells between the cuts the group uses; every tree of the
//     group answers the same leaf for every rank in a cell. The group's
//     table holds, for each combination of cells, the sum of its trees'
//     leaves, computed once by walking the trees.
//  3. A prediction computes each feature's rank once (a binary search),
//     then adds one table entry per group: base + sum over groups.
//
// The tables give the trees' answer for every input, exactly, except that
// the leaves are summed per group rather than tree by tree: the log-odds
// may differ from the walk in the last bits (about 1e-15). Tests check the
// two against each other on real rows, edges and fuzzed values.

// maxTableCells bounds one group's table. Groups whose trees use more cuts
// are split, so the tables stay small enough to stay in cache.
const maxTableCells = 512

// maxTablesTotal bounds the cells of all of a model's tables; a model that
// would need more (deep trees over many features) keeps walking its trees.
const maxTablesTotal = 1 << 20

// maxTableFeatures bounds the features a compiled model may have, so that
// a prediction keeps the ranks on the stack.
const maxTableFeatures = 64

// tables is a model compiled for prediction (see above).
type tables struct {
	feats  []rankFeature // per model feature
	groups []tableGroup
	gfeats []groupFeature // groups' features, groups[i].lo:hi
	maps   []int32        // rank -> cell offset (cell index * stride) per group feature
	cells  []float64      // every group's table
}

// rankFeature turns one feature's value into its rank.
type rankFeature struct {
	used        bool
	categorical bool
	ncat        int32     // categorical: number of categories; rank ncat is missing
	cuts        []float64 // numeric: sorted distinct thresholds; rank len(cuts)+1 is missing
}

func (f *rankFeature) missing() int32 {
	if f.categorical {
		return f.ncat
	}
	return int32(len(f.cuts)) + 1
}

// ranks is the number of distinct ranks (the missing rank included).
func (f *rankFeature) ranks() int32 { return f.missing() + 1 }

// rank returns v's rank: for a numeric feature, the number of cuts strictly
// below v, so that v <= cuts[k] exactly when rank <= k; for a categorical
// one, its code. Missing values, and codes the feature does not have (which
// the walk sends the default way too), get the missing rank.
func (f *rankFeature) rank(v float64) int32 {
	if f.categorical {
		if v >= 0 && v < float64(f.ncat) && v == math.Trunc(v) {
			return int32(v)
		}
		return f.ncat
	}
	if v != v {
		return int32(len(f.cuts)) + 1
	}
	lo, hi := 0, len(f.cuts)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if f.cuts[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return int32(lo)
}

type tableGroup struct {
	cellOff int32
	lo, hi  int32 // gfeats[lo:hi]
}

type groupFeature struct {
	feature int32
	mapOff  int32 // maps[mapOff+rank] is the rank's cell offset
}

// raw returns base plus every group's entry for row x (len(x) >= the
// model's features, checked by the caller).
func (t *tables) raw(x []float64, base float64) float64 {
	var rk [maxTableFeatures]int32
	for j := range t.feats {
		if f := &t.feats[j]; f.used {
			rk[j] = f.rank(x[j])
		}
	}
	s := base
	maps, gfeats := t.maps, t.gfeats
	for _, g := range t.groups {
		idx := g.cellOff
		for _, gf := range gfeats[g.lo:g.hi] {
			idx += maps[gf.mapOff+rk[gf.feature]]
		}
		s += t.cells[idx]
	}
	return s
}

// treeCuts is what one tree reads: per feature (sorted), the cut indices
// its numeric splits use.
type treeCuts struct {
	feats []int32
	cuts  [][]int32 // per feats entry; nil for a categorical feature
}

func (tc treeCuts) key() string {
	var b strings.Builder
	for _, f := range tc.feats {
		b.WriteString(strconv.Itoa(int(f)))
		b.WriteByte(',')
	}
	return b.String()
}

// compileTables builds m's tables, each of at most maxCells cells, or
// returns nil when one tree alone needs more than maxCells or all tables
// more than maxTotal (the model then keeps walking its trees).
func compileTables(m *Model, maxCells, maxTotal int) *tables {
	if len(m.features) > maxTableFeatures {
		return nil
	}
	t := &tables{feats: make([]rankFeature, len(m.features))}
	for j, f := range m.features {
		t.feats[j] = rankFeature{categorical: f.Categorical, ncat: int32(len(f.Categories))}
	}
	for _, n := range m.nodes {
		if n.feature < 0 {
			continue
		}
		f := &t.feats[n.feature]
		f.used = true
		if !f.categorical {
			f.cuts = append(f.cuts, n.value)
		}
	}
	for j := range t.feats {
		slices.Sort(t.feats[j].cuts)
		t.feats[j].cuts = slices.Compact(t.feats[j].cuts)
	}

	// What each tree reads, and the trees grouped by the features they read,
	// in order of first appearance.
	reads := make([]treeCuts, len(m.roots))
	var order []string
	byKey := map[string][]int{}
	for ti, root := range m.roots {
		reads[ti] = t.treeCuts(m, root)
		k := reads[ti].key()
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], ti)
	}
	for _, k := range order {
		trees := byKey[k]
		for len(trees) > 0 {
			n, cuts := t.fit(reads, trees, maxCells)
			if n == 0 {
				return nil
			}
			t.addGroup(m, reads[trees[0]].feats, cuts, trees[:n])
			if len(t.cells) > maxTotal {
				return nil
			}
			trees = trees[n:]
		}
	}
	return t
}

// treeCuts lists the features and cuts the tree at root reads.
func (t *tables) treeCuts(m *Model, root int32) treeCuts {
	per := map[int32][]int32{}
	stack := []int32{root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := &m.nodes[i]
		if n.feature < 0 {
			continue
		}
		c := per[n.feature]
		if n.catOff < 0 {
			k, _ := slices.BinarySearch(t.feats[n.feature].cuts, n.value)
			c = append(c, int32(k))
		}
		per[n.feature] = c
		stack = append(stack, n.left, n.left+1)
	}
	var tc treeCuts
	for f := range per {
		tc.feats = append(tc.feats, f)
	}
	slices.Sort(tc.feats)
	for _, f := range tc.feats {
		c := per[f]
		slices.Sort(c)
		tc.cuts = append(tc.cuts, slices.Compact(c))
	}
	return tc
}

// fit returns how many of trees (which read the same features), taken in
// order, fit one table of at most maxCells, and the cuts per feature that
// table splits on.
func (t *tables) fit(reads []treeCuts, trees []int, maxCells int) (int, [][]int32) {
	feats := reads[trees[0]].feats
	cuts := make([][]int32, len(feats))
	n := 0
	for _, ti := range trees {
		next := make([][]int32, len(feats))
		size := 1
		for d, f := range feats {
			next[d] = slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(cuts[d]), reads[ti].cuts[d]...))))
			size *= t.cellsOf(f, next[d])
		}
		if size > maxCells {
			break
		}
		cuts, n = next, n+1
	}
	return n, cuts
}

// cellsOf is the number of cells of feature f in a table splitting on cuts:
// the ranges between the cuts and the missing cell for a numeric feature,
// every code and the missing cell for a categorical one.
func (t *tables) cellsOf(f int32, cuts []int32) int {
	if t.feats[f].categorical {
		return int(t.feats[f].ncat) + 1
	}
	return len(cuts) + 2
}

// addGroup appends the table of trees, which read feats, split on cuts.
func (t *tables) addGroup(m *Model, feats []int32, cuts [][]int32, trees []int) {
	g := tableGroup{cellOff: int32(len(t.cells)), lo: int32(len(t.gfeats))}
	dims := make([]int, len(feats))
	strides := make([]int, len(feats))
	size := 1
	for d := len(feats) - 1; d >= 0; d-- {
		dims[d] = t.cellsOf(feats[d], cuts[d])
		strides[d] = size
		size *= dims[d]
	}
	for d, f := range feats {
		rf := &t.feats[f]
		gf := groupFeature{feature: f, mapOff: int32(len(t.maps))}
		for r := range rf.ranks() {
			t.maps = append(t.maps, int32(t.cellOf(f, cuts[d], r)*strides[d]))
		}
		t.gfeats = append(t.gfeats, gf)
	}
	g.hi = int32(len(t.gfeats))

	// Each cell's entry: the trees' leaves for a rank inside the cell.
	rk := make([]int32, len(t.feats))
	cell := make([]int, len(feats))
	for range size {
		for d, f := range feats {
			rk[f] = t.rankIn(f, cuts[d], cell[d])
		}
		var s float64
		for _, ti := range trees {
			s += t.leafAt(m, m.roots[ti], rk)
		}
		t.cells = append(t.cells, s)
		for d := len(cell) - 1; d >= 0; d-- { // next cell, last feature fastest
			if cell[d]++; cell[d] < dims[d] {
				break
			}
			cell[d] = 0
		}
	}
	t.groups = append(t.groups, g)
}

// cellOf returns the cell of rank r of feature f in a table splitting on cuts.
func (t *tables) cellOf(f int32, cuts []int32, r int32) int {
	rf := &t.feats[f]
	if rf.categorical || r == rf.missing() {
		if rf.categorical {
			return int(r)
		}
		return len(cuts) + 1
	}
	// The cuts below r: a split on cut k sends r left exactly when r <= k,
	// so ranks between two consecutive cuts all go the same way.
	c, _ := slices.BinarySearch(cuts, r)
	return c
}

// rankIn returns a rank inside cell c of feature f (the inverse of cellOf).
func (t *tables) rankIn(f int32, cuts []int32, c int) int32 {
	rf := &t.feats[f]
	switch {
	case rf.categorical:
		return int32(c)
	case c == len(cuts)+1:
		return rf.missing()
	case c == 0:
		return 0
	default:
		return cuts[c-1] + 1
	}
}

// leafAt walks the tree at root in rank space and returns its leaf value.
func (t *tables) leafAt(m *Model, root int32, rk []int32) float64 {
	i := root
	for {
		n := &m.nodes[i]
		if n.feature < 0 {
			return n.value
		}
		rf := &t.feats[n.feature]
		r := rk[n.feature]
		var left bool
		switch {
		case r == rf.missing():
			left = n.defLeft
		case n.catOff >= 0:
			left = m.cats[int(n.catOff)+int(r)>>6]&(1<<(r&63)) != 0
		default:
			k, _ := slices.BinarySearch(rf.cuts, n.value)
			left = r <= int32(k)
		}
		if left {
			i = n.left
		} else {
			i = n.left + 1
		}
	}
}
