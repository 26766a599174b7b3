package drift

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// The HTML report spells every number with one of these, so that a
// figure reads the same wherever it appears:
//
//	counts       formatCount   7,043
//	shares       pct           21.7%  (always one decimal)
//	scores       formatScore   0.0887, 1.55e-04 below 1e-4 (p-values, distances)
//	values       formatNumber  4 significant digits: 30.04, 0.5, 12,346, 1.234e-05
//	statistics   formatPair    both months with the same decimals: 8.030 / 8.027, 6.1 / 6.0
//	times        formatTime    2024-03-01 06:00:00 UTC

// formatCount writes n with thousands separators.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// pct writes a share in [0, 1] as a percentage with one decimal.
func pct(v float64) string {
	return strconv.FormatFloat(100*v, 'f', 1, 64) + "%"
}

// formatScore writes a test's score with four decimals, or in scientific
// notation when that would show only zeros.
func formatScore(v float64) string {
	if v != 0 && math.Abs(v) < 1e-4 {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// formatNumber writes a statistic or a value with 4 significant digits,
// trailing zeros dropped; integers from 10,000 up are written whole with
// thousands separators, and very small or very large magnitudes in
// scientific notation.
func formatNumber(v float64) string {
	a := math.Abs(v)
	switch {
	case v == 0:
		return "0"
	case math.IsNaN(v) || math.IsInf(v, 0):
		return strconv.FormatFloat(v, 'g', -1, 64)
	case a < 1e-3 || a >= 1e15:
		return strconv.FormatFloat(v, 'e', 3, 64)
	case a >= 1e4:
		return formatCount(int(math.Round(v)))
	}
	decimals := 3 - int(math.Floor(math.Log10(a)))
	if decimals <= 0 {
		return formatCount(int(math.Round(v)))
	}
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatPair writes the reference's and the current month's value of a
// statistic with the same number of decimals (4 significant digits of the
// larger), so that the two columns of the table line up; two integers are
// written whole, and trailing zeros both share are dropped.
func formatPair(a, b float64) (string, string) {
	m := math.Max(math.Abs(a), math.Abs(b))
	switch {
	case math.IsNaN(m) || math.IsInf(m, 0) || m < 1e-3 || m >= 1e15:
		return formatNumber(a), formatNumber(b)
	case a == math.Trunc(a) && b == math.Trunc(b):
		return formatCount(int(a)), formatCount(int(b))
	}
	decimals := 3 - int(math.Floor(math.Log10(m)))
	if decimals <= 0 {
		return formatCount(int(math.Round(a))), formatCount(int(math.Round(b)))
	}
	fa, fb := strconv.FormatFloat(a, 'f', decimals, 64), strconv.FormatFloat(b, 'f', decimals, 64)
	for ; decimals > 0 && strings.HasSuffix(fa, "0") && strings.HasSuffix(fb, "0"); decimals-- {
		fa, fb = fa[:len(fa)-1], fb[:len(fb)-1] // zeros both share say nothing
	}
	if decimals == 0 {
		fa, fb = strings.TrimSuffix(fa, "."), strings.TrimSuffix(fb, ".")
	}
	return fa, fb
}

// formatTime writes a time in UTC to the second.
func formatTime(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func typeName(t string) string {
	if t == snapshot.Categorical.String() {
		return "categorical"
	}
	return "numerical"
}

// rule spells out the drift rule of a test, so the reader need not know
// which tests are p-values and which are distances.
func rule(test string, threshold float64) string {
	t := strconv.FormatFloat(threshold, 'g', -1, 64)
	switch test {
	case TestKS:
		return "drift if p ≤ " + t
	case TestChiSquare, TestZ:
		return "drift if p < " + t
	}
	return "drift if distance ≥ " + t
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
