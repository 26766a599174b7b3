package drift

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/churnops/churnops/internal/snapshot"
)

// Evidently's default statistic thresholds.
const (
	pValueThreshold   = 0.05
	distanceThreshold = 0.1
)

// Histogram layout: Evidently bins a numerical column with more than
// binnedMinDistinct distinct reference values (get_binned_data). The HTML
// also bins when a column has more than maxBars distinct values in all,
// and folds categories beyond maxBars into one "other" bar.
const (
	binnedMinDistinct = 20
	maxBars           = 30
)

// scratch holds buffers reused from column to column, so that a report
// allocates little beyond its results.
type scratch struct {
	ref, cur []float64
	vals     []float64
	rc, cc   []int
}

// newScratch sizes the buffers for the longest columns, so that they never
// grow.
func newScratch(ref, cur []snapshot.Column) *scratch {
	var nr, nc int
	for _, c := range ref {
		nr = max(nr, len(c.Num))
	}
	for _, c := range cur {
		nc = max(nc, len(c.Num))
	}
	return &scratch{
		ref:  make([]float64, 0, nr),
		cur:  make([]float64, 0, nc),
		vals: make([]float64, 0, nr+nc),
		rc:   make([]int, 0, nr+nc),
		cc:   make([]int, 0, nr+nc),
	}
}

// compareColumn runs the default test on one pair of columns of the same
// name and kind.
func compareColumn(r, c *snapshot.Column, s *scratch) (ColumnResult, error) {
	if r.Kind == snapshot.Numerical {
		if r.Num == nil || c.Num == nil {
			return ColumnResult{}, fmt.Errorf("%w: numerical column without numbers", ErrSchema)
		}
		return compareNumerical(r.Num, c.Num, s)
	}
	ref, err := categories(r)
	if err != nil {
		return ColumnResult{}, err
	}
	cur, err := categories(c)
	if err != nil {
		return ColumnResult{}, err
	}
	return compareCategorical(ref, cur)
}

// compareNumerical drops missing and infinite values, sorts each side once
// and picks Evidently's test: with at most 1000 reference values K-S when
// there are more than 5 distinct values, else chi-square (3–5) or the
// Z-test (1–2); with more, the normed Wasserstein distance (more than 5
// distinct values) or the Jensen–Shannon distance.
func compareNumerical(refIn, curIn []float64, s *scratch) (ColumnResult, error) {
	ref := appendFinite(s.ref[:0], refIn)
	cur := appendFinite(s.cur[:0], curIn)
	s.ref, s.cur = ref, cur
	if len(ref) == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no finite value in the reference", ErrEmptyColumn)
	}
	if len(cur) == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no finite value in the current month", ErrEmptyColumn)
	}
	slices.Sort(ref)
	slices.Sort(cur)
	vals, rc, cc := valueCounts(ref, cur, s)
	refDistinct := 0
	for _, n := range rc {
		if n > 0 {
			refDistinct++
		}
	}
	res := ColumnResult{
		Type:       snapshot.Numerical.String(),
		NReference: len(ref),
		NCurrent:   len(cur),
		Distinct:   len(vals),
		Histogram:  numericalHistogram(ref, cur, vals, rc, cc, refDistinct),
	}
	k, n := len(vals), len(ref)
	switch {
	case n <= smallSampleMax && k > 5:
		res.Test, res.StatThreshold = TestKS, pValueThreshold
		res.Score = ksPValue(ref, cur)
		res.Drifted = res.Score <= res.StatThreshold
	case n <= smallSampleMax && k > 2:
		res.setChiSquare(rc, cc)
	case n <= smallSampleMax:
		res.setZ(rc[0], cc[0])
	case k > 5:
		res.Test, res.StatThreshold = TestWasserstein, distanceThreshold
		res.Score = wassersteinNormed(ref, cur)
		res.Drifted = res.Score >= res.StatThreshold
	default:
		// Evidently's get_binned_data would bin a column with more than 20
		// distinct reference values; with k <= 5 the counts are per value,
		// which is what the histogram holds.
		res.setJS(res.Histogram)
	}
	return res, nil
}

// setChiSquare applies Evidently's chi-square test to per-value counts.
func (res *ColumnResult) setChiSquare(rc, cc []int) {
	res.Test, res.StatThreshold = TestChiSquare, pValueThreshold
	res.Score = chiSquarePValue(rc, cc, res.NReference, res.NCurrent)
	res.Drifted = res.Score < res.StatThreshold
}

// setZ applies Evidently's Z-test given how many rows hold the first
// (smallest) value on each side.
func (res *ColumnResult) setZ(refFirst, curFirst int) {
	res.Test, res.StatThreshold = TestZ, pValueThreshold
	res.Score = zTestPValue(res.NReference-refFirst, res.NCurrent-curFirst, res.NReference, res.NCurrent)
	res.Drifted = res.Score < res.StatThreshold
}

// setJS applies Evidently's Jensen–Shannon test to the shares of each
// side falling in each bin of h.
func (res *ColumnResult) setJS(h Histogram) {
	res.Test, res.StatThreshold = TestJS, distanceThreshold
	p := make([]float64, len(h.Reference))
	q := make([]float64, len(h.Current))
	for i := range p {
		p[i] = float64(h.Reference[i]) / float64(res.NReference)
		q[i] = float64(h.Current[i]) / float64(res.NCurrent)
	}
	res.Score = jensenShannon(p, q)
	res.Drifted = res.Score >= res.StatThreshold
}

// appendFinite appends the finite values of src to dst.
func appendFinite(dst, src []float64) []float64 {
	for _, v := range src {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			dst = append(dst, v)
		}
	}
	return dst
}

// valueCounts merges two sorted samples into their distinct values and
// the count of each value on each side.
func valueCounts(ref, cur []float64, s *scratch) (vals []float64, rc, cc []int) {
	vals, rc, cc = s.vals[:0], s.rc[:0], s.cc[:0]
	i, j := 0, 0
	for i < len(ref) || j < len(cur) {
		var v float64
		if j >= len(cur) || (i < len(ref) && ref[i] <= cur[j]) {
			v = ref[i]
		} else {
			v = cur[j]
		}
		i0, j0 := i, j
		for i < len(ref) && ref[i] == v {
			i++
		}
		for j < len(cur) && cur[j] == v {
			j++
		}
		vals = append(vals, v)
		rc = append(rc, i-i0)
		cc = append(cc, j-j0)
	}
	s.vals, s.rc, s.cc = vals, rc, cc
	return vals, rc, cc
}

// numericalHistogram lays out a numerical column as Evidently's
// get_binned_data does: Sturges bins over both samples when the reference
// has more than 20 distinct values, else one bin per value. Columns with
// too many values for one bar each are binned too.
func numericalHistogram(ref, cur, vals []float64, rc, cc []int, refDistinct int) Histogram {
	if refDistinct <= binnedMinDistinct && len(vals) <= maxBars {
		h := Histogram{
			Labels:    make([]string, len(vals)),
			Reference: slices.Clone(rc),
			Current:   slices.Clone(cc),
		}
		for i, v := range vals {
			h.Labels[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return h
	}
	edges := sturgesEdges(vals[0], vals[len(vals)-1], len(ref)+len(cur))
	h := Histogram{
		Labels:    make([]string, len(edges)-1),
		Edges:     edges,
		Reference: histogram(ref, edges),
		Current:   histogram(cur, edges),
	}
	for i := range h.Labels {
		closing := ")"
		if i == len(h.Labels)-1 {
			closing = "]"
		}
		h.Labels[i] = "[" + formatEdge(edges[i]) + ", " + formatEdge(edges[i+1]) + closing
	}
	return h
}

func formatEdge(v float64) string { return strconv.FormatFloat(v, 'g', 4, 64) }

// categories returns a categorical column's values, "" for missing. A
// categorical column given only as numbers (booleans as 0/1) is read by
// value, NaN being missing.
func categories(c *snapshot.Column) ([]string, error) {
	if c.Cat != nil {
		return c.Cat, nil
	}
	if c.Num == nil {
		return nil, fmt.Errorf("%w: categorical column without values", ErrSchema)
	}
	out := make([]string, len(c.Num))
	for i, v := range c.Num {
		if !math.IsNaN(v) {
			out[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return out, nil
}

// compareCategorical counts each category ("" is missing and dropped) and
// picks Evidently's test: with at most 1000 reference values chi-square
// (more than 2 categories in all) or the Z-test, else the Jensen–Shannon
// distance between the category frequencies.
func compareCategorical(refIn, curIn []string) (ColumnResult, error) {
	var counts categoryCounter
	nRef := counts.add(refIn, 0)
	nCur := counts.add(curIn, 1)
	if nRef == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no value in the reference", ErrEmptyColumn)
	}
	if nCur == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no value in the current month", ErrEmptyColumn)
	}
	full := counts.histogram()
	keys := full.Labels
	res := ColumnResult{
		Type:       snapshot.Categorical.String(),
		NReference: nRef,
		NCurrent:   nCur,
		Distinct:   len(keys),
		Histogram:  foldCategories(full),
	}
	switch {
	case nRef <= smallSampleMax && len(keys) > 2:
		res.setChiSquare(full.Reference, full.Current)
	case nRef <= smallSampleMax:
		res.setZ(full.Reference[0], full.Current[0])
	default:
		res.setJS(full)
	}
	return res, nil
}

// categoryCounter counts the values of a categorical column on both sides.
// Columns hold a handful of categories, so it scans a short slice and only
// builds a map for columns with many categories.
type categoryCounter struct {
	keys   []string
	counts [][2]int
	index  map[string]int
}

// add counts the non-missing values of vals on side (0 reference, 1
// current) and returns how many there were.
func (c *categoryCounter) add(vals []string, side int) int {
	n := 0
	last := -1 // index of the previous value: runs of equal values are common
	for _, v := range vals {
		if v == "" {
			continue
		}
		n++
		if last >= 0 && c.keys[last] == v {
			c.counts[last][side]++
			continue
		}
		last = c.find(v)
		c.counts[last][side]++
	}
	return n
}

// find returns the index of category v, adding it if new.
func (c *categoryCounter) find(v string) int {
	if c.index != nil {
		if i, ok := c.index[v]; ok {
			return i
		}
	} else {
		for i, k := range c.keys {
			if k == v {
				return i
			}
		}
	}
	c.keys = append(c.keys, v)
	c.counts = append(c.counts, [2]int{})
	i := len(c.keys) - 1
	switch {
	case c.index != nil:
		c.index[v] = i
	case len(c.keys) > 16:
		c.index = make(map[string]int, 2*len(c.keys))
		for j, k := range c.keys {
			c.index[k] = j
		}
	}
	return i
}

// histogram returns the counts as a histogram sorted by category.
func (c *categoryCounter) histogram() Histogram {
	order := make([]int, len(c.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(c.keys[a], c.keys[b]) })
	h := Histogram{Labels: make([]string, len(order)), Reference: make([]int, len(order)), Current: make([]int, len(order))}
	for i, j := range order {
		h.Labels[i], h.Reference[i], h.Current[i] = c.keys[j], c.counts[j][0], c.counts[j][1]
	}
	return h
}

// foldCategories keeps the maxBars-1 most frequent categories of a
// histogram with more than maxBars and sums the rest into one bar.
func foldCategories(h Histogram) Histogram {
	if len(h.Labels) <= maxBars {
		return h
	}
	idx := make([]int, len(h.Labels))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		return cmp.Compare(h.Reference[b]+h.Current[b], h.Reference[a]+h.Current[a])
	})
	keep := idx[:maxBars-1]
	slices.Sort(keep)
	out := Histogram{}
	for _, i := range keep {
		out.Labels = append(out.Labels, h.Labels[i])
		out.Reference = append(out.Reference, h.Reference[i])
		out.Current = append(out.Current, h.Current[i])
	}
	var r, c int
	for _, i := range idx[maxBars-1:] {
		r += h.Reference[i]
		c += h.Current[i]
	}
	out.Labels = append(out.Labels, fmt.Sprintf("other (%d categories)", len(h.Labels)-len(keep)))
	out.Reference = append(out.Reference, r)
	out.Current = append(out.Current, c)
	return out
}
