package gbdt

import "slices"

// shapTables are a compiled model's contributions per table cell (see
// shap.go): a tree's contributions depend on a row only through the sides
// its splits send the row to, and every row of one cell of a group's table
// is sent the same way by every split of the group's trees.
type shapTables struct {
	// off[g] is where group g's entries start in cells: for each of its
	// cells (in the table's order), one value per group feature (in
	// tables.gfeats order), the sum of the group's trees' contributions.
	off   []int32
	cells []float64
}

// add adds the contributions of row x to out (the features' part; the
// caller sets the bias).
func (st *shapTables) add(t *tables, x []float64, out []float64) {
	var rk [maxTableFeatures]int32
	for j := range t.feats {
		if f := &t.feats[j]; f.used {
			rk[j] = f.rank(x[j])
		}
	}
	maps, gfeats, cells := t.maps, t.gfeats, st.cells
	for gi, g := range t.groups {
		gf := gfeats[g.lo:g.hi]
		var idx int32
		for _, f := range gf {
			idx += int32(maps[f.mapOff+rk[f.feature]])
		}
		c := cells[st.off[gi]+idx*int32(len(gf)):]
		for d, f := range gf {
			out[f.feature] += c[d]
		}
	}
}

// maxMemoSplits bounds the split nodes of a tree whose contributions are
// memoised per pattern of split outcomes while compiling (2^n patterns).
const maxMemoSplits = 12

// compileShapTables computes every cell's contributions of m's tables.
func compileShapTables(m *Model, e *explainer) *shapTables {
	t := m.tab
	st := &shapTables{off: make([]int32, len(t.groups))}
	// Each numeric split's threshold as an index into its feature's cuts,
	// so that splits route ranks exactly as the tables do.
	cut := make([]int32, len(m.nodes))
	for i, n := range m.nodes {
		if n.feature >= 0 && n.catOff < 0 {
			k, _ := slices.BinarySearch(t.feats[n.feature].cuts, n.value)
			cut[i] = int32(k)
		}
	}
	s := newShapScratch(e.depth, e.size)
	phi := make([]float64, len(m.features))
	rk := make([]int32, len(m.features))
	w := shapWalker{m: m, left: s.left, phi: phi}
	for gi, g := range t.groups {
		gf := t.gfeats[g.lo:g.hi]
		k := len(gf)
		// Each feature's cells, as the offsets its rank map gives them,
		// with one rank of each.
		offs, ranks := make([][]int32, k), make([][]int32, k)
		size := 1
		for d, f := range gf {
			seen := map[uint16]bool{}
			for r := range t.feats[f.feature].ranks() {
				if o := t.maps[f.mapOff+r]; !seen[o] {
					seen[o] = true
					offs[d] = append(offs[d], int32(o))
					ranks[d] = append(ranks[d], r)
				}
			}
			size *= len(offs[d])
		}
		st.off[gi] = int32(len(st.cells))
		st.cells = append(st.cells, make([]float64, size*k)...)
		memos := make([]treeMemo, len(t.groupTrees[gi]))
		cell := make([]int, k)
		for range size {
			var idx int32
			for d, f := range gf {
				idx += offs[d][cell[d]]
				rk[f.feature] = ranks[d][cell[d]]
			}
			dst := st.cells[st.off[gi]+idx*int32(k):][:k]
			for ti, tree := range t.groupTrees[gi] {
				root, end := m.roots[tree], m.treeEnd(tree)
				for i := root; i < end; i++ {
					if m.nodes[i].feature >= 0 {
						s.left[i-root] = rankGoesLeft(m, t, cut, i, rk)
					}
				}
				c := memos[ti].get(m, root, end, s.left)
				if c == nil {
					clear(phi)
					w.root = root
					w.tree(s.path)
					c = make([]float64, k)
					for d, f := range gf {
						c[d] = phi[f.feature]
					}
					memos[ti].put(c)
				}
				for d := range dst {
					dst[d] += c[d]
				}
			}
			for d := k - 1; d >= 0; d-- { // next cell, last feature fastest
				if cell[d]++; cell[d] < len(offs[d]) {
					break
				}
				cell[d] = 0
			}
		}
	}
	return st
}

// rankGoesLeft routes rank rk[f] of node i's feature f through node i, as
// the tables' compiler does (tables.go).
func rankGoesLeft(m *Model, t *tables, cut []int32, i int32, rk []int32) bool {
	n := &m.nodes[i]
	r := rk[n.feature]
	switch {
	case r == t.feats[n.feature].missing():
		return n.defLeft
	case n.catOff >= 0:
		return m.cats[int(n.catOff)+int(r)>>6]&(1<<(r&63)) != 0
	default:
		return r <= cut[i]
	}
}

// treeMemo holds one tree's contributions per pattern of split outcomes
// while a group is compiled; a tree with more than maxMemoSplits splits is
// not memoised.
type treeMemo struct {
	byPattern [][]float64
	key       int
}

// get returns the memoised contributions for the routing left of the tree
// at [root, end), or nil, remembering the pattern for put.
func (tm *treeMemo) get(m *Model, root, end int32, left []bool) []float64 {
	key, bit := 0, 0
	for i := root; i < end; i++ {
		if m.nodes[i].feature >= 0 {
			if bit == maxMemoSplits {
				tm.key = -1
				return nil
			}
			if left[i-root] {
				key |= 1 << bit
			}
			bit++
		}
	}
	if tm.byPattern == nil {
		tm.byPattern = make([][]float64, 1<<bit)
	}
	tm.key = key
	return tm.byPattern[key]
}

func (tm *treeMemo) put(c []float64) {
	if tm.key >= 0 {
		tm.byPattern[tm.key] = c
	}
}
