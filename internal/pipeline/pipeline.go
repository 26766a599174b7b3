package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/snapshot"
)

// Pipeline runs the steps against a set of stores: the embedded ones on a
// laptop, S3 and DynamoDB in Lambda.
type Pipeline struct {
	Blobs    blob.Store
	Registry registry.Registry
	Features featurestore.Store
	Log      *slog.Logger
	Now      func() time.Time
	// Progress, when set, receives short human-readable notes from long
	// steps (training rounds, rows written).
	Progress func(step, msg string)
	// MaxFileBytes bounds each CSV file Ingest reads; zero means
	// snapshot.DefaultMaxFileBytes.
	MaxFileBytes int64
	// LocalDirs lets an ingest read a month from a directory of this
	// machine (incoming.dir): the CLI's; a Lambda reads its bucket only.
	LocalDirs bool
	// OrphanGrace is how old a version without its artifact must be before
	// a run marks it orphaned; zero means DefaultOrphanGrace, a negative
	// value none (when no other run can be in flight).
	OrphanGrace time.Duration
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now().UTC()
	}
	return time.Now().UTC()
}

func (p *Pipeline) maxFileBytes() int64 {
	if p.MaxFileBytes > 0 {
		return p.MaxFileBytes
	}
	return snapshot.DefaultMaxFileBytes
}

func (p *Pipeline) log() *slog.Logger {
	if p.Log != nil {
		return p.Log
	}
	return slog.New(slog.DiscardHandler)
}

func (p *Pipeline) progress(step, format string, args ...any) {
	if p.Progress != nil {
		p.Progress(step, fmt.Sprintf(format, args...))
	}
}

// DriftReportKey is where the drift report between two months is stored
// (ext "json" or "html").
func DriftReportKey(ref, cur, ext string) string {
	return "reports/drift/" + ref + "_vs_" + cur + "." + ext
}

// ModelKey is where a model version's files live (name: model.json,
// metrics.json, val_predictions.csv).
func ModelKey(model string, version int, name string) string {
	return fmt.Sprintf("models/%s/v%d/%s", model, version, name)
}

// parseAsOf validates an as_of field.
func parseAsOf(field, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, &InvalidInputError{Msg: field + " is required (YYYY-MM-DD)"}
	}
	t, err := time.Parse(snapshot.DateLayout, s)
	if err != nil {
		return time.Time{}, &InvalidInputError{Msg: fmt.Sprintf("%s %q is not a date (YYYY-MM-DD)", field, s)}
	}
	return t, nil
}

// FutureTolerance is how far past today (UTC) an as_of may be: a day, for
// the operator whose month ends before it does in UTC. Anything later is a
// typo (2204-01-31 for 2024-01-31) that would otherwise be served as the
// newest month forever, every real month then being a backfill.
const FutureTolerance = 24 * time.Hour

// checkNotFuture refuses a date after today plus FutureTolerance.
func checkNotFuture(field string, t, now time.Time) error {
	now = now.UTC()
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	if t.After(today.Add(FutureTolerance)) {
		return &InvalidInputError{Msg: fmt.Sprintf("%s %s is in the future (today is %s UTC): a typo? a month is ingested once it has ended",
			field, t.Format(snapshot.DateLayout), today.Format(snapshot.DateLayout))}
	}
	return nil
}

// putOnce stores data under key; if the key already holds exactly these
// bytes (a retried or repeated deterministic step), that is success. Keys are
// never overwritten with different content.
func (p *Pipeline) putOnce(ctx context.Context, key string, data []byte) error {
	err := p.Blobs.Put(ctx, key, data)
	if !errors.Is(err, blob.ErrExists) {
		return err
	}
	old, gerr := p.Blobs.Get(ctx, key)
	if gerr != nil {
		return fmt.Errorf("%w (and reading it back: %v)", err, gerr)
	}
	if string(old) != string(data) {
		return fmt.Errorf("%s exists with different content; keys are never overwritten: %w", key, err)
	}
	return nil
}

// Symbolic as_of values the Drift step resolves, so that a schedule can run
// "the newest month against the one before" without knowing dates.
const (
	AsOfLatest   = "latest"   // current_as_of: the newest ingested month
	AsOfPrevious = "previous" // reference_as_of: the month ingested before current
)

// ResolveAsOfs replaces "latest" and "previous" by ingested dates and
// checks the pair: both dates stored (a SnapshotNotFoundError otherwise)
// and the reference month before the current one (an InvalidInputError).
// The state machine calls it once, in its first step (CheckProduction),
// and every later step reads the dates it resolved.
func (p *Pipeline) ResolveAsOfs(ctx context.Context, ref, cur string) (string, string, error) {
	all, err := dataset.List(ctx, p.Blobs)
	if err != nil {
		return "", "", err
	}
	if cur == AsOfLatest {
		if len(all) == 0 {
			return "", "", &SnapshotNotFoundError{AsOf: AsOfLatest}
		}
		cur = all[len(all)-1]
	}
	if ref == AsOfPrevious {
		i := sort.SearchStrings(all, cur)
		if i == 0 {
			return "", "", &SnapshotNotFoundError{AsOf: "previous to " + cur}
		}
		ref = all[i-1]
	}
	for _, f := range []struct{ name, v string }{{"reference_as_of", ref}, {"current_as_of", cur}} {
		if _, err := parseAsOf(f.name, f.v); err != nil {
			return "", "", err
		}
		if i := sort.SearchStrings(all, f.v); i == len(all) || all[i] != f.v {
			return "", "", &SnapshotNotFoundError{AsOf: f.v}
		}
	}
	if err := checkOrder(ref, cur); err != nil {
		return "", "", err
	}
	return ref, cur, nil
}

// checkOrder refuses a reference month that is not before the current one.
func checkOrder(ref, cur string) error {
	if ref >= cur {
		return &InvalidInputError{Msg: fmt.Sprintf("reference_as_of %s must be before current_as_of %s (drift compares the current month with an earlier one)", ref, cur)}
	}
	return nil
}
