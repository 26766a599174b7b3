package drift

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

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
	// Now is the report's generation time (Report.GeneratedAt), given by
	// the caller so that a report is a function of its inputs; the zero
	// time leaves it out.
	Now time.Time
	// ReferenceData and CurrentData say where each month's data came from
	// (dataset key, fingerprint, shards), copied into the report; Compare
	// fills in their Rows from the data itself.
	ReferenceData, CurrentData Provenance
}

// Provenance says where a month's data came from, so that a report can be
// traced back to the exact snapshot it read.
type Provenance struct {
	// Rows is the number of rows (customers) of the month, missing values
	// included: Compare sets it from the data.
	Rows int `json:"rows"`
	// Dataset is where the snapshot is stored (a blob key such as
	// datasets/as_of=2024-02-29/…), Fingerprint its content fingerprint.
	Dataset     string `json:"dataset,omitempty"`
	Fingerprint string `json:"fingerprint,omitempty"`
	// Shards is how many shard summaries were merged into the month's
	// (0 or 1: the month was summarized whole).
	Shards int `json:"shards,omitempty"`
}

// Report is the outcome of a drift comparison between two months: one
// result per column plus the share that decides retraining. Its JSON form
// is the contract the pipeline and the state machine read.
type Report struct {
	Reference      string  `json:"reference"`
	Current        string  `json:"current"`
	DriftShare     float64 `json:"drift_share"`     // DriftedColumns / len(Columns)
	DriftedColumns int     `json:"drifted_columns"` // columns whose test flags drift
	Threshold      float64 `json:"threshold"`       // Options.Threshold
	Retrain        bool    `json:"retrain"`         // Options.Gate's verdict
	// GeneratedAt is Options.Now (absent when zero).
	GeneratedAt time.Time `json:"generated_at,omitzero"`
	// ReferenceData and CurrentData are the months' provenance.
	ReferenceData Provenance     `json:"reference_data"`
	CurrentData   Provenance     `json:"current_data"`
	Columns       []ColumnResult `json:"columns"` // in reference column order
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
	// Reference and Current describe each month's column: missing values
	// and basic statistics.
	Reference ColumnStats `json:"reference_stats"`
	Current   ColumnStats `json:"current_stats"`
	// Constant is true when both months hold one and the same value: no
	// test can see drift in such a column.
	Constant bool `json:"constant"`
	// Approximate is true when the column's values were truncated to keep
	// the summary small (see Summary); Approximation then says how, and
	// bounds the error.
	Approximate   bool           `json:"approximate"`
	Approximation *Approximation `json:"approximation,omitempty"`
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
// It summarizes both months and compares the summaries (CompareSummaries),
// so a month summarized in shards and merged gets the same report.
func Compare(ref, cur []snapshot.Column, opts Options) (*Report, error) {
	return CompareContext(context.Background(), ref, cur, opts)
}

// CompareContext is Compare stopping with ctx's error, between two
// columns, once ctx ends.
func CompareContext(ctx context.Context, ref, cur []snapshot.Column, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if len(ref) == 0 {
		return nil, fmt.Errorf("%w: no reference columns", ErrSchema)
	}
	rs, err := Summarize(ref)
	if err != nil {
		return nil, fmt.Errorf("reference: %w", err)
	}
	cs, err := Summarize(cur)
	if err != nil {
		return nil, fmt.Errorf("current: %w", err)
	}
	return CompareSummariesContext(ctx, rs, cs, opts)
}

func (opts *Options) check() error {
	if math.IsNaN(opts.Threshold) || opts.Threshold < 0 || opts.Threshold > 1 {
		return fmt.Errorf("%w: threshold %v is not within [0, 1]", ErrOptions, opts.Threshold)
	}
	return nil
}

// CompareSummaries is Compare on two months' summaries: each month may
// have been summarized whole or shard by shard and merged.
func CompareSummaries(ref, cur *Summary, opts Options) (*Report, error) {
	return CompareSummariesContext(context.Background(), ref, cur, opts)
}

// CompareSummariesContext is CompareSummaries stopping with ctx's error,
// between two columns, once ctx ends.
func CompareSummariesContext(ctx context.Context, ref, cur *Summary, opts Options) (*Report, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if ref == nil || cur == nil {
		return nil, fmt.Errorf("%w: missing summary", ErrSchema)
	}
	if len(ref.cols) == 0 {
		return nil, fmt.Errorf("%w: no reference columns", ErrSchema)
	}
	curByName := make(map[string]*columnSummary, len(cur.cols))
	for i := range cur.cols {
		curByName[cur.cols[i].name] = &cur.cols[i] // unique: Summarize checks
	}
	rep := &Report{
		Reference:     opts.Reference,
		Current:       opts.Current,
		Threshold:     opts.Threshold,
		GeneratedAt:   opts.Now.UTC().Truncate(time.Second),
		ReferenceData: opts.ReferenceData,
		CurrentData:   opts.CurrentData,
		Columns:       make([]ColumnResult, 0, len(ref.cols)),
	}
	rep.ReferenceData.Rows, rep.CurrentData.Rows = ref.Rows(), cur.Rows()
	for i := range ref.cols {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r := &ref.cols[i]
		c, ok := curByName[r.name]
		if !ok {
			return nil, fmt.Errorf("%w: column %q is missing from the current month", ErrSchema, r.name)
		}
		if r.kind != c.kind {
			return nil, fmt.Errorf("%w: column %q is %s in the reference but %s in the current month",
				ErrSchema, r.name, r.kind, c.kind)
		}
		res, err := compareColumn(r, c)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", r.name, err)
		}
		if res.Drifted {
			rep.DriftedColumns++
		}
		rep.Columns = append(rep.Columns, res)
	}
	if len(cur.cols) != len(ref.cols) {
		for _, c := range cur.cols {
			if !slices.ContainsFunc(ref.cols, func(r columnSummary) bool { return r.name == c.name }) {
				return nil, fmt.Errorf("%w: column %q is missing from the reference month", ErrSchema, c.name)
			}
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
