package drift

import "math"

// This file ports scipy.stats.kstwo.sf (scipy/stats/_ksstats.py, after
// Simard & L'Ecuyer 2011): the survival function of the two-sided
// one-sample Kolmogorov–Smirnov statistic D_n. ks_2samp uses it, at
// n = round(n1·n2/(n1+n2)), when a sample holds more than 10,000 values.
// Each branch picks the same algorithm scipy picks for the same (n, x).

const (
	ks2p128  = 0x1p128
	ks2m128  = 0x1p-128
	ksMinLog = -708
)

// kolmogorovSmirnovSF returns Pr(D_n >= x).
func kolmogorovSmirnovSF(n int, x float64) float64 {
	if n <= 0 || math.IsNaN(x) {
		return math.NaN()
	}
	fn := float64(n)
	if x >= 1 {
		return 0
	}
	if x <= 0 {
		return 1
	}
	t := fn * x
	if t <= 1 { // Ruben–Gambino: 1/2n <= x <= 1/n
		if t <= 0.5 {
			return 1
		}
		var cdf float64
		if n <= 140 {
			cdf = 1
			for i := 1; i <= n; i++ {
				cdf *= float64(i) * (1 / fn) * (2*t - 1)
			}
		} else {
			cdf = math.Exp(logFactorialOverPower(fn) + fn*math.Log(2*t-1))
		}
		return clip01(1 - cdf)
	}
	if t >= fn-1 { // Ruben–Gambino
		return clip01(2 * math.Pow(1-x, fn))
	}
	if x >= 0.5 { // exactly twice the one-sided tail
		return clip01(2 * smirnovSF(n, x))
	}
	nxx := t * x
	if n <= 140 {
		switch {
		case nxx <= 0.754693:
			return clip01(1 - clip01(kolmogorovDMTW(n, x)))
		case nxx <= 4:
			return clip01(1 - clip01(kolmogorovPomeranz(n, x)))
		}
		return clip01(2 * smirnovSF(n, x))
	}
	if nxx >= 370 {
		return 0
	}
	if nxx >= 2.2 {
		return clip01(2 * smirnovSF(n, x))
	}
	var cdf float64
	switch {
	case nxx >= 18:
		cdf = 1
	case n <= 100000 && fn*math.Pow(x, 1.5) <= 1.4:
		cdf = kolmogorovDMTW(n, x)
	default:
		cdf = kolmogorovPelzGood(n, x)
	}
	return clip01(1 - clip01(cdf))
}

// logFactorialOverPower returns log(n!/n^n) by Stirling's series, with
// n·log(n) removed up front to avoid cancellation.
func logFactorialOverPower(n float64) float64 {
	coeffs := [...]float64{-2.955065359477124183e-2, 6.4102564102564102564e-3,
		-1.9175269175269175269e-3, 8.4175084175084175084e-4,
		-5.952380952380952381e-4, 7.9365079365079365079e-4,
		-2.7777777777777777778e-3, 8.3333333333333333333e-2}
	rn := 1 / n
	u := rn / n
	var poly float64
	for _, c := range coeffs {
		poly = poly*u + c
	}
	return math.Log(n)/2 - n + math.Log(2*math.Pi)/2 + rn*poly
}

// smirnovSF returns Pr(D+_n >= x), the one-sided statistic's tail
// (scipy.special.smirnov), from the Birnbaum–Tingey sum
//
//	x · Σ_{v=0}^{⌊n(1-x)⌋} C(n,v) (1-x-v/n)^(n-v) (x+v/n)^(v-1),
//
// whose terms are all positive; each is evaluated in log space, which
// keeps about 12 significant digits for the n that ks_2samp can reach.
func smirnovSF(n int, x float64) float64 {
	switch {
	case x <= 0:
		return 1
	case x >= 1:
		return 0
	case n == 1:
		return 1 - x
	}
	fn := float64(n)
	if -2*fn*x*x < -7.08396418532264106224e2 { // cephes MINLOG: underflows
		return 0
	}
	var sum, logC float64
	for v := 0; v < n; v++ {
		if v > 0 {
			logC += math.Log(float64(n-v+1) / float64(v))
		}
		base := float64(n-v)/fn - x // 1 - x - v/n
		if base <= 0 {
			break
		}
		lt := logC + float64(n-v)*math.Log(base) + float64(v-1)*math.Log(float64(v)/fn+x)
		sum += math.Exp(lt)
	}
	return x * sum
}

// kolmogorovDMTW is the CDF Pr(D_n <= d) by Durbin's matrix algorithm as
// Marsaglia, Tsang and Wang compute it (scipy's _kolmogn_DMTW).
func kolmogorovDMTW(n int, d float64) float64 {
	if d >= 1 {
		return 1
	}
	nd := float64(n) * d
	if nd <= 0.5 {
		return 0
	}
	k := int(math.Ceil(nd))
	h := float64(k) - nd
	m := 2*k - 1

	v := make([]float64, m)
	w := make([]float64, m)
	fac := 1.0
	for j := 1; j <= m; j++ {
		v[j-1] = 1 - math.Pow(h, float64(j))
		w[j-1] = fac
		fac /= float64(j)
		v[j-1] *= fac
	}
	tt := math.Pow(math.Max(2*h-1, 0), float64(m)) - 2*math.Pow(h, float64(m))
	v[m-1] = (1 + tt) * fac

	hm := newMatrix(m)
	for i := 1; i < m; i++ {
		for r := i - 1; r < m; r++ {
			hm[r*m+i] = w[r-(i-1)]
		}
	}
	for r := 0; r < m; r++ {
		hm[r*m] = v[r]
	}
	for c := 0; c < m; c++ {
		hm[(m-1)*m+c] = v[m-1-c]
	}

	pwr := newMatrix(m)
	for i := 0; i < m; i++ {
		pwr[i*m+i] = 1
	}
	tmp := newMatrix(m)
	expnt, hExpnt := 0, 0
	for nn := n; nn > 0; nn /= 2 {
		if nn%2 == 1 {
			matMul(tmp, pwr, hm, m)
			pwr, tmp = tmp, pwr
			expnt += hExpnt
		}
		matMul(tmp, hm, hm, m)
		hm, tmp = tmp, hm
		hExpnt *= 2
		if math.Abs(hm[(k-1)*m+k-1]) > ks2p128 {
			for i := range hm {
				hm[i] /= ks2p128
			}
			hExpnt += 128
		}
	}
	p := pwr[(k-1)*m+k-1]
	fn := float64(n)
	for i := 1; i <= n; i++ {
		p = float64(i) * p / fn
		if math.Abs(p) < ks2m128 {
			p *= ks2p128
			expnt -= 128
		}
	}
	if expnt != 0 {
		p = math.Ldexp(p, expnt)
	}
	return p
}

func newMatrix(m int) []float64 { return make([]float64, m*m) }

// matMul sets dst = a·b for m×m row-major matrices (dst distinct from both).
func matMul(dst, a, b []float64, m int) {
	for i := 0; i < m; i++ {
		for j := 0; j < m; j++ {
			var s float64
			for l := 0; l < m; l++ {
				s += float64(a[i*m+l] * b[l*m+j])
			}
			dst[i*m+j] = s
		}
	}
}

// kolmogorovPomeranz is the CDF Pr(D_n <= x) by Pomeranz's recursion
// (scipy's _kolmogn_Pomeranz).
func kolmogorovPomeranz(n int, x float64) float64 {
	fn := float64(n)
	t := fn * x
	ll := int(math.Floor(t))
	f := t - float64(ll)
	g := math.Min(f, 1-f)
	ceilf, roundf := 0, 0
	if f > 0 {
		ceilf = 1
	}
	if f > 0.5 {
		roundf = 1
	}
	npwrs := 2 * (ll + 1)
	gpower := make([]float64, npwrs)
	twogpower := make([]float64, npwrs)
	onem2gpower := make([]float64, npwrs)
	gpower[0], twogpower[0], onem2gpower[0] = 1, 1, 1
	gOverN, twoGOverN, oneMinusTwoGOverN := g/fn, 2*g/fn, (1-2*g)/fn
	for m := 1; m < npwrs; m++ {
		fm := float64(m)
		gpower[m] = gpower[m-1] * gOverN / fm
		twogpower[m] = twogpower[m-1] * twoGOverN / fm
		onem2gpower[m] = onem2gpower[m-1] * oneMinusTwoGOverN / fm
	}

	v0 := make([]float64, npwrs)
	v1 := make([]float64, npwrs)
	v1[0] = 1
	v0s, v1s := 0, 0
	expnt := 0
	j1, _ := pomeranzJ1J2(0, n, ll, ceilf, roundf)
	conv := make([]float64, 0, 2*npwrs)
	for i := 1; i < 2*n+2; i++ {
		k1 := j1
		v0, v1 = v1, v0
		v0s, v1s = v1s, v0s
		clear(v1)
		var j2 int
		j1, j2 = pomeranzJ1J2(i, n, ll, ceilf, roundf)
		pwrs := onem2gpower
		switch {
		case i == 1 || i == 2*n+1:
			pwrs = gpower
		case i%2 == 1:
			pwrs = twogpower
		}
		ln2 := j2 - k1 + 1
		if ln2 <= 0 {
			continue
		}
		conv = convolve(conv[:0], pySlice(v0, k1-v0s, k1-v0s+ln2), pySlice(pwrs, 0, ln2))
		convStart := j1 - k1
		convLen := j2 - j1 + 1
		copy(v1[:convLen], pySlice(conv, convStart, convStart+convLen))
		var mx float64 = math.Inf(-1)
		for _, e := range v1 {
			mx = math.Max(mx, e)
		}
		if mx > 0 && mx < ks2m128 {
			for k := range v1 {
				v1[k] *= ks2p128
			}
			expnt -= 128
		}
		v1s = v0s + j1 - k1
	}
	ans := v1[n-v1s]
	for m := 1; m <= n; m++ {
		if math.Abs(ans) > ks2p128 {
			ans *= ks2m128
			expnt += 128
		}
		ans *= float64(m)
	}
	if expnt != 0 {
		ans = math.Ldexp(ans, expnt)
	}
	return ans
}

// pomeranzJ1J2 returns the interval of non-zero entries of row i.
func pomeranzJ1J2(i, n, ll, ceilf, roundf int) (int, int) {
	var j1, j2 int
	if i == 0 {
		j1, j2 = -ll-ceilf-1, ll+ceilf-1
	} else {
		ip1div2, ip1mod2 := (i+1)/2, (i+1)%2
		switch {
		case ip1mod2 == 0 && ip1div2 == n+1:
			j1, j2 = n-ll-ceilf-1, n+ll+ceilf-1
		case ip1mod2 == 0:
			j1, j2 = ip1div2-1-ll-roundf-1, ip1div2+ll-1+ceilf-1
		default:
			j1, j2 = ip1div2-1-ll-1, ip1div2+ll+roundf-1
		}
	}
	return max(j1+2, 0), min(j2, n)
}

// pySlice is s[lo:hi] with Python's clipping of out-of-range bounds.
func pySlice(s []float64, lo, hi int) []float64 {
	lo = min(max(lo, 0), len(s))
	hi = min(max(hi, lo), len(s))
	return s[lo:hi]
}

// convolve appends np.convolve(a, b) (mode "full") to dst.
func convolve(dst, a, b []float64) []float64 {
	if len(a) == 0 || len(b) == 0 {
		return dst
	}
	for k := 0; k < len(a)+len(b)-1; k++ {
		var s float64
		for i := max(0, k-len(b)+1); i <= min(k, len(a)-1); i++ {
			s += float64(a[i] * b[k-i])
		}
		dst = append(dst, s)
	}
	return dst
}

// kolmogorovPelzGood is the Pelz–Good asymptotic approximation of the CDF
// Pr(D_n <= x) (scipy's _kolmogn_PelzGood).
func kolmogorovPelzGood(n int, x float64) float64 {
	if x <= 0 {
		return 0
	}
	if x >= 1 {
		return 1
	}
	const (
		pi2 = math.Pi * math.Pi
		pi4 = pi2 * pi2
		pi6 = pi4 * pi2
	)
	sqrt2pi := math.Sqrt(2 * math.Pi)
	z := math.Sqrt(float64(n)) * x
	z2 := z * z
	z3, z4, z6 := z2*z, z2*z2, z2*z2*z2
	qlog := -pi2 / 8 / z2
	if qlog < ksMinLog {
		return 0
	}
	q := math.Exp(qlog)

	k1a, k1b := -z2, pi2/4
	k2a := 6*z6 + 2*z4
	k2b := (2*z4 - 5*z2) * pi2 / 4
	k2c := pi4 * (1 - 2*z2) / 16
	k3d := pi6 * (5 - 30*z2) / 64
	k3c := pi4 * (-60*z2 + 212*z4) / 16
	k3b := pi2 * (135*z4 - 96*z6) / 4
	k3a := -30*z6 - 90*z4*z4

	var k0to3 [4]float64
	maxk := int(math.Ceil(16 * z / math.Pi))
	for k := maxk; k > 0; k-- {
		m := float64(2*k - 1)
		m2 := m * m
		m4, m6 := m2*m2, m2*m2*m2
		qp := math.Pow(q, float64(8*k))
		coeffs := [4]float64{1, k1a + k1b*m2, k2a + k2b*m2 + k2c*m4, k3a + k3b*m2 + k3c*m4 + k3d*m6}
		for i := range k0to3 {
			k0to3[i] = k0to3[i]*qp + coeffs[i]
		}
	}
	div := [4]float64{z, 6 * z4, 72 * z6 * z, 6480 * z6 * z4}
	for i := range k0to3 {
		k0to3[i] = k0to3[i] * q * sqrt2pi / div[i]
	}

	q = math.Exp(-pi2 / 2 / z2)
	sqrt3z := math.Sqrt(3) * z
	var k2extra, k3extra float64
	for k := maxk; k > 0; k-- {
		fk := float64(k)
		ksq := fk * fk
		qp := math.Pow(q, ksq)
		kspi := math.Pi * fk
		k2extra += ksq * qp
		k3extra += (sqrt3z + kspi) * (sqrt3z - kspi) * ksq * qp
	}
	k0to3[2] += k2extra * pi2 * sqrt2pi / (-36 * z3)
	k0to3[3] += k3extra * pi2 * sqrt2pi / (216 * z6)

	var sum float64
	for i := range k0to3 {
		sum += k0to3[i] / math.Pow(float64(n), float64(i)/2)
	}
	return sum
}
