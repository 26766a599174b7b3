package drift

import (
	"math"

	"gonum.org/v1/gonum/stat/distuv"
)

// This file holds the statistics behind Evidently's default drift tests,
// each written to follow the scipy/numpy routine Evidently calls, step by
// step, so that scores agree to floating-point noise:
//
//	K-S p_value                  scipy.stats.ks_2samp(ref, cur) (method "auto")
//	chi-square p_value           scipy.stats.chisquare(f_obs, f_exp)
//	Z-test p_value               evidently's proportions_diff_z_test
//	Wasserstein distance (normed) scipy.stats.wasserstein_distance / max(np.std(ref), 0.001)
//	Jensen-Shannon distance      scipy.spatial.distance.jensenshannon(p, q)
//	Sturges bin edges            np.histogram_bin_edges(ref ∪ cur, bins="sturges")
//
// Each reads a column as a dist (distinct values with their counts, see
// dist.go) rather than as rows: the tests only depend on the empirical
// distributions, and a dist is what a month's Summary holds.
//
// Products that feed a sum are wrapped in float64(...) on purpose: Go may
// otherwise fuse x*y+z into one FMA instruction on arm64 (the Lambda
// architecture), rounding differently from numpy.

// ksMaxExactN is scipy's MAX_AUTO_N: ks_2samp's "auto" method is exact when
// both samples have at most this many values, asymptotic otherwise.
const ksMaxExactN = 10000

// ksStatistic returns the two-sample Kolmogorov–Smirnov statistic of two
// non-empty distributions, computed as scipy does: the empirical CDFs are
// evaluated (as i/n1 and j/n2) at every observed value.
func ksStatistic(x, y dist) float64 {
	n1, n2 := float64(x.n), float64(y.n)
	var maxS, minS float64 // max of cdf1-cdf2, min of cdf1-cdf2
	cdfWalk(x, y, func(_ float64, i, j int, _ float64, _ bool) {
		diff := float64(i)/n1 - float64(j)/n2
		maxS = math.Max(maxS, diff)
		minS = math.Min(minS, diff)
	})
	if -minS > maxS {
		return math.Min(-minS, 1)
	}
	return maxS
}

// ksPValue returns the two-sided p-value of scipy.stats.ks_2samp for two
// non-empty distributions with the default method "auto": the exact
// distribution when both sizes are at most 10,000, else the asymptotic
// one (kstwo.sf at round(n1·n2/(n1+n2))). Like scipy it falls back to the
// asymptotic formula when the exact computation fails.
func ksPValue(x, y dist) float64 {
	n1, n2 := x.n, y.n
	d := ksStatistic(x, y)
	if max(n1, n2) <= ksMaxExactN {
		g := gcd(n1, n2)
		lcm := (n1 / g) * n2
		h := int(math.RoundToEven(d * float64(lcm)))
		d = float64(h) / float64(lcm)
		if h == 0 {
			return 1
		}
		var p float64
		if n1 == n2 {
			p = ksProbOutsideSquare(n1, h)
		} else {
			p = ksOuterProbInside(n1, n2, g, h)
		}
		if p >= 0 && p <= 1 {
			return p
		}
	}
	m, n := float64(max(n1, n2)), float64(min(n1, n2))
	en := m * n / (m + n)
	return clip01(kolmogorovSmirnovSF(int(math.RoundToEven(en)), d))
}

// ksProbOutsideSquare is scipy's _compute_prob_outside_square: the exact
// Pr(D_{n,n} >= h/n) for two samples of equal size n, by a Horner-like
// alternating sum that avoids subtractive cancellation.
func ksProbOutsideSquare(n, h int) float64 {
	var p float64
	for k := n / h; k >= 0; k-- {
		p1 := 1.0
		for j := 0; j < h; j++ {
			p1 = float64(n-k*h-j) * p1 / float64(n+k*h+j+1)
		}
		p = p1 * (1 - p)
	}
	return 2 * p
}

// ksOuterProbInside is scipy's _compute_outer_prob_inside_method: the
// proportion of lattice paths from (0,0) to (m,n) that leave the band
// |x/m - y/n| < h/lcm(m,n), computed directly as 1-p with Viehmann's
// recursion (one sliding column of the path-count matrix).
func ksOuterProbInside(m, n, g, h int) float64 {
	if m < n {
		m, n = n, m
	}
	mg, ng := m/g, n/g
	minj, maxj := 0, min(int(math.Ceil(float64(h)/float64(mg))), n+1)
	curlen := maxj - minj
	a := make([]float64, min(2*maxj+2, n+1))
	for i := range a {
		a[i] = 1
	}
	for i := minj; i < maxj; i++ {
		a[i] = 0
	}
	for i := 1; i <= m; i++ {
		lastminj, lastlen := minj, curlen
		minj = max(int(math.Floor(float64(ng*i-h)/float64(mg)))+1, 0)
		minj = min(minj, n)
		maxj = min(int(math.Ceil(float64(ng*i+h)/float64(mg))), n+1)
		if maxj <= minj {
			return 1
		}
		val := 1.0
		if minj == 0 {
			val = 0
		}
		fi := float64(i)
		for jj := 0; jj < maxj-minj; jj++ {
			j := jj + minj
			val = (float64(a[jj+minj-lastminj]*fi) + float64(val*float64(j))) / float64(i+j)
			a[jj] = val
		}
		curlen = maxj - minj
		if lastlen > curlen {
			for k := maxj - minj; k < min(maxj-minj+lastlen-curlen, len(a)); k++ {
				a[k] = 1
			}
		}
	}
	return a[maxj-minj-1]
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func clip01(p float64) float64 { return math.Min(math.Max(p, 0), 1) }

// chiSquarePValue is Evidently's chi-square test: expected frequencies are
// the reference counts scaled to the current size, and the p-value is
// scipy.stats.chisquare's (upper tail of χ² with len-1 degrees of freedom).
// A category absent from the reference but present in the current data
// has expected frequency 0, an infinite statistic and p-value 0.
func chiSquarePValue(refCounts, curCounts []int, nRef, nCur int) float64 {
	kNorm := float64(nCur) / float64(nRef)
	var stat float64
	for i := range refCounts {
		exp := float64(refCounts[i]) * kNorm
		d := float64(curCounts[i]) - exp
		stat += d * d / exp
	}
	if math.IsInf(stat, 1) {
		return 0
	}
	return distuv.ChiSquared{K: float64(len(refCounts) - 1)}.Survival(stat)
}

// zTestPValue is Evidently's two-proportion Z-test for a column with at
// most two values: the share of rows not equal to the first value in
// reference vs current, a pooled standard error and a two-sided p-value
// 2·(1-Φ(|z|)) (computed that way, as Evidently does). When both samples
// hold the same single value the p-value is 1.
func zTestPValue(refOther, curOther, nRef, nCur int) float64 {
	if (refOther == 0 && curOther == 0) || (refOther == nRef && curOther == nCur) {
		return 1
	}
	n1, n2 := float64(nRef), float64(nCur)
	p1 := float64(refOther) / n1
	p2 := float64(curOther) / n2
	pooled := (float64(p1*n1) + float64(p2*n2)) / (n1 + n2)
	z := (p1 - p2) / math.Sqrt(pooled*(1-pooled)*(1/n1+1/n2))
	return 2 * (1 - normalCDF(math.Abs(z)))
}

// normalCDF is cephes' ndtr as scipy.stats.norm.cdf evaluates it: erf near
// zero, 1 - erfc/2 in the upper tail.
func normalCDF(a float64) float64 {
	x := a * (1 / math.Sqrt2)
	z := math.Abs(x)
	if z < 1 {
		return 0.5 + 0.5*math.Erf(x)
	}
	y := 0.5 * math.Erfc(z)
	if x > 0 {
		y = 1 - y
	}
	return y
}

// wassersteinDistance is scipy.stats.wasserstein_distance for two
// non-empty distributions: the integral of |F_u - F_v| over the merged
// values.
func wassersteinDistance(u, v dist) float64 {
	nu, nv := float64(u.n), float64(v.n)
	var sum float64
	cdfWalk(u, v, func(x float64, i, j int, next float64, ok bool) {
		if ok {
			sum += float64(math.Abs(float64(i)/nu-float64(j)/nv) * (next - x))
		}
	})
	return sum
}

// populationStd is np.std (ddof=0): the mean first, then the mean squared
// deviation from it. Both sums are compensated and run over the distinct
// values in ascending order (numpy sums the rows pairwise in row order:
// the two agree to rounding, about 1e-16 relative).
func populationStd(d dist) float64 {
	mean := d.mean()
	var ss neumaier
	for i, v := range d.vals {
		dv := v - mean
		ss.add(float64(float64(d.counts[i]) * float64(dv*dv)))
	}
	return math.Sqrt(ss.value() / float64(d.n))
}

// wassersteinNormed is Evidently's "Wasserstein distance (normed)": the
// distance divided by the reference's population standard deviation,
// floored at 0.001 so constant references do not divide by zero.
func wassersteinNormed(ref, cur dist) float64 {
	return wassersteinDistance(ref, cur) / math.Max(populationStd(ref), 0.001)
}

// jensenShannon is scipy.spatial.distance.jensenshannon(p, q) with the
// natural logarithm: both vectors are normalised to sum to one, and the
// distance is the square root of the Jensen–Shannon divergence. Evidently
// passes raw frequency vectors (no smoothing of zero counts).
func jensenShannon(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	var left, right float64
	for i := range p {
		pi, qi := p[i]/sp, q[i]/sq
		m := (pi + qi) / 2
		left += relEntr(pi, m)
		right += relEntr(qi, m)
	}
	return math.Sqrt((left + right) / 2)
}

// relEntr is scipy.special.rel_entr.
func relEntr(x, y float64) float64 {
	switch {
	case x > 0 && y > 0:
		return x * math.Log(x/y)
	case x == 0 && y >= 0:
		return 0
	}
	return math.Inf(1)
}

// sturgesEdges is np.histogram_bin_edges(a, bins="sturges") for data with
// the given minimum, maximum and size: Sturges' width ptp/(log2(size)+1),
// ceil(range/width) equal bins, edges laid out as np.linspace does (i·step
// + first, last edge set exactly).
func sturgesEdges(lo, hi float64, size int) []float64 {
	first, last := lo, hi
	if first == last {
		first, last = first-0.5, last+0.5
	}
	nBins := 1
	if width := (hi - lo) / (math.Log2(float64(size)) + 1); width != 0 {
		nBins = int(math.Ceil((last - first) / width))
	}
	return linspace(first, last, nBins+1)
}

// linspace is np.linspace(start, stop, num) with endpoint=True, num >= 2.
func linspace(start, stop float64, num int) []float64 {
	div := float64(num - 1)
	delta := stop - start
	step := delta / div
	out := make([]float64, num)
	for i := range out {
		if step == 0 {
			out[i] = float64(float64(i)/div*delta) + start
		} else {
			out[i] = float64(float64(i)*step) + start
		}
	}
	out[num-1] = stop
	return out
}
