package drift

import (
	"cmp"
	"math"
	"slices"
	"sort"
)

// dist is one side of a numerical column as every statistic here reads
// it: the distinct finite values in ascending order, how many rows hold
// each, and their total. A sample and its dist give the same K-S,
// Wasserstein, histogram and quantiles, since those only depend on the
// empirical distribution; sums (mean, std) are taken over the distinct
// values in ascending order, so they come out the same bits whatever the
// row order or the sharding of the month was.
type dist struct {
	vals   []float64 // strictly increasing, finite, no -0
	counts []int     // counts[i] > 0 rows hold vals[i]
	n      int       // sum of counts
}

// distOf returns the dist of a sample of finite values (tests and the
// summary builder); x is sorted in place and not retained.
func distOf(x []float64) dist {
	slices.Sort(x)
	k := 0
	for i := range x {
		if i == 0 || x[i] != x[i-1] {
			k++
		}
	}
	d := dist{vals: make([]float64, 0, k), counts: make([]int, 0, k), n: len(x)}
	for i := 0; i < len(x); {
		j := i + 1
		for j < len(x) && x[j] == x[i] {
			j++
		}
		v := x[i]
		if v == 0 {
			v = 0 // -0 and 0 are one value, spelled 0
		}
		d.vals = append(d.vals, v)
		d.counts = append(d.counts, j-i)
		i = j
	}
	return d
}

// clone returns a copy that shares no memory with d.
func (d dist) clone() dist {
	return dist{vals: slices.Clone(d.vals), counts: slices.Clone(d.counts), n: d.n}
}

// mergeDists returns the dist of both samples together.
func mergeDists(a, b dist) dist {
	vals, counts := mergeCounts(a.vals, a.counts, b.vals, b.counts)
	return dist{vals: vals, counts: counts, n: a.n + b.n}
}

// mergeCounts merges two sorted, duplicate-free key lists with their
// counts: the union of the keys in order, a key in both with the sum of
// its counts. It is how both a numeric column's values (dist) and a
// categorical column's categories (catDist) are merged, shard by shard.
func mergeCounts[K cmp.Ordered](ak []K, ac []int, bk []K, bc []int) ([]K, []int) {
	keys := make([]K, 0, len(ak)+len(bk))
	counts := make([]int, 0, len(ak)+len(bk))
	i, j := 0, 0
	for i < len(ak) || j < len(bk) {
		switch {
		case j >= len(bk) || (i < len(ak) && ak[i] < bk[j]):
			keys, counts = append(keys, ak[i]), append(counts, ac[i])
			i++
		case i >= len(ak) || bk[j] < ak[i]:
			keys, counts = append(keys, bk[j]), append(counts, bc[j])
			j++
		default:
			keys, counts = append(keys, ak[i]), append(counts, ac[i]+bc[j])
			i++
			j++
		}
	}
	return keys, counts
}

// unionSize is the number of distinct values of a and b together.
func unionSize(a, b dist) int {
	k, i, j := 0, 0, 0
	for i < len(a.vals) || j < len(b.vals) {
		switch {
		case j >= len(b.vals) || (i < len(a.vals) && a.vals[i] < b.vals[j]):
			i++
		case i >= len(a.vals) || b.vals[j] < a.vals[i]:
			j++
		default:
			i++
			j++
		}
		k++
	}
	return k
}

// perValue lays a and b over their distinct values together: the values,
// and each side's count of each (0 where a side lacks the value).
func perValue(a, b dist) (vals []float64, ac, bc []int) {
	i, j := 0, 0
	for i < len(a.vals) || j < len(b.vals) {
		var v float64
		var na, nb int
		switch {
		case j >= len(b.vals) || (i < len(a.vals) && a.vals[i] < b.vals[j]):
			v, na = a.vals[i], a.counts[i]
			i++
		case i >= len(a.vals) || b.vals[j] < a.vals[i]:
			v, nb = b.vals[j], b.counts[j]
			j++
		default:
			v, na, nb = a.vals[i], a.counts[i], b.counts[j]
			i++
			j++
		}
		vals, ac, bc = append(vals, v), append(ac, na), append(bc, nb)
	}
	return vals, ac, bc
}

// cdfWalk calls f at every distinct value v of a and b together, in
// ascending order, with how many rows of each side are <= v, and with the
// next distinct value (ok false at the last one). The K-S statistic and
// the Wasserstein distance are both sums or extrema over this walk, taken
// in the same order scipy takes them.
func cdfWalk(a, b dist, f func(v float64, ca, cb int, next float64, ok bool)) {
	i, j, ca, cb := 0, 0, 0, 0
	for i < len(a.vals) || j < len(b.vals) {
		var v float64
		if j >= len(b.vals) || (i < len(a.vals) && a.vals[i] <= b.vals[j]) {
			v = a.vals[i]
		} else {
			v = b.vals[j]
		}
		if i < len(a.vals) && a.vals[i] == v {
			ca += a.counts[i]
			i++
		}
		if j < len(b.vals) && b.vals[j] == v {
			cb += b.counts[j]
			j++
		}
		switch {
		case i < len(a.vals) && (j >= len(b.vals) || a.vals[i] <= b.vals[j]):
			f(v, ca, cb, a.vals[i], true)
		case j < len(b.vals):
			f(v, ca, cb, b.vals[j], true)
		default:
			f(v, ca, cb, 0, false)
		}
	}
}

// rankValue returns the value of rank r (0-based) in ascending order.
func (d dist) rankValue(r int) float64 {
	c := 0
	for i, n := range d.counts {
		c += n
		if r < c {
			return d.vals[i]
		}
	}
	return d.vals[len(d.vals)-1]
}

// quantile is np.quantile(sample, q) with numpy's default method
// ("linear"): the virtual index (n-1)·q between two order statistics,
// interpolated with numpy's _lerp (which computes from the upper value
// when the fraction is at least one half).
func (d dist) quantile(q float64) float64 {
	h := float64(d.n-1) * q
	lo := math.Floor(h)
	a := d.rankValue(int(lo))
	b := a
	if int(lo)+1 < d.n {
		b = d.rankValue(int(lo) + 1)
	}
	t := h - lo
	diff := b - a
	if t >= 0.5 {
		return b - float64(diff*(1-t))
	}
	return a + float64(diff*t)
}

// neumaier is a compensated sum (Neumaier's variant of Kahan's): sums over
// millions of rows stay accurate to the last bits, and since the terms
// always come in ascending value order the result does not depend on how
// the rows were split.
type neumaier struct{ sum, c float64 }

func (s *neumaier) add(x float64) {
	t := s.sum + x
	if math.Abs(s.sum) >= math.Abs(x) {
		s.c += (s.sum - t) + x
	} else {
		s.c += (x - t) + s.sum
	}
	s.sum = t
}

func (s *neumaier) value() float64 { return s.sum + s.c }

// mean is the mean of the values (exactly the value when there is one).
func (d dist) mean() float64 {
	if len(d.vals) == 1 {
		return d.vals[0]
	}
	var s neumaier
	for i, v := range d.vals {
		s.add(float64(float64(d.counts[i]) * v))
	}
	return s.value() / float64(d.n)
}

// histogramCounts is np.histogram(sample, edges)[0] on a dist: counts per
// bin, each bin half-open [e_i, e_i+1) except the last, which is closed.
func histogramCounts(d dist, edges []float64) []int {
	counts := make([]int, len(edges)-1)
	prev := sort.SearchFloat64s(d.vals, edges[0])
	for i := range counts {
		var next int
		if i == len(counts)-1 {
			next = sort.Search(len(d.vals), func(k int) bool { return d.vals[k] > edges[i+1] })
		} else {
			next = sort.SearchFloat64s(d.vals, edges[i+1])
		}
		for k := prev; k < next; k++ {
			counts[i] += d.counts[k]
		}
		prev = next
	}
	return counts
}
