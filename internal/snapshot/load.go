package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"
)

// ParseAsOf parses an as_of date (YYYY-MM-DD, surrounding spaces ignored)
// as midnight UTC. Errors wrap ErrInvalidAsOf.
func ParseAsOf(s string) (time.Time, error) {
	t, err := time.Parse(DateLayout, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w %q: want YYYY-MM-DD, e.g. 2024-01-31: %w", ErrInvalidAsOf, s, err)
	}
	return t, nil
}

// normalizeAsOf keeps the calendar date of t (in t's own location) at
// midnight UTC, so that as_of compares, prints and fingerprints the same
// whatever clock reading the caller passed. It rejects the zero time.
func normalizeAsOf(t time.Time) (time.Time, error) {
	if t.IsZero() {
		return time.Time{}, fmt.Errorf("%w: not set", ErrInvalidAsOf)
	}
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC), nil
}

// Load reads, validates and joins the month in directory dir, in the lab's
// layout (the six CSV files named by Files), stamping it with asOf. See
// LoadFS for what is checked. Data problems are reported together as a
// *ValidationErrors; a missing directory is an error wrapping
// fs.ErrNotExist. It is LoadContext with DefaultMaxFileBytes.
func Load(dir string, asOf time.Time) (*Month, error) {
	return LoadContext(context.Background(), dir, asOf, DefaultMaxFileBytes)
}

// LoadContext is Load reading only regular files of at most maxFileBytes
// each (DirFS: a FIFO or a device under a CSV's name is refused) and
// stopping with ctx's error once ctx ends.
func LoadContext(ctx context.Context, dir string, asOf time.Time, maxFileBytes int64) (*Month, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot: month directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("snapshot: month directory %s: not a directory", dir)
	}
	m, err := LoadFS(DirFS(ctx, dir, maxFileBytes), asOf)
	var verrs *ValidationErrors
	if errors.As(err, &verrs) {
		verrs.Source = dir
	}
	return m, err
}

// LoadFS reads, validates and joins a month from the root of fsys (see
// Load). Columns are matched by header name, in any order. Customers come
// out in users.csv order. Every problem found — missing file, missing,
// unknown or duplicate column, malformed CSV, wrong field count, empty or
// duplicate user_id, a user absent from one file, bad numbers, booleans or
// dates, impossible values (negative counts or amounts, non-finite numbers,
// a signup after as_of), empty or header-only file — is collected, up to
// MaxProblems, into one *ValidationErrors.
func LoadFS(fsys fs.FS, asOf time.Time) (*Month, error) {
	j, err := NewJoiner(asOf, 0)
	if err != nil {
		return nil, fmt.Errorf("snapshot: load: %w", err)
	}
	var problems []Problem
	for t := range layout {
		if err := loadFile(fsys, j, t, &problems); err != nil {
			return nil, fmt.Errorf("snapshot: load: %w", err)
		}
	}
	m, found, omitted := j.Result()
	problems = append(problems, found...)
	if errs := MergeProblems("", problems, omitted); errs != nil {
		return nil, errs
	}
	return m, nil
}

// loadFile reads table t's file into j. Problems about the table as a
// whole (a missing file, no data rows) are appended to problems; only I/O
// failures are returned.
func loadFile(fsys fs.FS, j *Joiner, t int, problems *[]Problem) error {
	name := layout[t].name
	j.Table(t, name)
	j.Part(0, name)
	f, err := fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			*problems = append(*problems, MissingFileProblem(t, name, err))
			j.EndTable(TableStatus{})
			return nil
		}
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()
	st, err := ReadCSV(f, t, name, j)
	if err != nil {
		return err
	}
	status := TableStatus(st)
	if st.Readable && st.Complete && st.Rows == 0 {
		// Said once, rather than reporting every user missing from here.
		*problems = append(*problems, NoRowsProblem(t, name))
	}
	j.EndTable(status)
	return nil
}
