package gbdt

import (
	"errors"
	"fmt"
	"math"
)

// Feature describes one model input column: its name, whether it is
// categorical and, if so, its categories. A categorical value is encoded as
// the index of its category in Categories (as a float64); NaN is missing.
// The spec travels inside the model artifact so that serving encodes raw
// records exactly as training did.
type Feature struct {
	Name        string   `json:"name"`
	Categorical bool     `json:"categorical,omitempty"`
	Categories  []string `json:"categories,omitempty"`
}

// MaxCategories is the largest number of categories a categorical feature
// may have: category bins, plus the missing bin, are stored in a byte.
const MaxCategories = 255

// Dataset is a column-major training set. Cols[j][i] is feature j of row i
// (NaN = missing; categorical = category index). Label holds 0/1 targets.
// Weight is optional per-row weights (nil = all 1).
type Dataset struct {
	Features []Feature
	Cols     [][]float64
	Label    []float64
	Weight   []float64
}

// ErrInvalidData is wrapped by every error Validate and Train report about
// the dataset itself, so callers can tell bad input from bad parameters.
var ErrInvalidData = errors.New("gbdt: invalid dataset")

// Rows returns the number of rows.
func (d *Dataset) Rows() int { return len(d.Label) }

// Validate checks shapes, labels, weights and categorical codes, and that
// both classes are present (a one-class set cannot train a classifier).
func (d *Dataset) Validate() error {
	if err := validateSpec(d.Features); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidData, err)
	}
	if len(d.Cols) != len(d.Features) {
		return fmt.Errorf("%w: %d columns for %d features", ErrInvalidData, len(d.Cols), len(d.Features))
	}
	n := len(d.Label)
	if n == 0 {
		return fmt.Errorf("%w: no rows", ErrInvalidData)
	}
	for j, col := range d.Cols {
		f := d.Features[j]
		if len(col) != n {
			return fmt.Errorf("%w: feature %q has %d rows, labels have %d", ErrInvalidData, f.Name, len(col), n)
		}
		if !f.Categorical {
			continue
		}
		for i, v := range col {
			if math.IsNaN(v) {
				continue
			}
			if v != math.Trunc(v) || v < 0 || int(v) >= len(f.Categories) {
				return fmt.Errorf("%w: feature %q row %d: %v is not a category index in [0, %d)", ErrInvalidData, f.Name, i, v, len(f.Categories))
			}
		}
	}
	var pos, neg int
	for i, y := range d.Label {
		switch y {
		case 0:
			neg++
		case 1:
			pos++
		default:
			return fmt.Errorf("%w: label of row %d is %v, want 0 or 1", ErrInvalidData, i, y)
		}
	}
	if pos == 0 || neg == 0 {
		return fmt.Errorf("%w: only one class (%d positives, %d negatives)", ErrInvalidData, pos, neg)
	}
	if d.Weight != nil {
		if len(d.Weight) != n {
			return fmt.Errorf("%w: %d weights for %d rows", ErrInvalidData, len(d.Weight), n)
		}
		for i, w := range d.Weight {
			if !(w >= 0) || math.IsInf(w, 0) {
				return fmt.Errorf("%w: weight of row %d is %v", ErrInvalidData, i, w)
			}
		}
	}
	return nil
}

// validateSpec checks names are present and unique and categorical features
// have a usable category list.
func validateSpec(spec []Feature) error {
	if len(spec) == 0 {
		return errors.New("no features")
	}
	seen := make(map[string]bool, len(spec))
	for j, f := range spec {
		if f.Name == "" {
			return fmt.Errorf("feature %d has no name", j)
		}
		if seen[f.Name] {
			return fmt.Errorf("feature %q appears twice", f.Name)
		}
		seen[f.Name] = true
		if !f.Categorical {
			if len(f.Categories) > 0 {
				return fmt.Errorf("numeric feature %q lists categories", f.Name)
			}
			continue
		}
		if len(f.Categories) == 0 || len(f.Categories) > MaxCategories {
			return fmt.Errorf("categorical feature %q has %d categories, want 1..%d", f.Name, len(f.Categories), MaxCategories)
		}
		cats := make(map[string]bool, len(f.Categories))
		for _, c := range f.Categories {
			if cats[c] {
				return fmt.Errorf("categorical feature %q lists %q twice", f.Name, c)
			}
			cats[c] = true
		}
	}
	return nil
}
