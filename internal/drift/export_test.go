package drift

// Internal statistics exported to the external tests, which check each one
// against scipy/numpy reference values.
var (
	KSStatistic         = ksStatistic
	KSPValue            = ksPValue
	KolmogorovSmirnovSF = kolmogorovSmirnovSF
	ChiSquarePValue     = chiSquarePValue
	ZTestPValue         = zTestPValue
	WassersteinDistance = wassersteinDistance
	PopulationStd       = populationStd
	WassersteinNormed   = wassersteinNormed
	JensenShannon       = jensenShannon
	SturgesEdges        = sturgesEdges
	HistogramCounts     = histogram
)
