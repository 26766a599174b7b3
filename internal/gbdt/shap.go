package gbdt

import (
	"errors"
	"fmt"
	"math"
	"sync"
)

// Per-prediction contributions: exact path-dependent TreeSHAP.
//
// Contributions splits one row's log-odds into a bias (the model's expected
// log-odds) plus one contribution per feature, the feature's Shapley value
// (Lundberg, Erion and Lee, "Consistent Individualized Feature Attribution
// for Tree Ensembles", 2018, Algorithm 2; the algorithm behind XGBoost's
// pred_contribs and LightGBM's pred_contrib). The value of a feature subset
// S is the tree's output with the features outside S integrated out along
// the tree, each split sending a row to its children in proportion to their
// covers: the hessian sum of the training rows that reached each child in
// its boosting round (XGBoost's sum_hessian), recorded by training. So
//
//	bias + sum of contributions = PredictRaw(x)
//
// to rounding (tests hold it to 1e-9), and a feature no tree splits on gets
// exactly 0. Missing values and categories are routed exactly as
// prediction routes them: a row follows a split's "hot" child, the one
// PredictRaw sends it to.
//
// Speed. Algorithm 2 costs O(L·D²) per tree of L leaves and depth D: for
// the default churn model (about a thousand depth-2 trees, or 64 trees of
// 31 leaves on a large month) that is too slow for a per-request answer.
// But a tree's contributions depend on a row only through the sides its
// splits send the row to. A compiled model's explainer (tables.go) holds,
// for each table group and each cell, the summed contributions of the
// group's trees to each of the group's features, computed once (with
// Algorithm 2, memoised per tree on the pattern of split outcomes), so
// explaining a row costs what predicting it does — a binary search per
// feature and one read per group — plus an addition per group feature. A
// model too large for tables is explained from path tables
// (shap_paths.go): small subtrees' contributions precomputed for every
// pattern of what the row does at and above them. Algorithm 2's walk
// (shapWalker below) remains the reference the tests hold both to, and the
// fallback for a path of more than 64 distinct features.

// ErrNoCovers is returned when explaining a model whose artifact has no
// node covers: it was trained before they were recorded. It still predicts
// exactly as before; retrain it to get contributions or an XGBoost export.
var ErrNoCovers = errors.New("gbdt: model was trained before contributions (reasons) were supported: it has no node covers; retrain it")

// HasCovers reports whether the model records its nodes' covers, which
// Contributions and the XGBoost export need.
func (m *Model) HasCovers() bool { return m.covers != nil }

// Contributions writes the contributions of row x (encoded as PredictProba
// takes it) to its log-odds into out, which must have NumFeatures()+1
// elements: out[j] is feature j's contribution, out[NumFeatures()] the bias
// (the expected log-odds), and their sum is PredictRaw(x). A positive
// contribution raises the churn risk, a negative one lowers it.
//
// It does not allocate once the model's explainer is built (on the first
// call, or by PrepareContributions) and is safe for concurrent use. It
// returns ErrNoCovers for a model trained before covers were recorded.
func (m *Model) Contributions(x []float64, out []float64) error {
	nf := len(m.features)
	if len(x) < nf {
		return fmt.Errorf("gbdt: row has %d values, model needs %d", len(x), nf)
	}
	if len(out) != nf+1 {
		return fmt.Errorf("gbdt: contributions need %d values (features + bias), got %d", nf+1, len(out))
	}
	e, err := m.explainer()
	if err != nil {
		return err
	}
	clear(out)
	switch {
	case e.tab != nil:
		e.tab.add(m.tab, x, out)
	case e.paths != nil:
		s := e.pathPool.Get().(*shapScratch)
		e.paths.add(m, x, out, s.route, s.hot, s.path)
		e.pathPool.Put(s)
	default:
		e.walk(m, x, out)
	}
	out[nf] = e.bias
	return nil
}

// PrepareContributions builds the model's explainer now rather than on the
// first Contributions call, so that a server pays for it at load time, not
// in a request's latency. It returns ErrNoCovers as Contributions would.
func (m *Model) PrepareContributions() error {
	_, err := m.explainer()
	return err
}

// MeanAbsContributions returns each feature's mean absolute contribution
// over the rows of cols (column-major, laid out as Dataset.Cols): the
// model's global feature importance on those rows, in log-odds. An empty
// set of rows gives zeros. Blocks of rows are explained on every core and
// their sums added in block order, so the result does not depend on the
// number of cores.
func (m *Model) MeanAbsContributions(cols [][]float64) ([]float64, error) {
	nf := len(m.features)
	if len(cols) != nf {
		return nil, fmt.Errorf("gbdt: %d columns, model needs %d", len(cols), nf)
	}
	n := 0
	if nf > 0 {
		n = len(cols[0])
	}
	for j, c := range cols {
		if len(c) != n {
			return nil, fmt.Errorf("gbdt: column %q has %d rows, column %q has %d", m.features[j].Name, len(c), m.features[0].Name, n)
		}
	}
	if err := m.PrepareContributions(); err != nil {
		return nil, err
	}
	nb := blocks(n)
	sums := make([][]float64, nb)
	// An explanation costs hundreds of row visits' worth of work.
	forEach(nb, 256*n, func(b int) {
		lo, hi := blockRange(b, n)
		sum := make([]float64, nf)
		row, out := make([]float64, nf), make([]float64, nf+1)
		for i := lo; i < hi; i++ {
			for j, c := range cols {
				row[j] = c[i]
			}
			_ = m.Contributions(row, out) // the explainer is built: no error
			for j := range sum {
				sum[j] += math.Abs(out[j])
			}
		}
		sums[b] = sum
	})
	total := make([]float64, nf)
	for _, s := range sums {
		for j, v := range s {
			total[j] += v
		}
	}
	if n > 0 {
		for j := range total {
			total[j] /= float64(n)
		}
	}
	return total, nil
}

// explainer is what Contributions precomputes for a model.
type explainer struct {
	bias  float64     // base score + each tree's expected output
	tab   *shapTables // contributions per table cell (a compiled model)
	paths *pathTables // path tables (a model that walks its trees; shap_paths.go)
	// For the walk: the deepest tree and the largest tree, which size the
	// scratch buffers, and a pool of them.
	depth, size int
	pool        sync.Pool // *shapScratch
	pathPool    sync.Pool // *shapScratch for the path tables
}

// explainer returns m's explainer, building it on first use. Two goroutines
// may build it at once; both build the same thing and one is kept.
func (m *Model) explainer() (*explainer, error) {
	if e := m.xp.Load(); e != nil {
		return e, nil
	}
	if m.covers == nil {
		return nil, ErrNoCovers
	}
	e := newExplainer(m)
	if !m.xp.CompareAndSwap(nil, e) {
		return m.xp.Load(), nil
	}
	return e, nil
}

func newExplainer(m *Model) *explainer {
	e := &explainer{bias: m.base}
	mean := make([]float64, len(m.nodes))
	for t, root := range m.roots {
		end := m.treeEnd(t)
		// Children come after their parent: a reverse sweep sees them first.
		for i := end - 1; i >= root; i-- {
			n := &m.nodes[i]
			if n.feature < 0 {
				mean[i] = n.value
				continue
			}
			l, r := n.left, n.left+1
			mean[i] = m.frac(l, i)*mean[l] + m.frac(r, i)*mean[r]
		}
		e.bias += mean[root]
		e.depth = max(e.depth, m.treeDepth(root))
		e.size = max(e.size, int(end-root))
	}
	if m.tab != nil {
		e.tab = compileShapTables(m, e)
	} else {
		e.paths = compilePathTables(m)
	}
	e.pool.New = func() any { return newShapScratch(e.depth, e.size) }
	if e.paths != nil {
		nodes, words := len(m.nodes), e.paths.words
		e.pathPool.New = func() any { return newPathScratch(e.depth, nodes, words) }
	}
	return e
}

// bytes is the memory the explainer holds beyond its scratch buffers: its
// tables.
func (e *explainer) bytes() int {
	switch {
	case e.tab != nil:
		return len(e.tab.cells)*8 + len(e.tab.off)*4
	case e.paths != nil:
		return e.paths.bytes()
	}
	return 0
}

// treeEnd is the index after the last node of tree t.
func (m *Model) treeEnd(t int) int32 {
	if t+1 < len(m.roots) {
		return m.roots[t+1]
	}
	return int32(len(m.nodes))
}

// treeDepth is the depth of the tree at root (a lone leaf has depth 0).
func (m *Model) treeDepth(root int32) int {
	var depth func(i int32) int
	depth = func(i int32) int {
		n := &m.nodes[i]
		if n.feature < 0 {
			return 0
		}
		return 1 + max(depth(n.left), depth(n.left+1))
	}
	return depth(root)
}

// frac is the share of node parent's cover that went to its child: the
// weight with which a row whose feature is unknown follows that child. A
// node no training row reached (cover 0) passes on nothing.
func (m *Model) frac(child, parent int32) float64 {
	if c := m.covers[parent]; c > 0 {
		return m.covers[child] / c
	}
	return 0
}

// goesLeft routes value v through split node n, as walkRaw does.
func (m *Model) goesLeft(n *node, v float64) bool {
	if n.catOff >= 0 {
		return m.catGoesLeft(n, v)
	}
	return v <= n.value || (v != v && n.defLeft)
}

// routeTree records, for every split node of the tree at [root, end),
// whether row x goes left there, in left[i-root].
func (m *Model) routeTree(root, end int32, x []float64, left []bool) {
	for i := root; i < end; i++ {
		if n := &m.nodes[i]; n.feature >= 0 {
			left[i-root] = m.goesLeft(n, x[n.feature])
		}
	}
}

// walk adds every tree's contributions for x to out with Algorithm 2.
func (e *explainer) walk(m *Model, x []float64, out []float64) {
	s := e.pool.Get().(*shapScratch)
	w := shapWalker{m: m, left: s.left, phi: out}
	for t, root := range m.roots {
		end := m.treeEnd(t)
		m.routeTree(root, end, x, s.left)
		w.root = root
		w.tree(s.path)
	}
	e.pool.Put(s)
}

// shapScratch is the working memory of the walk and of the path tables,
// reused through a pool.
type shapScratch struct {
	path []pathElem
	left []bool
	// Path tables: the hot mask of each node of the model, and the
	// routing bit of each split.
	hot, route []uint64
}

// newShapScratch is the walk's scratch for trees of at most size nodes.
func newShapScratch(depth, size int) *shapScratch {
	return &shapScratch{path: newPath(depth), left: make([]bool, size)}
}

// newPathScratch is the path tables' scratch: one hot mask per node, the
// routing words, and a path for the leaves computed directly.
func newPathScratch(depth, nodes, words int) *shapScratch {
	w := make([]uint64, nodes+words)
	return &shapScratch{path: newPath(depth), hot: w[:nodes], route: w[nodes:]}
}

// newPath is room for Algorithm 2's paths in trees of the given depth.
func newPath(depth int) []pathElem {
	// A node at depth d holds a path of at most d+2 elements (the root's
	// placeholder included) and each level keeps its own copy.
	d := depth + 2
	return make([]pathElem, d*(d+1)/2+d)
}

// pathElem is one feature on the path from the root to the current node,
// in Algorithm 2's terms: the fraction of the rows that would follow the
// path when the feature is unknown (zero), whether the row follows it when
// it is known (one: 0 or 1), and w, the weight of the subsets of the
// path's features of one size, which EXTEND and UNWIND maintain.
type pathElem struct {
	feature   int32
	zero, one float64
	w         float64
}

// shapWalker runs Algorithm 2 on one tree of m, with the routing of a row
// given as left (per node of the tree, from its root), adding to phi.
type shapWalker struct {
	m    *Model
	root int32
	left []bool
	phi  []float64
}

// tree explains the tree at w.root. buf must hold newShapScratch's path.
func (w *shapWalker) tree(buf []pathElem) {
	w.recurse(w.root, buf[:0], buf, 1, 1, -1)
}

// recurse visits node i with the parent's path, extended by the feature
// the parent split on (feature f, zero fraction pz, one fraction po); free
// is the scratch from which this level takes its copy of the path.
func (w *shapWalker) recurse(i int32, parent, free []pathElem, pz, po float64, f int32) {
	l := len(parent)
	p := free[: l : l+1]
	copy(p, parent)
	p = extend(p, pz, po, f)
	free = free[l+1:]
	m := w.m
	n := &m.nodes[i]
	if n.feature < 0 {
		for k := 1; k < len(p); k++ {
			e := &p[k]
			w.phi[e.feature] += unwoundSum(p, k) * (e.one - e.zero) * n.value
		}
		return
	}
	hot, cold := n.left, n.left+1
	if !w.left[i-w.root] {
		hot, cold = cold, hot
	}
	iz, io := 1.0, 1.0 // what an earlier split on the same feature contributed
	for k := 1; k < len(p); k++ {
		if p[k].feature == n.feature {
			iz, io = p[k].zero, p[k].one
			p = unwind(p, k)
			break
		}
	}
	w.recurse(hot, p, free, iz*m.frac(hot, i), io, n.feature)
	if cz := iz * m.frac(cold, i); cz != 0 {
		// A cold child reached by no training row adds nothing.
		w.recurse(cold, p, free, cz, 0, n.feature)
	}
}

// extend appends feature f with fractions pz and po to path p (Algorithm
// 2's EXTEND): the weight of each subset size is split between the subsets
// without f (times pz) and with f (times po). p must have room for one more.
func extend(p []pathElem, pz, po float64, f int32) []pathElem {
	l := len(p)
	w0 := 0.0
	if l == 0 {
		w0 = 1
	}
	p = append(p, pathElem{feature: f, zero: pz, one: po, w: w0})
	for i := l - 1; i >= 0; i-- {
		p[i+1].w += po * p[i].w * float64(i+1) / float64(l+1)
		p[i].w = pz * p[i].w * float64(l-i) / float64(l+1)
	}
	return p
}

// unwind removes element k from path p, undoing its extend (UNWIND).
func unwind(p []pathElem, k int) []pathElem {
	l := len(p) - 1
	one, zero := p[k].one, p[k].zero
	next := p[l].w
	for i := l - 1; i >= 0; i-- {
		if one != 0 {
			t := p[i].w
			p[i].w = next * float64(l+1) / (float64(i+1) * one)
			next = t - p[i].w*zero*float64(l-i)/float64(l+1)
		} else {
			p[i].w = p[i].w * float64(l+1) / (zero * float64(l-i))
		}
	}
	for i := k; i < l; i++ {
		p[i].feature, p[i].zero, p[i].one = p[i+1].feature, p[i+1].zero, p[i+1].one
	}
	return p[:l]
}

// unwoundSum is the total weight of path p with element k removed, without
// modifying p: the sum over subset sizes of the Shapley weights for
// element k's feature.
func unwoundSum(p []pathElem, k int) float64 {
	l := len(p) - 1
	one, zero := p[k].one, p[k].zero
	next := p[l].w
	total := 0.0
	switch {
	case one != 0:
		for i := l - 1; i >= 0; i-- {
			t := next / (float64(i+1) * one)
			total += t
			next = p[i].w - t*zero*float64(l-i)
		}
	case zero != 0:
		for i := l - 1; i >= 0; i-- {
			total += p[i].w / (zero * float64(l-i))
		}
	}
	return total * float64(l+1)
}
