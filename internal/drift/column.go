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

// compareColumn runs the default test on one pair of column summaries of
// the same name and kind.
func compareColumn(r, c *columnSummary) (ColumnResult, error) {
	var res ColumnResult
	var err error
	if r.kind == snapshot.Numerical {
		res, err = compareNumerical(r, c)
	} else {
		res, err = compareCategorical(r.cat, c.cat)
	}
	if err != nil {
		return ColumnResult{}, err
	}
	res.Column = r.name
	res.Reference, res.Current = describe(r), describe(c)
	res.Constant = res.Distinct == 1
	return res, nil
}

// compareNumerical picks Evidently's test for a numerical column: with at
// most 1000 reference values K-S when there are more than 5 distinct
// values, else chi-square (3–5) or the Z-test (1–2); with more, the normed
// Wasserstein distance (more than 5 distinct values) or the Jensen–Shannon
// distance.
func compareNumerical(rs, cs *columnSummary) (ColumnResult, error) {
	ref, cur := rs.num, cs.num
	if ref.n == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no finite value in the reference", ErrEmptyColumn)
	}
	if cur.n == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no finite value in the current month", ErrEmptyColumn)
	}
	k := unionSize(ref, cur)
	res := ColumnResult{
		Type:       snapshot.Numerical.String(),
		NReference: ref.n,
		NCurrent:   cur.n,
		Distinct:   k,
		Histogram:  numericalHistogram(ref, cur, k),
	}
	n := ref.n
	switch {
	case n <= smallSampleMax && k > 5:
		res.Test, res.StatThreshold = TestKS, pValueThreshold
		res.Score = ksPValue(ref, cur)
		res.Drifted = res.Score <= res.StatThreshold
	case n <= smallSampleMax && k > 2:
		res.setChiSquare(res.Histogram.Reference, res.Histogram.Current)
	case n <= smallSampleMax:
		res.setZ(res.Histogram.Reference[0], res.Histogram.Current[0])
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
	res.Approximation = approximation(ref, cur, rs.bits, cs.bits, res.Test, res.Score)
	res.Approximate = res.Approximation != nil
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

// numericalHistogram lays out a numerical column as Evidently's
// get_binned_data does: Sturges bins over both samples when the reference
// has more than 20 distinct values, else one bin per value. Columns with
// too many values for one bar each (k distinct in all) are binned too.
func numericalHistogram(ref, cur dist, k int) Histogram {
	if len(ref.vals) <= binnedMinDistinct && k <= maxBars {
		vals, rc, cc := perValue(ref, cur)
		h := Histogram{Labels: make([]string, len(vals)), Reference: rc, Current: cc}
		for i, v := range vals {
			h.Labels[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
		return h
	}
	lo := math.Min(ref.vals[0], cur.vals[0])
	hi := math.Max(ref.vals[len(ref.vals)-1], cur.vals[len(cur.vals)-1])
	edges := sturgesEdges(lo, hi, ref.n+cur.n)
	h := Histogram{
		Labels:    make([]string, len(edges)-1),
		Edges:     edges,
		Reference: histogramCounts(ref, edges),
		Current:   histogramCounts(cur, edges),
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

// compareCategorical picks Evidently's test for a categorical column
// (missing values already left out): with at most 1000 reference values
// chi-square (more than 2 categories in all) or the Z-test, else the
// Jensen–Shannon distance between the category frequencies.
func compareCategorical(ref, cur catDist) (ColumnResult, error) {
	if ref.n == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no value in the reference", ErrEmptyColumn)
	}
	if cur.n == 0 {
		return ColumnResult{}, fmt.Errorf("%w: no value in the current month", ErrEmptyColumn)
	}
	full := categoryHistogram(ref, cur)
	keys := full.Labels
	res := ColumnResult{
		Type:       snapshot.Categorical.String(),
		NReference: ref.n,
		NCurrent:   cur.n,
		Distinct:   len(keys),
		Histogram:  foldCategories(full),
	}
	switch {
	case ref.n <= smallSampleMax && len(keys) > 2:
		res.setChiSquare(full.Reference, full.Current)
	case ref.n <= smallSampleMax:
		res.setZ(full.Reference[0], full.Current[0])
	default:
		res.setJS(full)
	}
	return res, nil
}

// categoryHistogram lays both sides over their categories together, in
// ascending order.
func categoryHistogram(ref, cur catDist) Histogram {
	var h Histogram
	i, j := 0, 0
	for i < len(ref.keys) || j < len(cur.keys) {
		switch {
		case j >= len(cur.keys) || (i < len(ref.keys) && ref.keys[i] < cur.keys[j]):
			h.Labels, h.Reference, h.Current = append(h.Labels, ref.keys[i]), append(h.Reference, ref.counts[i]), append(h.Current, 0)
			i++
		case i >= len(ref.keys) || cur.keys[j] < ref.keys[i]:
			h.Labels, h.Reference, h.Current = append(h.Labels, cur.keys[j]), append(h.Reference, 0), append(h.Current, cur.counts[j])
			j++
		default:
			h.Labels, h.Reference, h.Current = append(h.Labels, ref.keys[i]), append(h.Reference, ref.counts[i]), append(h.Current, cur.counts[j])
			i++
			j++
		}
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
