package gbdt

import (
	"math"
	"slices"
	"sort"
)

// binned is the training view of a dataset: one byte per cell, column by
// column (each feature's histogram reads one contiguous column).
type binned struct {
	cols  [][]uint8   // cols[j][i]: bin of row i for feature j; 0 = missing
	nbins []int       // bins per feature, missing bin included
	upper [][]float64 // numeric features: upper bound of value bin b+1 is upper[j][b]; last is +Inf
}

// histWidth is the room of one feature in a histogram: every bin a byte can
// name, so a bin indexes a feature's histogram without a bounds check.
const histWidth = 256

// binSampleRows bounds the rows whose values place a numeric feature's bin
// edges. Quantiles of a quarter of a million evenly spaced rows are as good
// as the whole column's for 255 bins, and sorting a column of millions
// would cost more than many boosting rounds (LightGBM and scikit-learn
// sample for the same reason). Below it, every row counts.
const binSampleRows = 250_000

// binEdges returns the upper bounds of the value bins of a numeric column:
// at most maxBin bins at quantiles of the non-missing values (of every
// stride-th row above binSampleRows), each bound the midpoint between two
// neighbouring distinct values, the last +Inf.
func binEdges(col []float64, maxBin int) []float64 {
	stride := (len(col) + binSampleRows - 1) / binSampleRows
	vals := make([]float64, 0, len(col)/stride+1)
	for i := 0; i < len(col); i += stride {
		if v := col[i]; !math.IsNaN(v) {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return []float64{math.Inf(1)}
	}
	slices.Sort(vals)
	distinct := slices.Compact(slices.Clone(vals))
	var cuts []float64 // values after which a bin closes
	if len(distinct) <= maxBin {
		cuts = distinct[:len(distinct)-1]
	} else {
		// Quantile cut points, deduplicated; a cut never sits on the maximum.
		last := math.NaN()
		for k := 1; k < maxBin; k++ {
			q := vals[k*len(vals)/maxBin-1] // last value of the k-th quantile group
			if q != last && q < distinct[len(distinct)-1] {
				cuts = append(cuts, q)
				last = q
			}
		}
	}
	upper := make([]float64, 0, len(cuts)+1)
	for _, c := range cuts {
		// Next distinct value above the cut.
		i := sort.SearchFloat64s(distinct, c)
		if mid, ok := float32Cut(c, distinct[i+1]); ok {
			upper = append(upper, mid)
		}
	}
	return append(upper, math.Inf(1))
}

// float32Cut returns the threshold between neighbouring training values
// a < b: not their exact midpoint but the float32 rounding boundary nearest
// it, so that x <= cut exactly when float32(x) <= some float32. A model
// exported to XGBoost, which reads its inputs as float32, then routes every
// float64 input as churnops does (export_xgboost.go). ok is false when a
// and b round to the same float32: no float32 split separates them, so the
// cut is dropped and they share a bin.
func float32Cut(a, b float64) (float64, bool) {
	fa, fb := float32(a), float32(b)
	if fa == fb {
		return 0, false
	}
	f := min(max(float32(a+(b-a)/2), fa), math.Nextafter32(fb, float32(math.Inf(-1))))
	n := math.Nextafter32(f, float32(math.Inf(1)))
	if math.IsInf(float64(n), 0) {
		return float64(f), true
	}
	// The largest float64 that rounds to f or below: the midpoint of f and
	// n (exact in float64) when it rounds to f (ties go to even), else the
	// float64 just below it.
	m := float64(f) + (float64(n)-float64(f))/2
	if float32(m) != f {
		m = math.Nextafter(m, math.Inf(-1))
	}
	return m, true
}

// numBin returns the bin of value v given upper bounds (0 = missing): one
// more than the number of bounds below v.
func numBin(upper []float64, v float64) uint8 {
	if v != v {
		return 0
	}
	lo, hi := 0, len(upper)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if upper[mid] < v {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return uint8(lo + 1)
}

// newBinned bins every column of d (already validated), one feature per
// piece of work. Row k of the result is row order[k] of d; bin edges come
// from all of d's rows.
func newBinned(d *Dataset, maxBin int, order []int32) *binned {
	nf := len(d.Features)
	b := &binned{
		cols:  make([][]uint8, nf),
		nbins: make([]int, nf),
		upper: make([][]float64, nf),
	}
	forEach(nf, nf*d.Rows(), func(j int) {
		col := d.Cols[j]
		out := make([]uint8, len(order))
		if f := d.Features[j]; f.Categorical {
			b.nbins[j] = len(f.Categories) + 1
			for k, i := range order {
				if v := col[i]; !math.IsNaN(v) {
					out[k] = uint8(v) + 1
				}
			}
		} else {
			up := binEdges(col, maxBin)
			b.upper[j] = up
			b.nbins[j] = len(up) + 1
			for k, i := range order {
				out[k] = numBin(up, col[i])
			}
		}
		b.cols[j] = out
	})
	return b
}
