package snapshot

import (
	"cmp"
	"encoding/json"
	"errors"
	"io/fs"
	"slices"
	"strconv"
)

// Stages of a table in Load's reporting order: first what reading its
// files finds (file, header and row problems, in file and line order), then
// the users missing from it, found once all its rows are joined.
const (
	StageRead    = 0
	StageMissing = 1
)

// A Problem is a ValidationError with the place Load reports it at, so that
// problems found apart — by the tasks of a sharded ingest, each over a part
// file or a shard — merge back into the order one Load would list them in
// (see MergeProblems).
type Problem struct {
	// Table is the index in Files() of the table the problem belongs to
	// (for a user missing from a table: that table, though the problem
	// names the user's line in users.csv); -1 for problems about the
	// month's layout as a whole, listed first.
	Table int `json:"table"`
	// Stage is StageRead or StageMissing.
	Stage int `json:"stage"`
	// Part is the index of the file among the table's part files (0 for a
	// single-file table); for StageMissing, the users part of the user.
	Part int `json:"part"`
	// Err is the problem; its Line orders problems within a part.
	Err *ValidationError `json:"error"`
}

// compareProblems orders problems as Load reports them. Problems at the
// same place (several columns of one line) keep the order they were found
// in: MergeProblems sorts stably.
func compareProblems(a, b Problem) int {
	return cmp.Or(
		cmp.Compare(a.Table, b.Table),
		cmp.Compare(a.Stage, b.Stage),
		cmp.Compare(a.Part, b.Part),
		cmp.Compare(a.Err.Line, b.Err.Line),
	)
}

// MergeProblems returns the problems of several finders as one
// *ValidationErrors in Load's order, keeping the first MaxProblems, or nil
// when there are none. omitted counts problems the finders found but
// dropped past their own cap.
//
// It gives exactly what a single pass would when each finder kept the first
// MaxProblems of its own problems in Load's order (as Joiner and ReadCSV
// do): any problem among the first MaxProblems overall is among the first
// MaxProblems of the finder that found it.
func MergeProblems(source string, problems []Problem, omitted int) *ValidationErrors {
	if len(problems) == 0 && omitted == 0 {
		return nil
	}
	sorted := slices.Clone(problems)
	slices.SortStableFunc(sorted, compareProblems)
	errs := &ValidationErrors{Source: source, Omitted: omitted}
	for _, p := range sorted {
		errs.add(p.Err)
	}
	return errs
}

// problemList collects problems in the order found, keeping the first
// MaxProblems: the cap every finder applies before MergeProblems.
type problemList struct {
	kept    []Problem
	omitted int
}

func (l *problemList) add(p Problem) {
	if len(l.kept) >= MaxProblems {
		l.omitted++
		return
	}
	l.kept = append(l.kept, p)
}

// causes are the underlying errors a ValidationError can carry, by the
// name its JSON form gives them, so that errors.Is still works on a problem
// that crossed a process boundary (a Lambda's output, a staged result).
var causes = []struct {
	name string
	err  error
}{
	{"not_exist", fs.ErrNotExist},
	{"syntax", strconv.ErrSyntax},
	{"range", strconv.ErrRange},
	{"empty", errEmpty},
	{"negative", errNegative},
	{"not_finite", errNotFinite},
	{"invalid_as_of", ErrInvalidAsOf},
}

// validationErrorJSON is the JSON form of a ValidationError.
type validationErrorJSON struct {
	File   string `json:"file,omitempty"`
	Line   int    `json:"line,omitempty"`
	Row    int    `json:"row,omitempty"`
	Column string `json:"column,omitempty"`
	Value  string `json:"value,omitempty"`
	Msg    string `json:"msg"`
	// Cause names a known cause (see causes); Detail is the cause's text.
	Cause  string `json:"cause,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// MarshalJSON encodes the problem with its cause as a name errors.Is can be
// given back by UnmarshalJSON (fs.ErrNotExist, strconv.ErrSyntax, …).
func (e *ValidationError) MarshalJSON() ([]byte, error) {
	j := validationErrorJSON{File: e.File, Line: e.Line, Row: e.Row, Column: e.Column, Value: e.Value, Msg: e.Msg}
	if e.Err != nil {
		j.Detail = e.Err.Error()
		for _, c := range causes {
			if errors.Is(e.Err, c.err) {
				j.Cause = c.name
				break
			}
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON decodes what MarshalJSON wrote. A known cause comes back
// as an error wrapping its sentinel, with the original text.
func (e *ValidationError) UnmarshalJSON(b []byte) error {
	var j validationErrorJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = ValidationError{File: j.File, Line: j.Line, Row: j.Row, Column: j.Column, Value: j.Value, Msg: j.Msg}
	if j.Cause == "" && j.Detail == "" {
		return nil
	}
	e.Err = errors.New(j.Detail)
	for _, c := range causes {
		if c.name == j.Cause {
			e.Err = &causeError{text: j.Detail, cause: c.err}
			break
		}
	}
	return nil
}

// causeError is a decoded cause: the original text, unwrapping to its
// sentinel.
type causeError struct {
	text  string
	cause error
}

func (e *causeError) Error() string { return e.text }
func (e *causeError) Unwrap() error { return e.cause }
