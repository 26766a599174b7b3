package snapshot

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrInvalidAsOf means an as_of date is missing or not a YYYY-MM-DD date.
// Callers (CLI, Lambda input decoding) branch on it to report a bad request
// rather than bad data.
var ErrInvalidAsOf = errors.New("invalid as_of date")

// MaxProblems is how many problems a ValidationErrors keeps. Loading goes on
// past the first problem so that a user can fix a month in one pass, but a
// systematically broken file (wrong delimiter, shifted columns) would
// otherwise produce one problem per row.
const MaxProblems = 20

// ValidationError is one problem found in a month's data, located precisely
// enough for a person to open the file and fix it.
type ValidationError struct {
	// File is the CSV file name inside the month directory (e.g.
	// "subscriptions.csv"), or the name of another source such as a Parquet
	// file; empty for an in-memory Month.
	File string
	// Line is the 1-based line in File, the header being line 1; 0 when the
	// problem is about the whole file or the source has no lines.
	Line int
	// Row is the 1-based customer row for sources without lines (Parquet,
	// in-memory Month); 0 otherwise.
	Row int
	// Column is the column name, empty when the problem is about a whole
	// line or file.
	Column string
	// Value is the offending raw value, if any.
	Value string
	// Msg says what is wrong.
	Msg string
	// Err is the underlying cause when there is one (fs.ErrNotExist,
	// strconv.ErrSyntax, ...), so errors.Is works through the problem.
	Err error
}

// Error formats the problem as "file:line: column c: value "v": msg".
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		if e.File != "" {
			b.WriteByte(':')
		}
		b.WriteString(strconv.Itoa(e.Line))
	}
	if e.Row > 0 {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("row ")
		b.WriteString(strconv.Itoa(e.Row))
	}
	sep := func() {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
	}
	if e.Column != "" {
		sep()
		b.WriteString("column ")
		b.WriteString(e.Column)
	}
	if e.Value != "" {
		sep()
		b.WriteString("value ")
		b.WriteString(strconv.Quote(e.Value))
	}
	sep()
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause, if any.
func (e *ValidationError) Unwrap() error { return e.Err }

// ValidationErrors is every problem found in one month (up to MaxProblems),
// returned as a single error so that a user sees them all at once.
// errors.As finds both the *ValidationErrors and, through Unwrap, each
// *ValidationError.
type ValidationErrors struct {
	// Source names what was validated: the month directory for Load, a
	// description otherwise; may be empty.
	Source string
	// Problems are the problems kept, in the order found.
	Problems []*ValidationError
	// Omitted counts further problems beyond MaxProblems.
	Omitted int
}

// Error lists every kept problem, one per line.
func (e *ValidationErrors) Error() string {
	var b strings.Builder
	b.WriteString("invalid snapshot")
	if e.Source != "" {
		b.WriteByte(' ')
		b.WriteString(e.Source)
	}
	n := len(e.Problems) + e.Omitted
	fmt.Fprintf(&b, ": %d problem", n)
	if n != 1 {
		b.WriteByte('s')
	}
	for _, p := range e.Problems {
		b.WriteString("\n\t")
		b.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&b, "\n\t... and %d more", e.Omitted)
	}
	return b.String()
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *ValidationErrors) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// add records a problem, counting it as omitted past MaxProblems.
func (e *ValidationErrors) add(p *ValidationError) {
	if len(e.Problems) >= MaxProblems {
		e.Omitted++
		return
	}
	e.Problems = append(e.Problems, p)
}

// err returns e as an error, or nil when no problem was found.
func (e *ValidationErrors) err() error {
	if len(e.Problems) == 0 && e.Omitted == 0 {
		return nil
	}
	return e
}
