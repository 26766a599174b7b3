package drift

import (
	"math"
	"math/bits"
)

// This file bounds a numerical column's summary. A continuous column (say
// watch hours, drawn anew for every customer) has about one distinct value
// per row: exact value counts of a 10M-customer month would take tens of
// megabytes per column and as much memory again to merge. Past
// Summary.maxDistinct distinct values, each value is truncated toward zero
// to its b most significant fraction bits, b being the largest that keeps
// the column within the cap.
//
// Why the result does not depend on the sharding: truncating to b bits and
// then to c < b bits is truncating to c bits (the grids are nested), and the
// number of distinct truncated values can only grow with b and with the set
// of rows. So the b a part settles on is at least the b of the whole month,
// a merge starts from the coarser part's b and lowers it until the union
// fits, and every path ends at the same b — the largest that fits the whole
// month — with the same truncated values. (Rounding to nearest would not
// nest: rounding twice can differ from rounding once.)
//
// What it costs: each value moves toward zero by less than one unit in its
// b-th bit, below 2^-b relative. That bounds every statistic read from the
// summary (see approximation below).

// truncate returns v with only its b most significant fraction bits: the
// largest b-bit float of v's binade not beyond v in magnitude.
func truncate(v float64, b int) float64 {
	if b >= exactBits {
		return v
	}
	t := math.Float64frombits(math.Float64bits(v) &^ (1<<(exactBits-b) - 1))
	if t == 0 {
		return 0 // a negative subnormal truncates to -0: one zero only
	}
	return t
}

// ulp returns how far below the next b-bit value up in magnitude v lies:
// every value truncated to v was within this distance of it.
func ulp(v float64, b int) float64 {
	if b >= exactBits {
		return 0
	}
	a := math.Abs(v)
	next := math.Float64frombits(math.Float64bits(a) + 1<<(exactBits-b))
	if math.IsInf(next, 0) || math.IsNaN(next) { // v is in the top binade
		return math.Inf(1)
	}
	return next - a
}

// distinctByBits returns, for every b in [0, exactBits], how many distinct
// values d has once truncated to b bits, in one pass: two neighbours in
// sorted order collapse exactly when they share sign, exponent and their
// first b fraction bits, that is for every b up to the number of leading
// fraction bits they share (or, for a negative subnormal next to zero or
// a positive subnormal, when both truncate to zero).
func distinctByBits(d dist) [exactBits + 1]int {
	var merges [exactBits + 2]int // merges[s]: neighbours sharing exactly s leading fraction bits
	const fracBits = 1<<exactBits - 1
	for i := 1; i < len(d.vals); i++ {
		a, b := math.Float64bits(d.vals[i-1]), math.Float64bits(d.vals[i])
		x := a ^ b
		switch {
		case x>>exactBits == 0: // same sign and exponent
			merges[min(bits.LeadingZeros64(x)-(64-exactBits), exactBits)]++
		case (a|b)&^(1<<63)>>exactBits == 0:
			// Zeros and subnormals of opposite signs: equal once both
			// truncate to zero, which a fraction with z leading zero bits
			// does for b <= z.
			za := bits.LeadingZeros64(a&fracBits) - (64 - exactBits)
			zb := bits.LeadingZeros64(b&fracBits) - (64 - exactBits)
			merges[min(za, zb, exactBits)]++
		}
	}
	var out [exactBits + 1]int
	collapsed := 0 // neighbours equal at b bits: those sharing >= b bits
	for b := exactBits; b >= 0; b-- {
		collapsed += merges[b]
		out[b] = len(d.vals) - collapsed
	}
	return out
}

// truncateDist returns d with its values truncated to b bits (d itself
// when that changes nothing).
func truncateDist(d dist, b int) dist {
	if b >= exactBits {
		return d
	}
	out := dist{n: d.n}
	for i, v := range d.vals {
		t := truncate(v, b)
		if k := len(out.vals); k > 0 && out.vals[k-1] == t {
			out.counts[k-1] += d.counts[i]
			continue
		}
		out.vals = append(out.vals, t)
		out.counts = append(out.counts, d.counts[i])
	}
	return out
}

// fit returns d, whose values hold b bits, within maxDistinct distinct
// values: unchanged if it already is, else truncated to the largest
// number of bits below b that fits (0 if none does: then the values are
// signed powers of two, at most a few thousand).
func fit(d dist, b, maxDistinct int) (dist, int) {
	if len(d.vals) <= maxDistinct {
		return d, b
	}
	counts := distinctByBits(d)
	lo := 0 // the most bits below b that fit, or 0
	for c := b - 1; c > 0; c-- {
		if counts[c] <= maxDistinct {
			lo = c
			break
		}
	}
	return truncateDist(d, lo), lo
}

// Approximation says how a column's figures were approximated and how far
// off they can be.
type Approximation struct {
	// Method names the approximation.
	Method string `json:"method"`
	// ReferenceBits and CurrentBits are the significant fraction bits each
	// month's values kept (52: exact).
	ReferenceBits int `json:"reference_bits"`
	CurrentBits   int `json:"current_bits"`
	// RelativeError bounds the relative error of every value, and so of
	// min, max and quantiles: 2^-bits of the coarser side.
	RelativeError float64 `json:"relative_error"`
	// ScoreBound bounds |score - exact score| for the normed Wasserstein
	// distance (absent for the K-S p-value, which has no such bound).
	ScoreBound *float64 `json:"score_bound,omitempty"`
	// The mean bounds bound each month's |mean - exact mean| (and the mean
	// shift of its values), the std bounds its |std - exact std|.
	ReferenceMeanBound float64 `json:"reference_mean_bound"`
	CurrentMeanBound   float64 `json:"current_mean_bound"`
	ReferenceStdBound  float64 `json:"reference_std_bound"`
	CurrentStdBound    float64 `json:"current_std_bound"`
}

// approxMethod is Approximation.Method.
const approxMethod = "values truncated toward zero to their most significant bits, the same for any sharding"

// shiftBounds returns, for one side truncated to b bits, bounds on the
// mean shift of its values (the Wasserstein distance between the exact
// and the truncated sample, hence also the mean's error) and on the root
// mean square shift (which bounds the std's error).
func shiftBounds(d dist, b int) (mean, rms float64) {
	if b >= exactBits {
		return 0, 0
	}
	var s, ss neumaier
	for i, v := range d.vals {
		u, c := ulp(v, b), float64(d.counts[i])
		s.add(float64(c * u))
		ss.add(float64(c * float64(u*u)))
	}
	return s.value() / float64(d.n), math.Sqrt(ss.value() / float64(d.n))
}

// approximation describes a numerical column whose reference or current
// values were truncated, or returns nil when both are exact. score is the
// column's Wasserstein score when that is its test (nil otherwise): the
// exact score lies within the returned ScoreBound of it.
func approximation(ref, cur dist, refBits, curBits int, test string, score float64) *Approximation {
	if refBits >= exactBits && curBits >= exactBits {
		return nil
	}
	a := &Approximation{
		Method:        approxMethod,
		ReferenceBits: refBits,
		CurrentBits:   curBits,
		RelativeError: math.Ldexp(1, -min(refBits, curBits)),
	}
	a.ReferenceMeanBound, a.ReferenceStdBound = shiftBounds(ref, refBits)
	a.CurrentMeanBound, a.CurrentStdBound = shiftBounds(cur, curBits)
	eW := a.ReferenceMeanBound + a.CurrentMeanBound
	eStd := a.ReferenceStdBound
	for _, f := range []*float64{&a.ReferenceMeanBound, &a.CurrentMeanBound, &a.ReferenceStdBound, &a.CurrentStdBound} {
		if !(*f <= math.MaxFloat64) { // values near the float64 limit: no finite bound, and JSON has no Inf
			*f = math.MaxFloat64
		}
	}
	if test != TestWasserstein {
		return a
	}
	// |W - W'| <= W(ref, ref') + W(cur, cur'), and |std - std'| <= the rms
	// shift: the exact score lies between the extremes below. Rounding in
	// the computation itself is a few ulps of score, far below this.
	w := wassersteinDistance(ref, cur)
	std := populationStd(ref)
	lo := math.Max(w-eW, 0) / math.Max(std+eStd, 0.001)
	hi := (w + eW) / math.Max(std-eStd, 0.001)
	bound := math.Max(score-lo, hi-score)
	if !math.IsInf(bound, 0) && !math.IsNaN(bound) {
		a.ScoreBound = &bound
	}
	return a
}
