package gbdt

import (
	"cmp"
	"math/bits"
	"slices"
)

// Contributions of walked trees from precomputed path tables.
//
// A model too large for lookup tables (the 31-leaf trees the churn recipe
// picks on a large month) would walk each tree with Algorithm 2, whose
// EXTEND and UNWIND arithmetic costs several µs per tree: about a
// millisecond for 64 such trees. Most of that arithmetic does not depend on
// the row. This is the idea of Yang's "Fast TreeSHAP" (v2), taken one step
// further so that a row costs one pass over the upper split nodes and one
// table read per small subtree.
//
// The game of one leaf. Path-dependent TreeSHAP is a sum over leaves. For a
// leaf of value v whose path from the root splits on the distinct features
// U (d of them), let z_j be the product, over the path's splits on feature
// j, of the share of the parent's cover that went the path's way (what a
// row with j unknown follows), and o_j be 1 when the row itself goes the
// path's way at every one of them, else 0. The leaf plays the product game
// v·Π_{j∈S} o_j·Π_{j∈U∖S} z_j over subsets S of U (features outside U are
// null players), whose Shapley values Algorithm 2 sums leaf by leaf:
//
//	φ_i = v·(o_i − z_i)·Σ_{S⊆U∖{i}} w(|S|)·Π_{j∈S} o_j·Π_{j∈U∖{i}∖S} z_j,
//	w(s) = s!·(d−1−s)!/d!.
//
// Only the hot set H = {j : o_j = 1} depends on the row, and a subset S with
// a cold feature (o_j = 0) adds nothing. Write Z(H) = Π_{j∈U∖H} z_j and
//
//	a(T) = Σ_{S⊆T} w(|S|)·Π_{j∈T∖S} z_j    (for T ⊆ U, |T| < d).
//
// Splitting each product into the features of T and the others gives, for a
// cold feature i (i ∉ H: the sum runs over S ⊆ H, and z_i is one of the
// factors of Z(H)):
//
//	φ_i = −v·Z(H)·a(H),
//
// the same for every cold feature of the leaf, and for a hot one (i ∈ H:
// the sum runs over S ⊆ H∖{i}, and U∖{i}∖(H∖{i}) = U∖H):
//
//	φ_i = (1 − z_i)·Z(H)·v·a(H∖{i}).
//
// No division: a zero cover fraction (a child no training row reached) is
// just a factor 0, where Algorithm 2's UNWIND would divide by it. a(T) for
// every subset T of the leaf's features comes from the elementary symmetric
// polynomials of the z_j of T, e_k(T) = e_k(T∖{j}) + z_j·e_{k−1}(T∖{j}), as
// a(T) = Σ_s w(s)·e_{|T|−s}(T) (leafTable).
//
// Units. A leaf's contributions depend on the row only through H, so they
// could be tabulated per leaf over its 2^d hot sets (Fast TreeSHAP v2); a
// row would then still cost a pass over every split node, to find each
// leaf's H, and d additions per leaf. Instead the trees are cut into units:
// the largest subtrees with at most maxUnitSplits splits (up to eight
// leaves by default). The contributions of all of a unit's leaves depend on
// the row only through the hot set of the features on the path to the
// unit's root (d_u of them) and the sides the row takes at the unit's own s
// splits, so a unit keeps, for each of those 2^(d_u+s) patterns, the summed
// contributions to each of its features (computed from its leaves' tables
// of R(T) = v·a(T) with the formulas above). A row then costs:
//
//  1. its routing: one bit per split, the side the row takes there. Each
//     feature's rank among the model's thresholds (a binary search; for a
//     category, its code; missing values have a rank of their own) selects
//     a precomputed mask of the splits that rank sends left, and the
//     routing is the union of the features' masks: a few hundred word ORs
//     instead of a comparison per split;
//  2. one pass over the split nodes above the units (the top splits), in
//     array order (parents before children), giving every node below the
//     hot mask of its path's features. A leaf's features are numbered in
//     the order they first appear on its path, so a node's numbering is a
//     prefix of its descendants' and each split sets its children's masks
//     with one bit: the child the row goes to sets the bit of the node's
//     feature if the feature is new on the path (a feature already cold
//     stays cold), the other child clears it;
//  3. for each unit: its pattern (its splits' routing bits, numbered
//     consecutively within one word, then its root's hot mask), one table
//     row, one addition per feature of the unit.
//
// Units are grouped by their number of features, so the inner loop has a
// fixed trip count, which a branch predictor follows. On the default model
// of a month of a million customers (64 trees of 31 leaves) a row costs
// about a fiftieth of Algorithm 2's walk, for about 14 MB of tables.
//
// Bounds. A unit's pattern has at most maxUnitBits bits, and the tables
// together at most maxPathTableFloats numbers, units admitted smallest
// first. A unit that does not fit is cut into top splits and single leaves
// (units of no split); a leaf whose path has more than maxUnitBits distinct
// features, or one beyond the budget, is computed at request time from the
// same game: EXTEND over its features with the row's o_j, then each
// feature's unwound sum (O(d²), as Algorithm 2 does at a leaf). Routing
// masks that would exceed maxRouteMaskWords are not built: the row is then
// compared with each split. The tests hold all of this to Algorithm 2's walk
// to 1e-12 on random deep trees with missing values and categorical splits,
// and to brute-force Shapley values with zero covers.

// maxUnitSplits is the most splits of a unit. A variable so that tests and
// benchmarks can compare sizes; 0 tabulates single leaves (Fast TreeSHAP v2).
var maxUnitSplits = 7

// maxUnitBits bounds a unit's pattern: the distinct features on the path
// to its root plus its splits (4096 rows). On the 1M-customer default model,
// explaining the lab's customers, 12 bits (14 MB of tables, ~0.15 s to
// build) ran about a fifth faster than 10 (8 MB), and 13 (22 MB) about a
// twentieth faster than 12.
const maxUnitBits = 12

// maxPathTableFloats bounds all of a model's unit tables, in float64
// entries (32 MiB). A variable so that tests can shrink it.
var maxPathTableFloats = 1 << 22

// maxRouteMaskWords bounds the routing masks (one bit per split, per rank
// of its feature: 8 MiB); a model that would need more compares the row
// with each split instead. A variable so that tests can shrink it.
var maxRouteMaskWords = 1 << 20

// pathTables are the explainer of a model that walks its trees.
type pathTables struct {
	roots []int32 // every tree's root (its hot mask starts empty)
	// Routing: bit i of the routing set says the row goes left at split i
	// (the top splits first, in node order, then each unit's splits). It is
	// the union, over the features, of the set of splits the feature's
	// rank sends left: masks[maskOff[f]+rank*words:][:words].
	feats   []rankFeature // per model feature; used: some split reads it
	maskOff []int32
	masks   []uint64
	words   int
	// Without masks (they would exceed maxRouteMaskWords), the routing
	// bits come from comparing the row with each split.
	compare []routeSplit
	top     []pathSplit // the split nodes above the units, in node order
	groups  []unitGroup
	direct  directLeaves
}

// pathSplit is a top split node, as the hot-mask pass reads it; its
// routing bit is its index in pathTables.top.
type pathSplit struct {
	bit    uint64 // the feature's bit in the numbering of the paths through the node
	newBit uint64 // bit when the feature first appears on the path here, else 0
	node   int32  // index in Model.nodes
	left   int32  // index of the left child (the right is left+1)
}

// routeSplit is a split whose routing bit is computed by comparison.
type routeSplit struct {
	value    float64 // numeric threshold: go left when x <= value
	pos      int32   // its routing bit
	node     int32
	feature  int32
	missLeft int32 // numeric: missing values go left (0/1); -1: categorical
}

// unitGroup holds the units with nf features, each unit's data at the
// same stride.
type unitGroup struct {
	nf    int
	units []unitRef
	feats []int32   // nf per unit: the features its table rows add to
	tab   []float64 // per unit, per pattern: nf contributions
}

// unitRef is where a unit's pattern comes from and where its table is.
type unitRef struct {
	root int32 // its root node, whose hot mask is the pattern's high bits
	tab  int32 // where its table starts in unitGroup.tab
	word int32 // the routing word holding its splits' bits
	bit  uint8 // the first of them
	s    uint8 // how many
}

// directLeaves are the leaves computed at request time.
type directLeaves struct {
	nodes []int32
	off   []int32   // into feats and zero; one more than nodes
	feats []int32   // each leaf's path features, in order of first appearance
	zero  []float64 // z_j
	value []float64
}

// unitSpec is a unit (or a direct leaf) found while building the tables:
// its root and the features on the path to it with their z_j so far.
type unitSpec struct {
	root  int32
	feats []int32
	zero  []float64
	size  int // its table's numbers
}

// compilePathTables builds m's path tables, or returns nil when a path has
// more distinct features than a mask holds (more than 64: the model then
// walks its trees with Algorithm 2).
func compilePathTables(m *Model) *pathTables {
	nsplit := make([]int, len(m.nodes)) // splits in each node's subtree
	for i := len(m.nodes) - 1; i >= 0; i-- {
		if n := &m.nodes[i]; n.feature >= 0 {
			nsplit[i] = 1 + nsplit[n.left] + nsplit[n.left+1]
		}
	}
	b := pathBuilder{m: m, nsplit: nsplit, pt: &pathTables{roots: slices.Clone(m.roots)}, ok: true}
	for _, root := range m.roots {
		b.visit(root, nil, nil, true)
	}
	if !b.ok {
		return nil
	}
	// Tables for the smallest units first, within the budget; a unit that
	// does not fit is cut into top splits and single leaves, which are
	// admitted next, smallest first, or computed directly.
	b.budget = maxPathTableFloats
	var kept []unitSpec
	slices.SortStableFunc(b.units, func(a, c unitSpec) int { return cmp.Compare(a.size, c.size) })
	for _, u := range b.units {
		if u.size <= b.budget {
			b.budget -= u.size
			kept = append(kept, u)
			continue
		}
		b.visit(u.root, u.feats, u.zero, false)
	}
	slices.SortStableFunc(b.leaves, func(a, c unitSpec) int { return cmp.Compare(a.size, c.size) })
	for _, u := range b.leaves {
		if u.size <= b.budget {
			b.budget -= u.size
			kept = append(kept, u)
			continue
		}
		b.addDirect(u)
	}
	if !b.ok {
		return nil
	}
	pt := b.pt
	// visit appends a node's split before its children's, but a right
	// subtree after the whole left one; the pass needs parents first, which
	// node order gives (children are stored after their parent).
	slices.SortFunc(pt.top, func(a, c pathSplit) int { return cmp.Compare(a.node, c.node) })
	b.buildGroups(kept)
	b.buildRouting()
	if len(pt.direct.nodes) > 0 {
		pt.direct.off = append(pt.direct.off, int32(len(pt.direct.feats)))
	}
	return pt
}

// pathBuilder collects a model's top splits, units and direct leaves.
type pathBuilder struct {
	m      *Model
	nsplit []int
	pt     *pathTables
	units  []unitSpec // with splits
	leaves []unitSpec // single leaves
	budget int
	ok     bool // false: a path has more than 64 distinct features
	// Per unit built, in order: its split nodes, and its group (by number
	// of features) and index there.
	unitNodes  [][]int32
	unitRefs   [][2]int
	groupIndex map[int]int
}

// visit visits node i reached by a path with features feats (z_j so far in
// zero). With units, a small enough subtree becomes a unit; otherwise i is
// a top split or a single leaf.
func (b *pathBuilder) visit(i int32, feats []int32, zero []float64, units bool) {
	m := b.m
	n := &m.nodes[i]
	if n.feature < 0 {
		if len(feats) == 0 {
			return // a tree that is one leaf: all bias
		}
		u := unitSpec{root: i, feats: feats, zero: zero, size: len(feats) << len(feats)}
		if len(feats) > maxUnitBits {
			b.addDirect(u)
			return
		}
		b.leaves = append(b.leaves, u)
		return
	}
	if units && b.nsplit[i] <= maxUnitSplits && len(feats)+b.nsplit[i] <= maxUnitBits {
		u := unitSpec{root: i, feats: feats, zero: zero}
		u.size = len(b.unitFeatures(u)) << (len(feats) + b.nsplit[i])
		b.units = append(b.units, u)
		return
	}
	k := slices.Index(feats, n.feature)
	s := pathSplit{node: i, left: n.left}
	if k < 0 {
		k = len(feats)
		if k == 64 {
			b.ok = false
			return
		}
		s.newBit = 1 << k
		feats = append(slices.Clip(feats), n.feature)
		zero = append(slices.Clip(zero), 1)
	}
	s.bit = 1 << k
	b.pt.top = append(b.pt.top, s)
	for _, c := range []int32{n.left, n.left + 1} {
		z := slices.Clone(zero)
		z[k] *= m.frac(c, i)
		b.visit(c, feats, z, units)
	}
}

// addDirect records a leaf to compute at request time.
func (b *pathBuilder) addDirect(u unitSpec) {
	d := &b.pt.direct
	d.nodes = append(d.nodes, u.root)
	d.off = append(d.off, int32(len(d.feats)))
	d.feats = append(d.feats, u.feats...)
	d.zero = append(d.zero, u.zero...)
	d.value = append(d.value, b.m.nodes[u.root].value)
}

// unitFeatures lists the features unit u's table adds to: those on the path
// to its root, then the new ones its splits read, in node order.
func (b *pathBuilder) unitFeatures(u unitSpec) []int32 {
	feats := slices.Clone(u.feats)
	for _, i := range b.unitSplits(u.root) {
		if f := b.m.nodes[i].feature; !slices.Contains(feats, f) {
			feats = append(feats, f)
		}
	}
	return feats
}

// unitSplits lists the split nodes of the subtree at root, in node order.
func (b *pathBuilder) unitSplits(root int32) []int32 {
	var out []int32
	var walk func(i int32)
	walk = func(i int32) {
		if n := &b.m.nodes[i]; n.feature >= 0 {
			out = append(out, i)
			walk(n.left)
			walk(n.left + 1)
		}
	}
	walk(root)
	slices.Sort(out)
	return out
}

// unitLeaf is one leaf of a unit while its table is computed.
type unitLeaf struct {
	feats []int32   // the leaf's path features, in order of first appearance
	zero  []float64 // their z_j
	slot  []int     // each feature's column in the unit's table
	steps []unitStep
	tab   []float64 // R(T) over the leaf's features
	rows  []float64 // its contributions, per pattern of the path's hot set and its steps
}

// unitStep is one of a unit's splits on the way to a leaf: bit j of the
// pattern says where the row goes; the leaf's path goes left or not; the
// split's feature is the leaf's feature k, new on the path there or not.
type unitStep struct {
	j, k   int
	left   bool
	newBit bool
}

// buildGroups computes the admitted units' tables and groups them by
// number of splits and of features.
func (b *pathBuilder) buildGroups(units []unitSpec) {
	m := b.m
	groups := map[int]*unitGroup{}
	var keys []int
	var poly []float64
	slices.SortFunc(units, func(a, c unitSpec) int { return cmp.Compare(a.root, c.root) })
	sizes := map[int]int{} // each group's table, so that it is allocated once
	for _, u := range units {
		sizes[len(b.unitFeatures(u))] += u.size
	}
	for _, u := range units {
		splits := b.unitSplits(u.root)
		feats := b.unitFeatures(u)
		du, s, nf := len(u.feats), len(splits), len(feats)
		g := groups[nf]
		if g == nil {
			g = &unitGroup{nf: nf, tab: make([]float64, 0, sizes[nf])}
			groups[nf] = g
			keys = append(keys, nf)
		}
		g.units = append(g.units, unitRef{root: u.root, tab: int32(len(g.tab)), s: uint8(s)})
		b.unitNodes = append(b.unitNodes, splits)
		b.unitRefs = append(b.unitRefs, [2]int{nf, len(g.units) - 1})
		g.feats = append(g.feats, feats...)

		// The unit's leaves, each with its path inside the unit.
		var leaves []unitLeaf
		var walk func(i int32, lf []int32, z []float64, steps []unitStep)
		walk = func(i int32, lf []int32, z []float64, steps []unitStep) {
			n := &m.nodes[i]
			if n.feature < 0 {
				l := unitLeaf{feats: lf, zero: z, steps: steps}
				for _, f := range lf {
					l.slot = append(l.slot, slices.Index(feats, f))
				}
				d := len(lf)
				if need := (d + 1) << d; len(poly) < need {
					poly = make([]float64, need)
				}
				l.tab = leafTable(nil, z, n.value, poly)
				leaves = append(leaves, l)
				return
			}
			k := slices.Index(lf, n.feature)
			isNew := k < 0
			if isNew {
				k = len(lf)
				lf = append(slices.Clip(lf), n.feature)
				z = append(slices.Clip(z), 1)
			}
			j := slices.Index(splits, i)
			for c, left := range []bool{true, false} {
				child := n.left + int32(c)
				cz := slices.Clone(z)
				cz[k] *= m.frac(child, i)
				walk(child, lf, cz, append(slices.Clip(steps), unitStep{j: j, k: k, left: left, newBit: isNew}))
			}
		}
		walk(u.root, u.feats, u.zero, nil)

		// A pattern is the unit's routing bits (bit j: the row goes left at
		// its split j), then the hot mask at its root: the customers who
		// share a hot mask (most of them, below the first splits: the
		// path's features all cold or all hot) then read rows close
		// together. Each leaf's columns depend on the hot mask and on its
		// own steps only: tabulate those (2^(steps+d_u) rows, laid out
		// alike), then add them into every pattern of the unit.
		for li := range leaves {
			l := &leaves[li]
			ns := len(l.steps)
			l.rows = make([]float64, len(l.zero)<<(ns+du))
			for q := range 1 << (ns + du) {
				h := uint64(q >> ns)
				for i, st := range l.steps {
					rowLeft := q>>i&1 == 1
					switch {
					case rowLeft != st.left:
						h &^= 1 << st.k
					case st.newBit:
						h |= 1 << st.k
					}
				}
				l.set(h, l.rows[q*len(l.zero):][:len(l.zero)])
			}
		}
		start := len(g.tab)
		g.tab = slices.Grow(g.tab, nf<<(du+s))[:start+nf<<(du+s)]
		for p := range 1 << (du + s) {
			row := g.tab[start+p*nf:][:nf]
			for li := range leaves {
				l := &leaves[li]
				q := uint64(p>>s) << len(l.steps)
				for i, st := range l.steps {
					q |= uint64(p>>st.j&1) << i
				}
				for k, v := range l.rows[int(q)*len(l.zero):][:len(l.zero)] {
					row[l.slot[k]] += v
				}
			}
		}
	}
	slices.Sort(keys)
	b.groupIndex = map[int]int{}
	for _, k := range keys {
		b.groupIndex[k] = len(b.pt.groups)
		b.pt.groups = append(b.pt.groups, *groups[k])
	}
}

// buildRouting numbers the splits' routing bits (the top splits, then each
// unit's, which stay within one word) and builds each feature's masks.
func (b *pathBuilder) buildRouting() {
	m, pt := b.m, b.pt
	pos := map[int32]int{} // split node -> routing bit
	for i, s := range pt.top {
		pos[s.node] = i
	}
	next := len(pt.top)
	for ui, nodes := range b.unitNodes {
		if len(nodes) == 0 {
			continue // a single leaf: its pattern is its hot mask
		}
		if next%64+len(nodes) > 64 {
			next += 64 - next%64
		}
		ref := b.unitRefs[ui]
		u := &pt.groups[b.groupIndex[ref[0]]].units[ref[1]]
		u.word, u.bit = int32(next/64), uint8(next%64)
		for _, n := range nodes {
			pos[n] = next
			next++
		}
	}
	pt.words = (next + 63) / 64
	pt.feats = make([]rankFeature, len(m.features))
	for j, f := range m.features {
		pt.feats[j] = rankFeature{categorical: f.Categorical, ncat: int32(len(f.Categories))}
	}
	for n := range pos {
		nd := &m.nodes[n]
		f := &pt.feats[nd.feature]
		f.used = true
		if !f.categorical {
			f.cuts = append(f.cuts, nd.value)
		}
	}
	for j := range pt.feats {
		slices.Sort(pt.feats[j].cuts)
		pt.feats[j].cuts = slices.Compact(pt.feats[j].cuts)
	}
	need := 0
	for j := range pt.feats {
		if f := &pt.feats[j]; f.used {
			need += int(f.ranks()) * pt.words
		}
	}
	if need > maxRouteMaskWords {
		for n, p := range pos {
			nd := &m.nodes[n]
			rs := routeSplit{value: nd.value, pos: int32(p), node: n, feature: nd.feature, missLeft: nd.missLeft}
			if nd.catOff >= 0 {
				rs.missLeft = -1
			}
			pt.compare = append(pt.compare, rs)
		}
		slices.SortFunc(pt.compare, func(a, c routeSplit) int { return cmp.Compare(a.pos, c.pos) })
		return
	}
	pt.maskOff = make([]int32, len(m.features))
	for j := range pt.feats {
		pt.maskOff[j] = int32(len(pt.masks))
		if f := &pt.feats[j]; f.used {
			pt.masks = append(pt.masks, make([]uint64, int(f.ranks())*pt.words)...)
		}
	}
	for n, p := range pos {
		nd := &m.nodes[n]
		f := &pt.feats[nd.feature]
		for r := range f.ranks() {
			if routeRank(m, f, n, r) {
				pt.masks[int(pt.maskOff[nd.feature])+int(r)*pt.words+p/64] |= 1 << (p % 64)
			}
		}
	}
}

// routeRank routes rank r of node n's feature (f) through node n.
func routeRank(m *Model, f *rankFeature, n int32, r int32) bool {
	nd := &m.nodes[n]
	switch {
	case r == f.missing():
		return nd.defLeft
	case nd.catOff >= 0:
		return m.cats[int(nd.catOff)+int(r)>>6]&(1<<(r&63)) != 0
	default:
		// v <= threshold exactly when rank <= the threshold's index.
		k, _ := slices.BinarySearch(f.cuts, nd.value)
		return int(r) <= k
	}
}

// set sets leaf l's contributions for hot set h in row, one per feature.
func (l *unitLeaf) set(h uint64, row []float64) {
	zh := 1.0 // Z(H)
	for k, z := range l.zero {
		if h>>k&1 == 0 {
			zh *= z
		}
	}
	cold := zh * l.tab[h]
	for k, z := range l.zero {
		if h>>k&1 != 0 {
			row[k] = (1 - z) * zh * l.tab[h^1<<k]
		} else {
			row[k] = -cold
		}
	}
}

// shapleyWeights returns w(s) = s!·(d−1−s)!/d! for s = 0..d−1.
func shapleyWeights(d int) []float64 {
	w := make([]float64, d)
	w[0] = 1 / float64(d)
	for s := 0; s+1 < d; s++ {
		w[s+1] = w[s] * float64(s+1) / float64(d-1-s)
	}
	return w
}

// leafTable appends R(T) = v·a(T) for every subset T of a leaf's d
// features (bit k of T: feature k) to tab. poly is scratch for the
// elementary symmetric polynomials, (d+1)·2^d long.
func leafTable(tab []float64, zero []float64, v float64, poly []float64) []float64 {
	d := len(zero)
	w := shapleyWeights(d)
	st := d + 1
	e := poly[:st<<d]
	clear(e[:st])
	e[0] = 1 // e_0 of the empty set
	for t := 1; t < 1<<d; t++ {
		j := bits.TrailingZeros(uint(t))
		prev, cur := e[(t&^(1<<j))*st:][:st], e[t*st:][:st]
		z := zero[j]
		cur[0] = prev[0]
		for k := 1; k < st; k++ {
			cur[k] = prev[k] + z*prev[k-1]
		}
	}
	for t := range 1 << d {
		m := bits.OnesCount(uint(t))
		if m == d {
			tab = append(tab, 0) // R(U) is never read
			continue
		}
		ek := e[t*st:]
		a := 0.0
		for s := 0; s <= m; s++ {
			a += w[s] * ek[m-s]
		}
		tab = append(tab, v*a)
	}
	return tab
}

// add adds the contributions of row x to out (the features' part), with
// route (pt.words), hot (one mask per node of the model) and path as
// scratch.
func (pt *pathTables) add(m *Model, x []float64, out []float64, route, hot []uint64, path []pathElem) {
	// Where the row goes at every split: each feature's rank picks the set
	// of splits it sends left.
	route = route[:pt.words]
	clear(route)
	if pt.masks != nil {
		for j := range pt.feats {
			f := &pt.feats[j]
			if !f.used {
				continue
			}
			mask := pt.masks[int(pt.maskOff[j])+int(f.rank(x[j]))*len(route):][:len(route)]
			for w, b := range mask {
				route[w] |= b
			}
		}
	} else {
		for i := range pt.compare {
			s := &pt.compare[i]
			v := x[s.feature]
			var left uint64
			if s.missLeft >= 0 {
				left = uint64(b2i(v <= s.value) | b2i(v != v)&s.missLeft)
			} else if m.catGoesLeft(&m.nodes[s.node], v) {
				left = 1
			}
			route[s.pos>>6] |= left << (s.pos & 63)
		}
	}
	// Hot masks, parents first.
	for _, r := range pt.roots {
		hot[r] = 0
	}
	for i := range pt.top {
		s := &pt.top[i]
		h := hot[s.node]
		into, away := h|s.newBit, h&^s.bit    // the row's child, the other one
		sel := -(route[i>>6] >> (i & 63) & 1) // all ones when the row goes left
		hot[s.left] = into&sel | away&^sel
		hot[s.left+1] = away&sel | into&^sel
	}
	// Each unit: its pattern, then one table row.
	for gi := range pt.groups {
		g := &pt.groups[gi]
		nf := g.nf
		for ui := range g.units {
			u := &g.units[ui]
			p := route[u.word]>>u.bit&(1<<u.s-1) | hot[u.root]<<u.s
			row := g.tab[int(u.tab)+int(p)*nf:][:nf]
			for k, f := range g.feats[ui*nf:][:nf] {
				out[f] += row[k]
			}
		}
	}
	d := &pt.direct
	for li, node := range d.nodes {
		h := hot[node]
		lo, hi := d.off[li], d.off[li+1]
		p := extend(path[:0], 1, 1, -1)
		for k, f := range d.feats[lo:hi] {
			p = extend(p, d.zero[lo+int32(k)], float64(h>>k&1), f)
		}
		v := d.value[li]
		for k := 1; k < len(p); k++ {
			e := &p[k]
			out[e.feature] += unwoundSum(p, k) * (e.one - e.zero) * v
		}
	}
}

// bytes is the memory the tables hold.
func (pt *pathTables) bytes() int {
	n := len(pt.roots)*4 + len(pt.top)*24 + len(pt.maskOff)*4 + len(pt.masks)*8 + len(pt.compare)*24
	for _, f := range pt.feats {
		n += len(f.cuts) * 8
	}
	for _, g := range pt.groups {
		n += len(g.units)*20 + len(g.feats)*4 + len(g.tab)*8
	}
	d := &pt.direct
	return n + len(d.nodes)*4 + len(d.off)*4 + len(d.feats)*4 + len(d.zero)*8 + len(d.value)*8
}
