package snapshot

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RowSink receives the rows of a table's CSV file as ReadCSV reads them:
// a Joiner (Load, a shard build) or a partitioner routing rows to shards.
type RowSink interface {
	// Row is a data row with as many fields as the header, in the table's
	// canonical column order (Columns: user_id first) whatever the file's
	// order. rec and its strings are only valid during the call: copy
	// what you keep.
	Row(line int, rec []string)
	// FieldCount is a row whose field count (got) differs from the
	// header's (want); id is its user_id field, when it has one (hasID),
	// valid only during the call.
	FieldCount(line, got, want int, id string, hasID bool)
	// Problem is a problem with the file itself: empty, a bad header, or
	// malformed CSV (after which the rest of the file is skipped).
	Problem(p *ValidationError)
}

// FileStatus is what ReadCSV found about one file.
type FileStatus struct {
	// Readable means the file has a header naming every column of its
	// table once and nothing else: its rows were read.
	Readable bool
	// Complete means the file was read to its end (no malformed CSV).
	Complete bool
	// Rows counts the data rows read, including rows with a wrong field
	// count.
	Rows int
}

// ReadCSV reads one CSV file of table (an index in Files()) named file
// (in problems), applying Load's rules: a header matched by column name in
// any order (an Excel UTF-8 BOM is ignored), every row handed to sink in
// the table's column order, problems with the file reported to sink.
// Only I/O errors are returned.
func ReadCSV(r io.Reader, table int, file string, sink RowSink) (FileStatus, error) {
	var st FileStatus
	if table < 0 || table >= len(layout) {
		return st, fmt.Errorf("snapshot: read csv %s: no table %d", file, table)
	}
	spec := &layout[table]
	// Any field count is read: counts are checked below, to keep going.
	cr := newCSVReader(r)

	header, err := cr.Read()
	switch {
	case err == io.EOF:
		sink.Problem(&ValidationError{File: file, Line: 1, Msg: "empty file, want a header line"})
		return st, nil
	case err != nil:
		return st, readError(file, err, sink)
	}
	header = append([]string(nil), header...) // the reader reuses rec
	for i, h := range header {
		header[i] = strings.Clone(h) // and its strings
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff") // Excel's UTF-8 BOM
	}
	idCol, colIdx, ok := matchHeader(spec, file, header, sink)
	if !ok {
		return st, nil // rows cannot be interpreted without their columns
	}
	st.Readable = true

	canon := make([]string, len(spec.cols)+1)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return st, readError(file, err, sink)
		}
		st.Rows++
		line := cr.Line()
		if len(rec) != len(header) {
			var id string
			if idCol < len(rec) {
				id = rec[idCol]
			}
			sink.FieldCount(line, len(rec), len(header), id, idCol < len(rec))
			continue
		}
		canon[0] = rec[idCol]
		for k, j := range colIdx {
			canon[k+1] = rec[j]
		}
		sink.Row(line, canon)
	}
	st.Complete = true
	return st, nil
}

// matchHeader maps the file's header to the spec's columns by name. It
// reports unknown, duplicate and missing columns and whether the rows can
// be read.
func matchHeader(spec *fileSpec, file string, header []string, sink RowSink) (idCol int, colIdx []int, ok bool) {
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
			sink.Problem(&ValidationError{File: file, Line: 1, Column: h, Msg: "unknown column"})
			ok = false
		case (pos == -1 && idCol >= 0) || (pos >= 0 && colIdx[pos] >= 0):
			sink.Problem(&ValidationError{File: file, Line: 1, Column: h, Msg: "duplicate column"})
			ok = false
		case pos == -1:
			idCol = j
		default:
			colIdx[pos] = j
		}
	}
	if idCol < 0 {
		sink.Problem(&ValidationError{File: file, Line: 1, Column: UserIDColumn, Msg: "missing column"})
		ok = false
	}
	for k, j := range colIdx {
		if j < 0 {
			sink.Problem(&ValidationError{File: file, Line: 1, Column: spec.cols[k].name, Msg: "missing column"})
			ok = false
		}
	}
	return idCol, colIdx, ok
}

// readError turns a CSV syntax error into a located problem; other read
// errors are I/O failures and are returned.
func readError(file string, err error, sink RowSink) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		msg := pe.Err.Error()
		if pe.Column > 0 {
			msg = fmt.Sprintf("character %d: %s", pe.Column, msg)
		}
		sink.Problem(&ValidationError{File: file, Line: pe.Line, Msg: "malformed CSV: " + msg + "; rest of file skipped", Err: pe.Err})
		return nil
	}
	return fmt.Errorf("read %s: %w", file, err)
}

// NoRowsProblem is the problem of a table whose files are readable and
// complete but hold no data row at all, said once on the first file's
// header rather than reporting every user missing from the table.
func NoRowsProblem(table int, file string) Problem {
	return Problem{Table: table, Stage: StageRead, Err: &ValidationError{File: file, Line: 1, Msg: "no data rows, only a header"}}
}

// MissingFileProblem is the problem of a table with no file at all; file
// is the name the table's file should have (users.csv).
func MissingFileProblem(table int, file string, cause error) Problem {
	return Problem{Table: table, Stage: StageRead, Err: &ValidationError{File: file, Msg: "missing file", Err: cause}}
}
