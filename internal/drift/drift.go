package drift

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/churnops/churnops/internal/snapshot"
)

// DefaultThreshold is the lab's retraining threshold on the drift share:
// retrain as soon as 2% of the compared columns drift.
const DefaultThreshold = 0.02

// Test names, as Evidently displays them (stattest display_name), so a
// report reads the same whichever tool produced it.
const (
	TestKS          = "K-S p_value"
	TestChiSquare   = "chi-square p_value"
	TestZ           = "Z-test p_value"
	TestWasserstein = "Wasserstein distance (normed)"
	TestJS          = "Jensen-Shannon distance"
)

// smallSampleMax is Evidently's cut between the small-sample statistical
// tests (p-values) and the large-sample distances: a reference with at
// most this many values gets a test.
const smallSampleMax = 1000

// Sentinel errors, wrapped with the column at fault, so callers can tell a
// bad input (schema, empty column, bad option) from a bug.
var (
	// ErrSchema reports columns that cannot be paired: a name missing on
	// one side, a name given twice, a kind mismatch or a missing slice.
	ErrSchema = errors.New("drift: reference and current columns do not match")
	// ErrEmptyColumn reports a column with no finite, non-missing value on
	// one side; Evidently refuses those too.
	ErrEmptyColumn = errors.New("drift: empty column")
	// ErrOptions reports invalid Options.
	ErrOptions = errors.New("drift: invalid options")
)

// Options tune Compare.
type Options struct {
	// Threshold is the retraining threshold on the drift share, handed to
	// Gate and shown in the report (the lab uses DefaultThreshold). Must be
	// within [0, 1].
	Threshold float64
	// Reference and Current label the two months in the report (their
	// as_of dates); Compare copies them into Report.
	Reference, Current string
	// Gate decides from the drift share and the threshold whether to
	// retrain, for Report.Retrain. The decision rule is not this package's:
	// it is the state machine's DriftGate (pipeline.DriftGate applies it),
	// so that it lives in one place. Without a Gate, Retrain stays false.
	Gate func(driftShare, threshold float64) (bool, error)
}

// Report is the outcome of a drift comparison between two months: one
// result per column plus the share that decides retraining. Its JSON form
// is the contract the pipeline and the state machine read.
type Report struct {
	Reference      string         `json:"reference"`
	Current        string         `json:"current"`
	DriftShare     float64        `json:"drift_share"`     // DriftedColumns / len(Columns)
	DriftedColumns int            `json:"drifted_columns"` // columns whose test flags drift
	Threshold      float64        `json:"threshold"`       // Options.Threshold
	Retrain        bool           `json:"retrain"`         // Options.Gate's verdict
	Columns        []ColumnResult `json:"columns"`         // in reference column order
}

// ColumnResult is one column's test, as Evidently's ValueDrift reports it,
// with the counts behind it and the distributions the HTML report draws.
type ColumnResult struct {
	Column        string  `json:"column"`
	Type          string  `json:"type"` // "num" or "cat"
	Test          string  `json:"test"` // one of the Test* names
	Score         float64 `json:"score"`
	StatThreshold float64 `json:"stat_threshold"`
	Drifted       bool    `json:"drifted"`
	// NReference and NCurrent count the values tested (missing and
	// infinite values dropped); Distinct counts the distinct values of
	// both together. These three choose the test.
	NReference int `json:"n_reference"`
	NCurrent   int `json:"n_current"`
	Distinct   int `json:"distinct"`
	// Histogram is what the HTML report draws.
	Histogram Histogram `json:"histogram"`
}

// Histogram holds reference and current counts over shared bins: one bin
// per value (categories, or numbers with few distinct values), or Sturges
// bins over both samples for other numerical columns.
type Histogram struct {
	// Labels name the bins: the category or value, or "[lo, hi)".
	Labels []string `json:"labels"`
	// Edges are the numerical bin edges (len(Labels)+1), nil for
	// one-bin-per-value histograms.
	Edges     []float64 `json:"edges,omitempty"`
	Reference []int     `json:"reference"`
	Current   []int     `json:"current"`
}

// Compare tests every column of the current month against the same
// column of the reference month with Evidently's default rules (see the
// package documentation) and summarises the drift share. Columns are
// paired by name; both sides must hold the same names with the same kinds.
func Compare(ref, cur []snapshot.Column, opts Options) (*Report, error) {
	return CompareContext(context.Background(), ref, cur, opts)
}

// CompareContext is Compare stopping with ctx's error, between two
// columns, once ctx ends.
func CompareContext(ctx context.Context, ref, cur []snapshot.Column, opts Options) (*Report, error) {
	if math.IsNaN(opts.Threshold) || opts.Threshold < 0 || opts.Threshold > 1 {
		return nil, fmt.Errorf("%w: threshold %v is not within [0, 1]", ErrOptions, opts.Threshold)
	}
	if len(ref) == 0 {
		return nil, fmt.Errorf("%w: no reference columns", ErrSchema)
	}
	curByName := make(map[string]*snapshot.Column, len(cur))
	for i := range cur {
		if _, dup := curByName[cur[i].Name]; dup {
			return nil, fmt.Errorf("%w: current column %q given twice", ErrSchema, cur[i].Name)
		}
		curByName[cur[i].Name] = &cur[i]
	}
	seen := make(map[string]bool, len(ref))
	rep := &Report{
		Reference: opts.Reference,
		Current:   opts.Current,
		Threshold: opts.Threshold,
		Columns:   make([]ColumnResult, 0, len(ref)),
	}
	scratch := newScratch(ref, cur)
	for i := range ref {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := &ref[i]
		if seen[r.Name] {
			return nil, fmt.Errorf("%w: reference column %q given twice", ErrSchema, r.Name)
		}
		seen[r.Name] = true
		c, ok := curByName[r.Name]
		if !ok {
			return nil, fmt.Errorf("%w: column %q is missing from the current month", ErrSchema, r.Name)
		}
		if r.Kind != c.Kind {
			return nil, fmt.Errorf("%w: column %q is %s in the reference but %s in the current month",
				ErrSchema, r.Name, r.Kind, c.Kind)
		}
		res, err := compareColumn(r, c, scratch)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", r.Name, err)
		}
		res.Column = r.Name
		if res.Drifted {
			rep.DriftedColumns++
		}
		rep.Columns = append(rep.Columns, res)
	}
	for _, c := range cur {
		if !seen[c.Name] {
			return nil, fmt.Errorf("%w: column %q is missing from the reference month", ErrSchema, c.Name)
		}
	}
	rep.DriftShare = float64(rep.DriftedColumns) / float64(len(rep.Columns))
	if opts.Gate != nil {
		retrain, err := opts.Gate(rep.DriftShare, rep.Threshold)
		if err != nil {
			return nil, fmt.Errorf("drift gate: %w", err)
		}
		rep.Retrain = retrain
	}
	return rep, nil
}
