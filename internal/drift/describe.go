package drift

import (
	"cmp"
	"slices"

	"github.com/churnops/churnops/internal/snapshot"
)

// ColumnStats describes one month's column next to its drift test, as a
// person reading the report expects: how many values were there, how many
// were missing (the tests drop them silently), and the shape of the rest.
// Everything is computed from the Summary, so it is exact (or, for an
// approximate column, within its Approximation's bounds).
type ColumnStats struct {
	// Rows counts every row of the month; Missing the rows without a
	// value (NaN, empty) and Infinite the ±Inf ones (numerical only):
	// both are dropped before the test, which sees the others.
	Rows     int `json:"rows"`
	Missing  int `json:"missing"`
	Infinite int `json:"infinite"`
	// Distinct counts the distinct values tested.
	Distinct int `json:"distinct"`
	// Numeric summarizes a numerical column's tested values.
	Numeric *NumericStats `json:"numeric,omitempty"`
	// Top lists a categorical column's most frequent categories (up to
	// topCategories), most frequent first, ties by name.
	Top []CategoryCount `json:"top,omitempty"`
}

// NumericStats are a numerical column's basic statistics: mean, population
// standard deviation (numpy's std, as the Wasserstein test uses) and
// quantiles as np.quantile computes them by default (linear).
type NumericStats struct {
	Mean   float64 `json:"mean"`
	Std    float64 `json:"std"`
	Min    float64 `json:"min"`
	P25    float64 `json:"p25"`
	Median float64 `json:"median"`
	P75    float64 `json:"p75"`
	Max    float64 `json:"max"`
}

// CategoryCount is how many rows hold one category.
type CategoryCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// topCategories is how many categories ColumnStats.Top lists.
const topCategories = 5

// describe computes a column's statistics from its summary.
func describe(c *columnSummary) ColumnStats {
	s := ColumnStats{Rows: c.rows, Missing: c.missing, Infinite: c.inf}
	if c.kind == snapshot.Categorical {
		s.Distinct = len(c.cat.keys)
		order := make([]int, len(c.cat.keys))
		for i := range order {
			order[i] = i
		}
		slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(c.cat.counts[b], c.cat.counts[a]) })
		for _, i := range order[:min(topCategories, len(order))] {
			s.Top = append(s.Top, CategoryCount{Value: c.cat.keys[i], Count: c.cat.counts[i]})
		}
		return s
	}
	d := c.num
	s.Distinct = len(d.vals)
	if d.n == 0 {
		return s
	}
	s.Numeric = &NumericStats{
		Mean:   d.mean(),
		Std:    populationStd(d),
		Min:    d.vals[0],
		P25:    d.quantile(0.25),
		Median: d.quantile(0.5),
		P75:    d.quantile(0.75),
		Max:    d.vals[len(d.vals)-1],
	}
	return s
}
