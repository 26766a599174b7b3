package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
)

// DefaultRowBudget is the customers a shard is planned for: a shard build
// holds its customers, their index and their Parquet encoding in memory,
// about 1 GB at this budget (see the package documentation).
const DefaultRowBudget = 500_000

// DefaultChunkBytes bounds the staged rows a partition task buffers: all
// its shards' buffers together, each flushed as one staging object when it
// reaches DefaultChunkBytes/K (within [minChunk, maxChunk]).
const DefaultChunkBytes = 128 << 20

const (
	minChunk = 256 << 10
	maxChunk = 8 << 20
)

// PlanSchema versions the plan's JSON.
const PlanSchema = "churnops.ingest.plan/v1"

// Committed states of an as_of when it is planned.
const (
	CommittedNone     = ""
	CommittedManifest = "manifest" // a sharded month is stored
	CommittedLegacy   = "legacy"   // a month stored before sharding
)

// Plan is one ingest attempt of a month: what to read, into how many
// shards, and where the attempt stages its work. It is small JSON: the
// state machine passes it (or its key) to every task.
type Plan struct {
	Schema string `json:"schema"`
	AsOf   string `json:"as_of"`
	// Attempt names this attempt's staging directory (see NewAttempt).
	Attempt string    `json:"attempt"`
	Source  SourceRef `json:"source"`
	// K is the number of shards.
	K         int `json:"k"`
	RowBudget int `json:"row_budget"`
	// Rows is the users table's row count K was chosen from: its newline
	// count less one header per file, an upper bound of its rows (exact for
	// the lab's files); -1 when neither K nor the sample needed it (K
	// forced or taken from a stored month, no sample to store).
	Rows int `json:"rows"`
	// Tables are the six tables in snapshot.Files() order.
	Tables []Table `json:"tables"`
	// Parts are the input files, one partition task each, grouped by table.
	Parts []Part `json:"parts"`
	// Problems are the layout's problems (missing tables, unknown files).
	Problems []snapshot.Problem `json:"problems,omitempty"`
	// ChunkBytes is the size at which a partition task flushes a shard's
	// staged rows.
	ChunkBytes int `json:"chunk_bytes"`
	// Committed says whether the as_of was already stored when planned:
	// the ingest then only checks that the data is the same.
	Committed string    `json:"committed,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	// SampleRows is the budget of the training sample the commit stores
	// (dataset.Sample) when the month has more customers than that;
	// SampleBound is the key below which a build stages a customer as a
	// candidate for it (dataset.SampleBound of Rows), 0 when no sample is
	// stored (a month within the budget is its own sample).
	SampleRows  int    `json:"sample_rows,omitempty"`
	SampleBound uint64 `json:"sample_bound,omitempty"`
}

// PlanOptions tune NewPlan. The zero value is the default.
type PlanOptions struct {
	// RowBudget is the customers per shard (0: DefaultRowBudget).
	RowBudget int
	// Shards forces K (tests, benchmarks); 0 chooses it from the rows.
	Shards int
	// Attempt is the attempt id; empty makes a new one (NewAttempt). A
	// retried task passes the same id to find its plan again.
	Attempt string
	// ChunkBytes is the staging buffer budget of a partition task (0:
	// DefaultChunkBytes).
	ChunkBytes int
	// RequireMarker refuses a source without a marker (Markers) with a
	// *NotReadyError. Blob sources always require one.
	RequireMarker bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// SampleRows is the training sample's budget the commit stores for a
	// month larger than it (0: dataset.DefaultSampleRows; negative: none).
	SampleRows int
}

// NewPlan lists the month in src, checks its layout, chooses K and stores
// the plan under the attempt's staging directory. Planning the same attempt
// again returns the stored plan, so a retried planning task agrees with the
// tasks already started.
//
// K comes, in order, from a stored month of this as_of (whose K is kept, so
// that re-ingesting it compares like with like), from PlanOptions.Shards,
// or from the users table's rows: shard.Count(rows, RowBudget). Rows are
// counted, not estimated: newline bytes of every users file (decompressed),
// less one header each. It costs one streaming read of the users table
// (about a fifth of a month's bytes), but no estimate from file sizes can
// be trusted with gzip or with rows narrower than expected, and an
// under-estimate would overfill every shard; newlines inside quoted fields
// only over-count, which errs towards smaller shards.
//
// A source that is not complete yet (no marker) is a *NotReadyError;
// layout problems are kept in the plan and reported by Commit with every
// other problem.
func NewPlan(ctx context.Context, src Source, store blob.Store, asOf time.Time, opts PlanOptions) (*Plan, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if asOf.IsZero() {
		return nil, fmt.Errorf("ingest: plan: %w: not set", snapshot.ErrInvalidAsOf)
	}
	day := asOf.Format(snapshot.DateLayout)
	if opts.Attempt == "" {
		opts.Attempt = NewAttempt(now())
	}
	if err := checkAttempt(opts.Attempt); err != nil {
		return nil, err
	}
	if p, err := LoadPlan(ctx, store, day, opts.Attempt); err == nil {
		return p, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return nil, err
	}

	files, err := src.Files(ctx)
	if err != nil {
		return nil, err
	}
	lay := classify(files)
	if lay.marker == "" && (opts.RequireMarker || src.Ref().Kind == KindBlob) {
		return nil, &NotReadyError{Source: src.Ref().String()}
	}
	p := &Plan{
		Schema: PlanSchema, AsOf: day, Attempt: opts.Attempt, Source: src.Ref(),
		RowBudget: opts.RowBudget, Rows: -1,
		Tables: lay.tables, Parts: lay.parts, Problems: lay.problems,
		CreatedAt: now().UTC().Truncate(time.Second),
	}
	if p.RowBudget <= 0 {
		p.RowBudget = DefaultRowBudget
	}
	if p.Committed, p.K, err = committed(ctx, store, day); err != nil {
		return nil, err
	}
	if p.K == 0 {
		p.K = opts.Shards
	}
	p.SampleRows = opts.SampleRows
	if p.SampleRows == 0 {
		p.SampleRows = dataset.DefaultSampleRows
	}
	if p.K == 0 || p.SampleRows > 0 && p.Committed == CommittedNone {
		if p.Rows, err = countRows(ctx, src, p); err != nil {
			return nil, err
		}
	}
	if p.K == 0 {
		p.K = shard.Count(p.Rows, p.RowBudget)
	}
	if p.SampleRows <= 0 || p.Committed != CommittedNone || p.Rows <= p.SampleRows {
		p.SampleRows = 0 // a month within the budget is its own sample
	} else {
		p.SampleBound = dataset.SampleBound(p.Rows, p.SampleRows)
	}
	budget := opts.ChunkBytes
	if budget <= 0 {
		budget = DefaultChunkBytes
	}
	p.ChunkBytes = min(max(budget/p.K, minChunk), maxChunk)

	data, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("ingest: plan: %w", err)
	}
	if err := store.Put(ctx, planKey(day, p.Attempt), data); err != nil {
		if errors.Is(err, blob.ErrExists) { // planned concurrently: theirs wins
			return LoadPlan(ctx, store, day, p.Attempt)
		}
		return nil, fmt.Errorf("ingest: store plan: %w", err)
	}
	return p, nil
}

// LoadPlan reads the stored plan of an attempt; a missing one wraps
// blob.ErrNotFound.
func LoadPlan(ctx context.Context, store blob.Store, asOf, attempt string) (*Plan, error) {
	data, err := store.Get(ctx, planKey(asOf, attempt))
	if err != nil {
		return nil, fmt.Errorf("ingest: load plan %s/%s: %w", asOf, attempt, err)
	}
	var p Plan
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("ingest: decode plan %s/%s: %w", asOf, attempt, err)
	}
	if p.Schema != PlanSchema {
		return nil, fmt.Errorf("ingest: plan %s/%s: schema %q, want %q", asOf, attempt, p.Schema, PlanSchema)
	}
	return &p, nil
}

// committed says whether asOf is already stored, and with how many shards.
func committed(ctx context.Context, store blob.Store, asOf string) (string, int, error) {
	m, err := dataset.Open(ctx, store, asOf)
	switch {
	case errors.Is(err, dataset.ErrNotFound):
		return CommittedNone, 0, nil
	case err != nil:
		return "", 0, fmt.Errorf("ingest: plan: %w", err)
	case m.Legacy:
		return CommittedLegacy, 1, nil
	}
	return CommittedManifest, m.K, nil
}

// countRows counts the users table's rows (see NewPlan). A month without a
// readable users table has nothing to shard by: it gets one shard, and
// fails validation anyway.
func countRows(ctx context.Context, src Source, p *Plan) (int, error) {
	rows := 0
	for _, i := range p.Tables[0].Parts {
		n, err := countLines(ctx, src, p.Parts[i].File)
		var ge *gzipError
		if errors.As(err, &ge) {
			continue // reported by its partition task
		}
		if err != nil {
			return 0, err
		}
		rows += max(n-1, 0)
	}
	return rows, nil
}

// countLines counts the lines of a file: its newline bytes, plus one for a
// last line without one.
func countLines(ctx context.Context, src Source, name string) (int, error) {
	r, err := openPart(ctx, src, name)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	buf := make([]byte, 1<<20)
	lines, last := 0, byte('\n')
	for {
		n, err := r.Read(buf)
		if n > 0 {
			lines += bytes.Count(buf[:n], []byte{'\n'})
			last = buf[n-1]
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("ingest: count rows of %s: %w", name, err)
		}
	}
	if last != '\n' {
		lines++
	}
	return lines, nil
}
