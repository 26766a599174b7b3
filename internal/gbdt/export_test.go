package gbdt

// WalkRaw sums the trees one by one, the reference for the lookup tables.
func (m *Model) WalkRaw(x []float64) float64 { return m.walkRaw(x) }

// SetMinParallelWork sets the work above which training spreads pieces over
// goroutines, and returns a function that restores it.
func SetMinParallelWork(n int) (restore func()) {
	old := minParallelWork
	minParallelWork = n
	return func() { minParallelWork = old }
}

// Compiled reports whether m predicts from lookup tables.
func (m *Model) Compiled() bool { return m.tab != nil }

// Recompile rebuilds m's tables with other limits, returning whether the
// model compiled, and the number of tables.
func (m *Model) Recompile(maxCells, maxTotal int) (bool, int) {
	m.tab = compileTables(m, maxCells, maxTotal)
	if m.tab == nil {
		return false, 0
	}
	return true, len(m.tab.groups)
}

// SplitThresholds returns each feature's numeric split thresholds.
func (m *Model) SplitThresholds() [][]float64 {
	out := make([][]float64, len(m.features))
	for _, n := range m.nodes {
		if n.feature >= 0 && n.catOff < 0 {
			out[n.feature] = append(out[n.feature], n.value)
		}
	}
	return out
}
