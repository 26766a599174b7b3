package drift

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/churnops/churnops/internal/snapshot"
)

// Summary is a month's drift columns reduced to what Evidently's tests and
// the report need: per column, how many rows hold each distinct value,
// plus the rows that are missing (NaN, "") or infinite. A month too big
// for one process is summarized shard by shard and the summaries merged
// (Merge); the result does not depend on how the rows were split or in
// which order the parts were merged, down to the bytes of MarshalBinary,
// and Compare reads only summaries, so a sharded month gets the very
// report the whole month would.
//
// Categorical columns are always exact. A numerical column is exact as
// long as it holds at most MaxDistinct distinct values; past that (a
// continuous column of millions of rows), its values are truncated toward
// zero to the most significant bits that keep it within MaxDistinct
// distinct values, the same for any sharding (see approx.go). The report
// then marks the column approximate, with a bound on the error.
//
// The zero Summary has no columns; merging it with another one gives the
// other one, so a reduce can start from it.
type Summary struct {
	maxDistinct int
	cols        []columnSummary
}

// MaxDistinct is the most distinct values a numerical column of a Summary
// holds exactly. 65,536 keeps a 10M-customer month's summary within about
// a megabyte while a continuous column keeps at least 13 significant bits
// (relative error below 2^-13), a normed Wasserstein score within about
// 1e-3 of the exact one (the report gives the bound of each column); the
// lab's months (7,043 rows) stay exact.
const MaxDistinct = 1 << 16

// exactBits is the number of significant bits of a float64's fraction:
// a column whose values keep them all is exact.
const exactBits = 52

// columnSummary is one column of a Summary.
type columnSummary struct {
	name               string
	kind               snapshot.Kind
	rows, missing, inf int
	bits               int  // numerical: fraction bits kept (exactBits: exact)
	num                dist // numerical: the finite values
	cat                catDist
}

// catDist is a categorical column's value counts, categories ascending
// (byte order), missing values ("") left out.
type catDist struct {
	keys   []string
	counts []int
	n      int
}

// ColumnInfo describes one column of a Summary, for logs and capacity
// planning.
type ColumnInfo struct {
	Name string
	Kind snapshot.Kind
	// Rows counts every row; Missing the NaN or empty ones and Infinite
	// the ±Inf ones, which the tests drop.
	Rows, Missing, Infinite int
	// Distinct counts the distinct values held (after truncation when the
	// column is not exact).
	Distinct int
	// Exact is false when a numerical column's values were truncated to
	// Bits significant fraction bits (52 when exact).
	Exact bool
	Bits  int
}

// Summarize builds the summary of one month, or of one shard of it, from
// its drift columns (snapshot.Month.DriftColumns): every column must have
// the same number of rows and a distinct name. Categorical columns given
// only as numbers (booleans as 0/1/NaN) are read by value.
func Summarize(cols []snapshot.Column) (*Summary, error) {
	return summarize(cols, MaxDistinct)
}

// SummarizeCapped is Summarize with another cap than MaxDistinct on a
// numerical column's distinct values: a larger cap keeps more columns
// exact and makes bigger summaries (ExactCap: always exact). Summaries
// with different caps still merge, to the smaller cap.
func SummarizeCapped(cols []snapshot.Column, maxDistinct int) (*Summary, error) {
	if maxDistinct < 1 {
		return nil, fmt.Errorf("%w: cap of %d distinct values", ErrOptions, maxDistinct)
	}
	return summarize(cols, min(maxDistinct, ExactCap))
}

// ExactCap is a cap no column reaches (2^40 distinct values): with it,
// SummarizeCapped keeps every column exact.
const ExactCap = 1 << 40

// summarize is Summarize with the distinct-value cap as a parameter.
func summarize(cols []snapshot.Column, maxDistinct int) (*Summary, error) {
	if len(cols) == 0 {
		return nil, fmt.Errorf("%w: no columns to summarize", ErrSchema)
	}
	s := &Summary{maxDistinct: maxDistinct, cols: make([]columnSummary, 0, len(cols))}
	seen := make(map[string]bool, len(cols))
	var buf []float64
	for i := range cols {
		c := &cols[i]
		if seen[c.Name] {
			return nil, fmt.Errorf("%w: column %q given twice", ErrSchema, c.Name)
		}
		seen[c.Name] = true
		cs := columnSummary{name: c.Name, kind: c.Kind, bits: exactBits}
		switch c.Kind {
		case snapshot.Numerical:
			if c.Num == nil {
				return nil, fmt.Errorf("%w: numerical column %q without numbers", ErrSchema, c.Name)
			}
			cs.rows = len(c.Num)
			if cap(buf) < len(c.Num) {
				buf = make([]float64, 0, len(c.Num))
			}
			buf = buf[:0]
			for _, v := range c.Num {
				switch {
				case math.IsNaN(v):
					cs.missing++
				case math.IsInf(v, 0):
					cs.inf++
				default:
					buf = append(buf, v)
				}
			}
			cs.num, cs.bits = fit(distOf(buf), exactBits, maxDistinct)
		case snapshot.Categorical:
			vals, err := categories(c)
			if err != nil {
				return nil, fmt.Errorf("column %q: %w", c.Name, err)
			}
			cs.rows = len(vals)
			cs.cat = countCategories(vals)
			cs.missing = cs.rows - cs.cat.n
		default:
			return nil, fmt.Errorf("%w: column %q has unknown kind %d", ErrSchema, c.Name, int(c.Kind))
		}
		if len(s.cols) > 0 && cs.rows != s.cols[0].rows {
			return nil, fmt.Errorf("%w: column %q has %d rows, column %q %d", ErrSchema, c.Name, cs.rows, s.cols[0].name, s.cols[0].rows)
		}
		s.cols = append(s.cols, cs)
	}
	return s, nil
}

// categories returns a categorical column's values, "" for missing. A
// categorical column given only as numbers (booleans as 0/1) is read by
// value, NaN being missing.
func categories(c *snapshot.Column) ([]string, error) {
	if c.Cat != nil {
		return c.Cat, nil
	}
	if c.Num == nil {
		return nil, fmt.Errorf("%w: categorical column without values", ErrSchema)
	}
	out := make([]string, len(c.Num))
	for i, v := range c.Num {
		if !math.IsNaN(v) {
			out[i] = strconv.FormatFloat(v, 'g', -1, 64)
		}
	}
	return out, nil
}

// countCategories counts the non-missing values of a categorical column,
// categories in ascending order. Columns hold a handful of categories, so
// it scans a short slice, and only builds a map for columns with many.
func countCategories(vals []string) catDist {
	var keys []string
	var counts []int
	var index map[string]int
	last := -1 // index of the previous value: runs of equal values are common
	n := 0
	for _, v := range vals {
		if v == "" {
			continue
		}
		n++
		if last >= 0 && keys[last] == v {
			counts[last]++
			continue
		}
		last = -1
		if index != nil {
			if i, ok := index[v]; ok {
				last = i
			}
		} else {
			last = slices.Index(keys, v)
		}
		if last < 0 {
			keys = append(keys, strings.Clone(v)) // not the caller's (often one big) buffer
			counts = append(counts, 0)
			last = len(keys) - 1
			switch {
			case index != nil:
				index[keys[last]] = last
			case len(keys) > 16:
				index = make(map[string]int, 2*len(keys))
				for j, k := range keys {
					index[k] = j
				}
			}
		}
		counts[last]++
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	d := catDist{keys: make([]string, len(keys)), counts: make([]int, len(keys)), n: n}
	for i, j := range order {
		d.keys[i], d.counts[i] = keys[j], counts[j]
	}
	return d
}

// Add summarizes one more batch of the month's rows (the same columns, in
// the same order, as the summary holds) into s: a month can be summarized
// as it streams by, a shard or a chunk at a time. Adding to the zero
// Summary starts it.
func (s *Summary) Add(cols []snapshot.Column) error {
	maxDistinct := s.maxDistinct
	if maxDistinct == 0 {
		maxDistinct = MaxDistinct
	}
	t, err := summarize(cols, maxDistinct)
	if err != nil {
		return err
	}
	m, err := Merge(s, t)
	if err != nil {
		return err
	}
	*s = *m
	return nil
}

// Merge returns the summary of all the parts' rows together: the parts
// must hold the same columns in the same order (the shards of one month).
// Merge is associative and commutative and leaves the parts untouched; a
// zero Summary is its identity. The result has the smallest MaxDistinct
// of the parts (summaries made with another setting can still be merged,
// and the result is still canonical).
func Merge(parts ...*Summary) (*Summary, error) {
	out := &Summary{}
	for i, p := range parts {
		if p == nil {
			return nil, fmt.Errorf("%w: summary %d is nil", ErrSchema, i)
		}
		switch {
		case len(p.cols) == 0:
			continue
		case len(out.cols) == 0:
			out = p.clone()
			continue
		}
		if err := sameColumns(out, p); err != nil {
			return nil, fmt.Errorf("merge summary %d: %w", i, err)
		}
		out.maxDistinct = min(out.maxDistinct, p.maxDistinct)
		for k := range out.cols {
			out.cols[k] = mergeColumns(&out.cols[k], &p.cols[k], out.maxDistinct)
		}
	}
	return out, nil
}

// sameColumns checks that two summaries hold the same columns.
func sameColumns(a, b *Summary) error {
	if len(a.cols) != len(b.cols) {
		return fmt.Errorf("%w: %d columns and %d", ErrSchema, len(a.cols), len(b.cols))
	}
	for k := range a.cols {
		if a.cols[k].name != b.cols[k].name || a.cols[k].kind != b.cols[k].kind {
			return fmt.Errorf("%w: column %d is %s %q and %s %q", ErrSchema, k,
				a.cols[k].kind, a.cols[k].name, b.cols[k].kind, b.cols[k].name)
		}
	}
	return nil
}

func (s *Summary) clone() *Summary {
	out := &Summary{maxDistinct: s.maxDistinct, cols: make([]columnSummary, len(s.cols))}
	for i, c := range s.cols {
		c.num = c.num.clone()
		c.cat = catDist{keys: slices.Clone(c.cat.keys), counts: slices.Clone(c.cat.counts), n: c.cat.n}
		out.cols[i] = c
	}
	return out
}

// mergeColumns returns the summary of two parts of one column. Numerical
// values are first brought to the coarser part's precision, then the
// union is truncated further if it exceeds maxDistinct.
func mergeColumns(a, b *columnSummary, maxDistinct int) columnSummary {
	out := columnSummary{
		name: a.name, kind: a.kind,
		rows: a.rows + b.rows, missing: a.missing + b.missing, inf: a.inf + b.inf,
		bits: exactBits,
	}
	if a.kind == snapshot.Categorical {
		out.cat = mergeCategories(a.cat, b.cat)
		return out
	}
	bits := min(a.bits, b.bits)
	out.num, out.bits = fit(mergeDists(truncateDist(a.num, bits), truncateDist(b.num, bits)), bits, maxDistinct)
	return out
}

// mergeCategories returns the counts of both parts together.
func mergeCategories(a, b catDist) catDist {
	keys, counts := mergeCounts(a.keys, a.counts, b.keys, b.counts)
	return catDist{keys: keys, counts: counts, n: a.n + b.n}
}

// Rows returns the number of rows summarized (0 for the zero Summary).
func (s *Summary) Rows() int {
	if len(s.cols) == 0 {
		return 0
	}
	return s.cols[0].rows
}

// Columns describes the summary's columns, in order.
func (s *Summary) Columns() []ColumnInfo {
	out := make([]ColumnInfo, len(s.cols))
	for i, c := range s.cols {
		out[i] = ColumnInfo{
			Name: c.name, Kind: c.kind, Rows: c.rows, Missing: c.missing, Infinite: c.inf,
			Distinct: len(c.num.vals) + len(c.cat.keys), Exact: c.bits == exactBits, Bits: c.bits,
		}
	}
	return out
}
