package snapshot

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
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
	asOf, err := normalizeAsOf(asOf)
	if err != nil {
		return nil, fmt.Errorf("snapshot: load: %w", err)
	}
	l := loader{fsys: fsys, asOf: asOf}
	for i := range layout {
		if err := l.readFile(&layout[i], i == 0); err != nil {
			return nil, fmt.Errorf("snapshot: load: %w", err)
		}
	}
	if err := l.errs.err(); err != nil {
		return nil, err
	}
	return &Month{AsOf: asOf, Customers: l.customers}, nil
}

// loader holds the state of one LoadFS call.
type loader struct {
	fsys fs.FS
	asOf time.Time
	errs ValidationErrors

	customers []Customer
	index     map[string]int // user_id -> position in customers
	lines     []int          // users.csv line of each customer
	joinable  bool           // users.csv was readable: other files can be joined
	seen      []int          // per file: line where each customer was found, 0 = not yet
}

func (l *loader) problem(p *ValidationError) { l.errs.add(p) }

// readFile reads one file of the layout. The first file (users.csv)
// creates the customers; the others fill them in. Data problems are
// recorded; only I/O failures are returned.
func (l *loader) readFile(spec *fileSpec, first bool) error {
	name := spec.name
	f, err := l.fsys.Open(name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.problem(&ValidationError{File: name, Msg: "missing file", Err: err})
			return nil
		}
		return fmt.Errorf("open %s: %w", name, err)
	}
	defer f.Close()

	r := csv.NewReader(f)
	r.ReuseRecord = true
	r.FieldsPerRecord = -1 // field counts are checked below, to keep going

	header, err := r.Read()
	switch {
	case err == io.EOF:
		l.problem(&ValidationError{File: name, Line: 1, Msg: "empty file, want a header line"})
		return nil
	case err != nil:
		return l.readError(name, err)
	}
	header = append([]string(nil), header...) // ReuseRecord: keep our copy
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // Excel's UTF-8 BOM
	}
	idCol, colIdx, ok := l.matchHeader(spec, header)
	if !ok {
		return nil // rows cannot be interpreted without their columns
	}

	join := l.joinable && !first
	if first {
		l.index = make(map[string]int, 8192)
	} else if join {
		if l.seen == nil {
			l.seen = make([]int, len(l.customers))
		}
		clear(l.seen)
	}

	var scratch Customer // receives values of rows that cannot be joined
	rows := 0
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return l.readError(name, err)
		}
		rows++
		line, _ := r.FieldPos(0)

		if len(rec) != len(header) {
			l.problem(&ValidationError{File: name, Line: line,
				Msg: fmt.Sprintf("has %d fields, header has %d", len(rec), len(header))})
			// Still mark the user as present, so that one bad line does not
			// also report the user as missing from this file.
			if join && idCol < len(rec) {
				if i, ok := l.index[rec[idCol]]; ok && l.seen[i] == 0 {
					l.seen[i] = line
				}
			}
			continue
		}

		id := rec[idCol]
		if id == "" {
			l.problem(&ValidationError{File: name, Line: line, Column: UserIDColumn, Msg: "empty user_id", Err: errEmpty})
			continue
		}
		c := &scratch
		switch {
		case first:
			if prev, dup := l.index[id]; dup {
				l.problem(&ValidationError{File: name, Line: line, Column: UserIDColumn, Value: id,
					Msg: fmt.Sprintf("duplicate user_id, first on line %d", l.lines[prev])})
				continue
			}
			l.index[id] = len(l.customers)
			l.customers = append(l.customers, Customer{UserID: id})
			l.lines = append(l.lines, line)
			c = &l.customers[len(l.customers)-1]
		case join:
			// The lab's files share users.csv's row order: try that first.
			i, ok := rows-1, rows <= len(l.customers) && l.customers[rows-1].UserID == id
			if !ok {
				i, ok = l.index[id]
			}
			if !ok {
				l.problem(&ValidationError{File: name, Line: line, Column: UserIDColumn, Value: id,
					Msg: "user not in " + UsersFile})
				continue
			}
			if l.seen[i] != 0 {
				l.problem(&ValidationError{File: name, Line: line, Column: UserIDColumn, Value: id,
					Msg: fmt.Sprintf("duplicate user_id, first on line %d", l.seen[i])})
				continue
			}
			l.seen[i] = line
			c = &l.customers[i]
		}

		for k := range spec.cols {
			cs := &spec.cols[k]
			s := rec[colIdx[k]]
			if msg, cause := cs.parse(c, s); msg != "" {
				l.problem(&ValidationError{File: name, Line: line, Column: cs.name, Value: s, Msg: msg, Err: cause})
				continue
			}
			if cs.kind == kindDate && cs.date(c).After(l.asOf) {
				l.problem(&ValidationError{File: name, Line: line, Column: cs.name, Value: s,
					Msg: "after as_of " + l.asOf.Format(DateLayout)})
			}
		}
	}

	if rows == 0 {
		// Said once, rather than reporting every user missing from here.
		l.problem(&ValidationError{File: name, Line: 1, Msg: "no data rows, only a header"})
		return nil
	}
	if first {
		l.joinable = true
		return nil
	}
	if join {
		for i, at := range l.seen {
			if at == 0 {
				l.problem(&ValidationError{File: UsersFile, Line: l.lines[i], Column: UserIDColumn,
					Value: l.customers[i].UserID, Msg: "user missing from " + name})
			}
		}
	}
	return nil
}

// matchHeader maps the file's header to the spec's columns by name. It
// records unknown, duplicate and missing columns and reports whether the
// rows can be read.
func (l *loader) matchHeader(spec *fileSpec, header []string) (idCol int, colIdx []int, ok bool) {
	name := spec.name
	idCol = -1
	colIdx = make([]int, len(spec.cols))
	for k := range colIdx {
		colIdx[k] = -1
	}
	ok = true
	for j, h := range header {
		pos := -2 // unknown
		if h == UserIDColumn {
			pos = -1
		} else {
			for k := range spec.cols {
				if spec.cols[k].name == h {
					pos = k
					break
				}
			}
		}
		switch {
		case pos == -2:
			l.problem(&ValidationError{File: name, Line: 1, Column: h, Msg: "unknown column"})
			ok = false
		case (pos == -1 && idCol >= 0) || (pos >= 0 && colIdx[pos] >= 0):
			l.problem(&ValidationError{File: name, Line: 1, Column: h, Msg: "duplicate column"})
			ok = false
		case pos == -1:
			idCol = j
		default:
			colIdx[pos] = j
		}
	}
	if idCol < 0 {
		l.problem(&ValidationError{File: name, Line: 1, Column: UserIDColumn, Msg: "missing column"})
		ok = false
	}
	for k, j := range colIdx {
		if j < 0 {
			l.problem(&ValidationError{File: name, Line: 1, Column: spec.cols[k].name, Msg: "missing column"})
			ok = false
		}
	}
	return idCol, colIdx, ok
}

// readError turns a CSV syntax error into a located problem; other read
// errors are I/O failures and are returned.
func (l *loader) readError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if pe.Column > 0 {
			msg = fmt.Sprintf("character %d: %s", pe.Column, msg)
		}
		l.problem(&ValidationError{File: name, Line: pe.Line, Msg: "malformed CSV: " + msg + "; rest of file skipped", Err: pe.Err})
		return nil
	}
	return fmt.Errorf("read %s: %w", name, err)
}
