package drift

import "slices"

// Internal statistics exported to the external tests, which check each one
// against scipy/numpy reference values. The statistics read distributions
// (value counts); the tests hand them samples, as scipy gets them.
var (
	KolmogorovSmirnovSF = kolmogorovSmirnovSF
	ChiSquarePValue     = chiSquarePValue
	ZTestPValue         = zTestPValue
	JensenShannon       = jensenShannon
	SturgesEdges        = sturgesEdges

	// The HTML report's number formats.
	FormatCount  = formatCount
	Pct          = pct
	FormatScore  = formatScore
	FormatNumber = formatNumber
	FormatPair   = formatPair
)

func sampleDist(x []float64) dist { return distOf(slices.Clone(x)) }

func KSStatistic(x, y []float64) float64 { return ksStatistic(sampleDist(x), sampleDist(y)) }
func KSPValue(x, y []float64) float64    { return ksPValue(sampleDist(x), sampleDist(y)) }
func WassersteinDistance(x, y []float64) float64 {
	return wassersteinDistance(sampleDist(x), sampleDist(y))
}
func PopulationStd(x []float64) float64 { return populationStd(sampleDist(x)) }
func WassersteinNormed(x, y []float64) float64 {
	return wassersteinNormed(sampleDist(x), sampleDist(y))
}
func HistogramCounts(x, edges []float64) []int { return histogramCounts(sampleDist(x), edges) }
func Quantile(x []float64, q float64) float64  { return sampleDist(x).quantile(q) }

// DistinctByBits returns how many distinct values a sample has once
// truncated to each number of bits, counted in one pass (as fit does) and
// by truncating (as the counts are defined).
func DistinctByBits(x []float64) (fast, slow [exactBits + 1]int) {
	d := sampleDist(x)
	for b := range slow {
		slow[b] = len(truncateDist(d, b).vals)
	}
	return distinctByBits(d), slow
}
