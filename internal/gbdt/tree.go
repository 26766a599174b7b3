package gbdt

import (
	"slices"
)

// gradPair is one row's first and second derivative of the weighted loss,
// in float32 as LightGBM and XGBoost keep them: half the bytes to stream
// per row, while histograms sum them in float64.
type gradPair struct{ g, h float32 }

// histBin accumulates the gradient statistics of the rows in one bin.
type histBin struct {
	g, h float64
	n    int
}

func (a *histBin) add(b histBin) { a.g += b.g; a.h += b.h; a.n += b.n }

// bitset256 is a set of bins (0..255) of a categorical feature.
type bitset256 [4]uint64

func (s *bitset256) set(b int)         { s[b>>6] |= 1 << (b & 63) }
func (s *bitset256) has(b uint8) bool  { return s[b>>6]&(1<<(b&63)) != 0 }
func (s *bitset256) hasInt(b int) bool { return s[b>>6]&(1<<(b&63)) != 0 }

// splitInfo is a candidate split of a leaf.
type splitInfo struct {
	gain        float64
	feature     int
	threshold   int       // numeric: bins 1..threshold go left
	catLeft     bitset256 // categorical: bins going left
	defaultLeft bool      // where bin 0 (missing) goes
	left, right histBin   // child statistics
	ok          bool
}

// tnode is a node of a tree being trained, in bin space.
type tnode struct {
	leaf        bool
	value       float64 // leaf output, learning rate applied
	feature     int
	threshold   int
	catLeft     bitset256
	categorical bool
	defaultLeft bool
	left        int     // right child is left+1
	cover       float64 // hessian sum of the rows that reached the node (XGBoost's sum_hessian)
}

// ttree is a trained tree in bin space.
type ttree struct{ nodes []tnode }

// goesLeft routes a bin through a split node.
func (n *tnode) goesLeft(bin uint8) bool {
	switch {
	case bin == 0:
		return n.defaultLeft
	case n.categorical:
		return n.catLeft.has(bin)
	default:
		return int(bin) <= n.threshold
	}
}

// value returns the tree's output for row r of the binned data.
func (t *ttree) predict(b *binned, r int32) float64 {
	i := 0
	for {
		n := &t.nodes[i]
		if n.leaf {
			return n.value
		}
		if n.goesLeft(b.cols[n.feature][r]) {
			i = n.left
		} else {
			i = n.left + 1
		}
	}
}

// leafState is a leaf of the tree being grown, with the rows it holds.
type leafState struct {
	node       int
	start, end int // rows are grower.rows[start:end]
	depth      int
	sum        histBin
	hist       []histBin
	best       splitInfo
}

// grower grows one tree at a time over a fixed binned dataset. Its buffers
// are reused across trees.
type grower struct {
	p       *Params
	b       *binned
	cat     []bool // feature is categorical
	grad    []gradPair
	feats   []int // features usable by the current tree
	rows    []int32
	scratch []int32    // partition's buffer, as long as rows
	ordered []gradPair // buildHist's gathered gradients
	nleft   []int      // partition's left counts per block
	pool    [][]histBin
	order   []catStat
	leaves  []leafRows // leaves of the last tree grown
}

// leafRows is a leaf of the last tree grown: its rows are
// grower.rows[start:end] and its output is value.
type leafRows struct {
	start, end int
	value      float64
}

// addLeafValues adds the last tree's output to raw for every row it was
// grown on, without walking the tree.
func (g *grower) addLeafValues(raw []float64) {
	// Each row is in one leaf: one addition per row, in any order.
	forEach(len(g.leaves), len(g.rows), func(k int) {
		l := g.leaves[k]
		for _, r := range g.rows[l.start:l.end] {
			raw[r] += l.value
		}
	})
}

// catStat is one category's statistics when ordering categories.
type catStat struct {
	bin   int
	ratio float64
	st    histBin
}

func (g *grower) getHist() []histBin {
	if n := len(g.pool); n > 0 {
		h := g.pool[n-1]
		g.pool = g.pool[:n-1]
		return h
	}
	return make([]histBin, len(g.b.cols)*histWidth)
}

func (g *grower) putHist(h []histBin) {
	if h != nil {
		g.pool = append(g.pool, h)
	}
}

// featHist is feature j's part of histogram h; a bin indexes it without a
// bounds check.
func featHist(h []histBin, j int) *[histWidth]histBin {
	return (*[histWidth]histBin)(h[j*histWidth : (j+1)*histWidth])
}

// buildHist fills h (for the current features) from rows. Each feature is
// one piece of work, summed in row order by one goroutine, so the sums do
// not depend on the number of cores. When rows are all the dataset's rows
// in order (the root without row sampling) the columns are read straight
// through; otherwise the rows' gradients are first gathered in row order
// (LightGBM's "ordered gradients"), so each feature reads them
// sequentially and only its byte column by row index.
func (g *grower) buildHist(h []histBin, rows []int32, dense bool) {
	var og []gradPair
	if !dense {
		og = g.ordered[:len(rows)]
		forEach(blocks(len(rows)), len(rows), func(b int) {
			lo, hi := blockRange(b, len(rows))
			grad := g.grad
			for k, r := range rows[lo:hi] {
				og[lo+k] = grad[r]
			}
		})
	}
	forEach(len(g.feats), len(rows)*len(g.feats), func(k int) {
		j := g.feats[k]
		hf := featHist(h, j)
		clear(hf[:g.b.nbins[j]])
		col := g.b.cols[j]
		if dense {
			col := col[:len(rows)]
			grad := g.grad[:len(col)]
			for i, bin := range col {
				hb := &hf[bin]
				hb.g += float64(grad[i].g)
				hb.h += float64(grad[i].h)
				hb.n++
			}
			return
		}
		for i, r := range rows {
			hb := &hf[col[r]]
			hb.g += float64(og[i].g)
			hb.h += float64(og[i].h)
			hb.n++
		}
	})
}

// subtractHist sets big = big - small on the current features.
func (g *grower) subtractHist(big, small []histBin) {
	for _, j := range g.feats {
		bf, sf := featHist(big, j), featHist(small, j)
		for k := range g.b.nbins[j] {
			bf[k].g -= sf[k].g
			bf[k].h -= sf[k].h
			bf[k].n -= sf[k].n
		}
	}
}

// score is the loss-reduction term G²/(H+λ) of a node.
func (g *grower) score(s histBin) float64 { return s.g * s.g / (s.h + g.p.Lambda) }

// better reports whether sending `left` to the left child is an allowed
// split that beats best, and if so records its gain and child statistics;
// the caller then fills in what the split is.
func (g *grower) better(best *splitInfo, total, left histBin, parentScore float64) bool {
	right := histBin{g: total.g - left.g, h: total.h - left.h, n: total.n - left.n}
	p := g.p
	if left.n < p.MinSamplesLeaf || right.n < p.MinSamplesLeaf || left.h < p.MinChildWeight || right.h < p.MinChildWeight {
		return false
	}
	gain := g.score(left) + g.score(right) - parentScore
	if gain <= best.gain {
		return false
	}
	best.gain = gain
	best.left, best.right = left, right
	best.ok = true
	return true
}

// splittable reports whether a leaf is deep and large enough to split.
func (g *grower) splittable(l *leafState) bool {
	return l.sum.n >= 2*g.p.MinSamplesLeaf && (g.p.MaxDepth == 0 || l.depth < g.p.MaxDepth)
}

// findSplit searches the best split of a leaf over the current features.
func (g *grower) findSplit(l *leafState) splitInfo {
	if !g.splittable(l) {
		return splitInfo{}
	}
	best := splitInfo{gain: g.p.MinSplitGain}
	parent := g.score(l.sum)
	for _, j := range g.feats {
		hf := featHist(l.hist, j)[:g.b.nbins[j]]
		if g.cat[j] {
			g.findCategorical(&best, j, hf, l.sum, parent)
		} else {
			g.findNumeric(&best, j, hf, l.sum, parent)
		}
	}
	if !best.ok {
		return splitInfo{}
	}
	return best
}

func (g *grower) findNumeric(best *splitInfo, j int, hf []histBin, total histBin, parent float64) {
	miss := hf[0]
	var acc histBin
	for t := 1; t < len(hf); t++ {
		if hf[t].n == 0 {
			continue
		}
		acc.add(hf[t])
		if g.better(best, total, acc, parent) { // missing goes right
			best.feature, best.threshold, best.catLeft = j, t, bitset256{}
			best.defaultLeft = miss.n == 0 && best.left.h >= best.right.h
		}
		if miss.n > 0 {
			withMiss := acc
			withMiss.add(miss)
			if g.better(best, total, withMiss, parent) {
				best.feature, best.threshold, best.catLeft = j, t, bitset256{}
				best.defaultLeft = true
			}
		}
	}
}

// tryCats considers sending the categories in set (with statistics left),
// and optionally the missing bin, to the left child.
func (g *grower) tryCats(best *splitInfo, j int, left, miss, total histBin, parent float64, set *bitset256) {
	if g.better(best, total, left, parent) {
		best.feature, best.threshold, best.catLeft = j, 0, *set
		best.defaultLeft = miss.n == 0 && best.left.h >= best.right.h
	}
	if miss.n > 0 {
		left.add(miss)
		if g.better(best, total, left, parent) {
			best.feature, best.threshold, best.catLeft = j, 0, *set
			best.defaultLeft = true
		}
	}
}

func (g *grower) findCategorical(best *splitInfo, j int, hf []histBin, total histBin, parent float64) {
	miss := hf[0]
	if miss.n > 0 && g.better(best, total, miss, parent) { // missing against every category
		best.feature, best.threshold, best.catLeft = j, 0, bitset256{}
		best.defaultLeft = true
	}
	if len(hf)-1 <= g.p.MaxCatOneHot {
		for c := 1; c < len(hf); c++ {
			if hf[c].n == 0 {
				continue
			}
			var set bitset256
			set.set(c)
			g.tryCats(best, j, hf[c], miss, total, parent, &set)
		}
		return
	}
	g.order = g.order[:0]
	for c := 1; c < len(hf); c++ {
		if hf[c].n > 0 {
			g.order = append(g.order, catStat{bin: c, ratio: hf[c].g / (hf[c].h + g.p.CatSmooth), st: hf[c]})
		}
	}
	slices.SortStableFunc(g.order, func(a, b catStat) int {
		switch {
		case a.ratio < b.ratio:
			return -1
		case a.ratio > b.ratio:
			return 1
		}
		return a.bin - b.bin
	})
	var set bitset256
	var acc histBin
	for i := 0; i+1 < len(g.order); i++ {
		set.set(g.order[i].bin)
		acc.add(g.order[i].st)
		g.tryCats(best, j, acc, miss, total, parent, &set)
	}
}

// partition reorders rows[start:end] so the rows going left come first,
// keeping their order, and returns the boundary. It works block by block:
// each block of rows splits itself into its left rows then its right rows,
// then every block copies its two parts to where they belong, found from
// the counts of the blocks before it. The result is the serial stable
// partition, on any number of cores.
func (g *grower) partition(l *leafState, n *tnode) int {
	rows := g.rows[l.start:l.end]
	col := g.b.cols[n.feature]
	var toLeft [256]bool // routing of every bin, looked up per row
	for b := range g.b.nbins[n.feature] {
		toLeft[b] = n.goesLeft(uint8(b))
	}
	nb := blocks(len(rows))
	if cap(g.nleft) < nb+1 {
		g.nleft = make([]int, nb+1)
	}
	nleft := g.nleft[:nb+1]
	tmp := g.scratch[l.start:l.end]
	forEach(nb, 2*len(rows), func(b int) {
		lo, hi := blockRange(b, len(rows))
		// Left rows to the front of the block's part of tmp, right rows
		// to its back (reversed, put right below).
		w, r := lo, hi
		for _, row := range rows[lo:hi] {
			if toLeft[col[row]] {
				tmp[w] = row
				w++
			} else {
				r--
				tmp[r] = row
			}
		}
		nleft[b+1] = w - lo
	})
	for b := range nb {
		nleft[b+1] += nleft[b]
	}
	mid := nleft[nb]
	forEach(nb, 2*len(rows), func(b int) {
		lo, hi := blockRange(b, len(rows))
		nl := nleft[b+1] - nleft[b]
		copy(rows[nleft[b]:], tmp[lo:lo+nl])
		// Right rows of the blocks before this one: lo - nleft[b].
		dst := rows[mid+lo-nleft[b]:]
		for k, i := 0, hi-1; i >= lo+nl; k, i = k+1, i-1 {
			dst[k] = tmp[i]
		}
	})
	return l.start + mid
}

// grow fits one tree to the current gradients of rows. dense says rows are
// 0, 1, … in order, so the root's histogram reads the columns straight.
func (g *grower) grow(rows []int32, dense bool) ttree {
	g.rows = append(g.rows[:0], rows...)
	if len(g.scratch) < len(rows) {
		g.scratch = make([]int32, len(rows))
		g.ordered = make([]gradPair, len(rows))
	}
	root := &leafState{node: 0, start: 0, end: len(rows), hist: g.getHist()}
	g.buildHist(root.hist, g.rows, dense)
	// The root's sums are any feature's histogram summed, in bin order.
	for _, hb := range featHist(root.hist, g.feats[0])[:g.b.nbins[g.feats[0]]] {
		root.sum.add(hb)
	}
	root.best = g.findSplit(root)
	tree := ttree{nodes: []tnode{{leaf: true}}}
	leaves := []*leafState{root}
	for g.p.MaxLeaves == 0 || len(leaves) < g.p.MaxLeaves {
		bi := -1
		for i, l := range leaves {
			if l.best.ok && (bi < 0 || l.best.gain > leaves[bi].best.gain) {
				bi = i
			}
		}
		if bi < 0 {
			break
		}
		l := leaves[bi]
		s := l.best
		n := &tree.nodes[l.node]
		*n = tnode{
			feature:     s.feature,
			threshold:   s.threshold,
			catLeft:     s.catLeft,
			categorical: g.cat[s.feature],
			defaultLeft: s.defaultLeft,
			left:        len(tree.nodes),
			cover:       l.sum.h,
		}
		mid := g.partition(l, n)
		tree.nodes = append(tree.nodes, tnode{leaf: true}, tnode{leaf: true})
		left := &leafState{node: n.left, start: l.start, end: mid, depth: l.depth + 1, sum: s.left}
		right := &leafState{node: n.left + 1, start: mid, end: l.end, depth: l.depth + 1, sum: s.right}
		// Histogram subtraction: build the smaller child, derive the larger
		// from the parent's. Children that can never split need none.
		small, big := left, right
		if right.end-right.start < left.end-left.start {
			small, big = right, left
		}
		if g.splittable(small) || g.splittable(big) {
			small.hist = g.getHist()
			g.buildHist(small.hist, g.rows[small.start:small.end], false)
			if g.splittable(big) {
				g.subtractHist(l.hist, small.hist)
				big.hist, l.hist = l.hist, nil
			}
		}
		g.putHist(l.hist)
		l.hist = nil
		for _, c := range []*leafState{small, big} {
			if c.hist != nil && g.splittable(c) {
				c.best = g.findSplit(c)
			} else {
				g.putHist(c.hist)
				c.hist = nil
			}
		}
		leaves[bi] = left
		leaves = append(leaves, right)
	}
	g.leaves = g.leaves[:0]
	for _, l := range leaves {
		v := -l.sum.g / (l.sum.h + g.p.Lambda) * g.p.LearningRate
		tree.nodes[l.node].value = v
		tree.nodes[l.node].cover = l.sum.h
		g.putHist(l.hist)
		g.leaves = append(g.leaves, leafRows{start: l.start, end: l.end, value: v})
	}
	return tree
}
