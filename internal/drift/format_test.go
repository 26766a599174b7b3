package drift_test

import (
	"math"
	"testing"

	"github.com/churnops/churnops/internal/drift"
)

// TestFormatting pins the HTML report's number formats (see format.go).
func TestFormatting(t *testing.T) {
	for _, c := range []struct {
		got, want string
	}{
		{drift.FormatCount(0), "0"}, {drift.FormatCount(999), "999"}, {drift.FormatCount(7043), "7,043"},
		{drift.FormatCount(10000000), "10,000,000"}, {drift.FormatCount(-1234), "-1,234"},
		{drift.Pct(0.02), "2.0%"}, {drift.Pct(0.5), "50.0%"}, {drift.Pct(1526.0 / 7043), "21.7%"}, {drift.Pct(0), "0.0%"},
		{drift.FormatScore(0.08874352), "0.0887"}, {drift.FormatScore(0), "0.0000"}, {drift.FormatScore(1.554e-4), "0.0002"},
		{drift.FormatScore(3.1e-9), "3.10e-09"},
		{drift.FormatNumber(29.14104464084511), "29.14"}, {drift.FormatNumber(0.5), "0.5"}, {drift.FormatNumber(72), "72"},
		{drift.FormatNumber(12345.6), "12,346"}, {drift.FormatNumber(9999.6), "10,000"}, {drift.FormatNumber(1234.56), "1,235"},
		{drift.FormatNumber(-1.8), "-1.8"}, {drift.FormatNumber(0.00001234), "1.234e-05"}, {drift.FormatNumber(0), "0"},
		{drift.FormatNumber(math.Inf(1)), "+Inf"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	for _, c := range []struct {
		a, b         float64
		wantA, wantB string
	}{
		{8.03, 8.027, "8.030", "8.027"},
		{8, 8, "8", "8"},
		{6.1, 6, "6.1", "6.0"},
		{0.5, 0.5, "0.5", "0.5"},
		{29.626, 129.03, "29.6", "129.0"},
		{12345.6, 7.25, "12,346", "7"},
		{1e-5, 2e-5, "1.000e-05", "2.000e-05"},
	} {
		if a, b := drift.FormatPair(c.a, c.b); a != c.wantA || b != c.wantB {
			t.Errorf("formatPair(%v, %v) = %q, %q; want %q, %q", c.a, c.b, a, b, c.wantA, c.wantB)
		}
	}
}
