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
	m.xp.Store(nil) // the contributions' tables follow the model's
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

// WalkContributions explains x by walking every tree with Algorithm 2: the
// reference the contributions' tables are checked against.
func (m *Model) WalkContributions(x, out []float64) error {
	e, err := m.explainer()
	if err != nil {
		return err
	}
	clear(out)
	e.walk(m, x, out)
	out[len(m.features)] = e.bias
	return nil
}

// TreeValues returns each tree's output for row x, walking the trees.
func (m *Model) TreeValues(x []float64) []float64 {
	out := make([]float64, len(m.roots))
	for t, i := range m.roots {
		for {
			n := &m.nodes[i]
			if n.feature < 0 {
				out[t] = n.value
				break
			}
			if m.goesLeft(n, x[n.feature]) {
				i = n.left
			} else {
				i = n.left + 1
			}
		}
	}
	return out
}

// Base is the model's base score (log-odds).
func (m *Model) Base() float64 { return m.base }

// XGBoostTreeOrder is the churnops tree behind each exported tree after
// tree 0 (the base score).
func (m *Model) XGBoostTreeOrder() []int { return m.xgbTreeOrder() }

// SetUnitSplits sets the most splits of a path-table unit and returns a
// function that restores it.
func SetUnitSplits(n int) (restore func()) {
	old := maxUnitSplits
	maxUnitSplits = n
	return func() { maxUnitSplits = old }
}

// SetRouteMaskWords sets the most words of routing masks and returns a
// function that restores it.
func SetRouteMaskWords(n int) (restore func()) {
	old := maxRouteMaskWords
	maxRouteMaskWords = n
	return func() { maxRouteMaskWords = old }
}

// RoutesByComparison reports whether m's path tables find the row's side
// at each split by comparison rather than from routing masks.
func (m *Model) RoutesByComparison() bool {
	e, err := m.explainer()
	return err == nil && e.paths != nil && e.paths.masks == nil
}

// ExplainerBytes is the memory m's explainer tables hold.
func (m *Model) ExplainerBytes() (int, error) {
	e, err := m.explainer()
	if err != nil {
		return 0, err
	}
	return e.bytes(), nil
}

// SetPathTableBudget sets the path tables' budget of table entries (see
// shap_paths.go) and returns a function that restores it. Models explained
// before keep their explainer: call ResetExplainer.
func SetPathTableBudget(n int) (restore func()) {
	old := maxPathTableFloats
	maxPathTableFloats = n
	return func() { maxPathTableFloats = old }
}

// ResetExplainer drops m's explainer, so the next call builds it again.
func (m *Model) ResetExplainer() { m.xp.Store(nil) }

// ExplainerKind says how m explains a row: "cells" (a compiled model's
// tables), "paths" (per-leaf path tables) or "walk" (Algorithm 2), and how
// many of its leaves the path tables compute directly.
func (m *Model) ExplainerKind() (kind string, direct int, err error) {
	e, err := m.explainer()
	switch {
	case err != nil:
		return "", 0, err
	case e.tab != nil:
		return "cells", 0, nil
	case e.paths != nil:
		return "paths", len(e.paths.direct.nodes), nil
	}
	return "walk", 0, nil
}
