package gbdt

import (
	"encoding/binary"
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
//     into a few cells: ranks that every split of the group's trees sends
//     the same way (those between two of its thresholds; missing with
//     whichever side all its splits send missing values) share a cell, and
//     the trees answer the same for all of them. The group's table holds,
//     for each combination of cells, the sum of its trees' leaves, computed
//     once by walking the trees.
//  3. A prediction computes each feature's rank once (a binary search),
//     then adds one table entry per group: base + sum over groups.
//
// The tables give the trees' answer for every input, exactly, except that
// the leaves are summed per group rather than tree by tree: the log-odds
// may differ from the walk in the last bits (about 1e-15). Tests check the
// two against each other on training rows, edge values and fuzzed rows.

// maxTableCells bounds one group's table. Groups whose trees use more cuts
// are split, so the tables stay small enough to stay in cache.
const maxTableCells = 512

// A cell offset within one table is a uint16 (compileTables checks its
// argument; this, the default).
var _ [1<<16 - maxTableCells]struct{}

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
	maps   []uint16       // rank -> cell offset (cell index * stride); shared by group features that split alike
	cells  []float64      // every group's table
	// groupTrees[i] are the trees (indices into Model.roots) of groups[i],
	// for the contributions' tables (shap_tables.go).
	groupTrees [][]int
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
			idx += int32(maps[gf.mapOff+rk[gf.feature]])
		}
		s += t.cells[idx]
	}
	return s
}

// treeReads is what one tree reads: its features (sorted) and, per
// feature, its nodes splitting on it.
type treeReads struct {
	feats []int32
	nodes [][]int32 // per feats entry, indices into Model.nodes
}

func (tr treeReads) key() string {
	var b strings.Builder
	for _, f := range tr.feats {
		b.WriteString(strconv.Itoa(int(f)))
		b.WriteByte(',')
	}
	return b.String()
}

// compileTables builds m's tables, each of at most maxCells cells, or
// returns nil when one tree alone needs more than maxCells or all tables
// more than maxTotal (the model then keeps walking its trees).
func compileTables(m *Model, maxCells, maxTotal int) *tables {
	if len(m.features) > maxTableFeatures || maxCells > 1<<16 { // offsets in a table are uint16
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
	reads := make([]treeReads, len(m.roots))
	var order []string
	byKey := map[string][]int{}
	for ti, root := range m.roots {
		reads[ti] = readsOf(m, root)
		k := reads[ti].key()
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], ti)
	}
	c := &compiler{t: t, m: m, cut: make([]int32, len(m.nodes)), shared: map[string]int32{}}
	for i, n := range m.nodes {
		if n.feature >= 0 && n.catOff < 0 {
			k, _ := slices.BinarySearch(t.feats[n.feature].cuts, n.value)
			c.cut[i] = int32(k)
		}
	}
	for _, k := range order {
		trees := byKey[k]
		for len(trees) > 0 {
			n, parts := c.fit(reads, trees, maxCells)
			if n == 0 {
				return nil
			}
			c.addGroup(reads[trees[0]].feats, parts, trees[:n])
			if len(t.cells) > maxTotal {
				return nil
			}
			trees = trees[n:]
		}
	}
	return t
}

// compiler is what compileTables keeps while it builds t from m.
type compiler struct {
	t      *tables
	m      *Model
	cut    []int32          // per node of m with a numeric split: its threshold's index in the feature's cuts
	shared map[string]int32 // rank map contents -> offset in t.maps
}

// readsOf lists the features and nodes of the tree at root.
func readsOf(m *Model, root int32) treeReads {
	per := map[int32][]int32{}
	stack := []int32{root}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if n := &m.nodes[i]; n.feature >= 0 {
			per[n.feature] = append(per[n.feature], i)
			stack = append(stack, n.left, n.left+1)
		}
	}
	var tr treeReads
	for f := range per {
		tr.feats = append(tr.feats, f)
	}
	slices.Sort(tr.feats)
	for _, f := range tr.feats {
		tr.nodes = append(tr.nodes, per[f])
	}
	return tr
}

// partition is a feature's ranks cut into cells: ranks that every node of
// a table's trees sends the same way share a cell, so the trees answer the
// same for all of them. Cells are numbered by their first rank.
type partition struct {
	cell []int32 // per rank
	n    int32   // cells
}

// split refines p by node: a cell whose ranks the node sends both ways
// becomes two.
func (c *compiler) split(p partition, node int32) partition {
	next := partition{cell: make([]int32, len(p.cell))}
	ids := make([]int32, 2*p.n) // (old cell, direction) -> new cell + 1
	for r, cell := range p.cell {
		k := 2 * cell
		if c.goesLeft(node, int32(r)) {
			k++
		}
		if ids[k] == 0 {
			next.n++
			ids[k] = next.n
		}
		next.cell[r] = ids[k] - 1
	}
	return next
}

// fit returns how many of trees (which read the same features), taken in
// order, fit one table of at most maxCells, and that table's partition of
// each feature's ranks.
func (c *compiler) fit(reads []treeReads, trees []int, maxCells int) (int, []partition) {
	feats := reads[trees[0]].feats
	parts := make([]partition, len(feats))
	for d, f := range feats {
		parts[d] = partition{cell: make([]int32, c.t.feats[f].ranks()), n: 1}
	}
	n := 0
	for _, ti := range trees {
		next := slices.Clone(parts)
		size := 1
		for d := range feats {
			for _, node := range reads[ti].nodes[d] {
				next[d] = c.split(next[d], node)
			}
			size *= int(next[d].n)
		}
		if size > maxCells {
			break
		}
		parts, n = next, n+1
	}
	return n, parts
}

// addGroup appends the table of trees, which read feats, with each
// feature's ranks partitioned into cells by parts. A rank map equal to one
// already built is shared.
func (c *compiler) addGroup(feats []int32, parts []partition, trees []int) {
	t, shared := c.t, c.shared
	g := tableGroup{cellOff: int32(len(t.cells)), lo: int32(len(t.gfeats))}
	strides := make([]int, len(feats))
	size := 1
	for d := len(feats) - 1; d >= 0; d-- {
		strides[d] = size
		size *= int(parts[d].n)
	}
	for d, f := range feats {
		key := binary.LittleEndian.AppendUint32(nil, uint32(f))
		rm := make([]uint16, len(parts[d].cell))
		for r, cell := range parts[d].cell {
			rm[r] = uint16(int(cell) * strides[d])
			key = binary.LittleEndian.AppendUint16(key, rm[r])
		}
		off, ok := shared[string(key)]
		if !ok {
			off = int32(len(t.maps))
			t.maps = append(t.maps, rm...)
			shared[string(key)] = off
		}
		t.gfeats = append(t.gfeats, groupFeature{feature: f, mapOff: off})
	}
	g.hi = int32(len(t.gfeats))

	// Each cell's entry: the trees' leaves at the cell's first rank.
	first := make([][]int32, len(feats))
	for d, p := range parts {
		first[d] = make([]int32, p.n)
		for r := len(p.cell) - 1; r >= 0; r-- {
			first[d][p.cell[r]] = int32(r)
		}
	}
	rk := make([]int32, len(t.feats))
	cell := make([]int32, len(feats))
	for range size {
		for d, f := range feats {
			rk[f] = first[d][cell[d]]
		}
		var s float64
		for _, ti := range trees {
			s += c.leafAt(c.m.roots[ti], rk)
		}
		t.cells = append(t.cells, s)
		for d := len(cell) - 1; d >= 0; d-- { // next cell, last feature fastest
			if cell[d]++; cell[d] < parts[d].n {
				break
			}
			cell[d] = 0
		}
	}
	t.groups = append(t.groups, g)
	t.groupTrees = append(t.groupTrees, trees)
}

// goesLeft routes rank r of node i's feature through node i, as walkRaw
// routes any value of that rank.
func (c *compiler) goesLeft(i, r int32) bool {
	n := &c.m.nodes[i]
	switch {
	case r == c.t.feats[n.feature].missing():
		return n.defLeft
	case n.catOff >= 0:
		return c.m.cats[int(n.catOff)+int(r)>>6]&(1<<(r&63)) != 0
	default:
		return r <= c.cut[i]
	}
}

// leafAt walks the tree at root in rank space and returns its leaf value.
func (c *compiler) leafAt(root int32, rk []int32) float64 {
	i := root
	for {
		n := &c.m.nodes[i]
		if n.feature < 0 {
			return n.value
		}
		if c.goesLeft(i, rk[n.feature]) {
			i = n.left
		} else {
			i = n.left + 1
		}
	}
}
