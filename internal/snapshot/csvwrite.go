package snapshot

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"unicode"
	"unicode/utf8"
)

// WriteCSVDir writes the month as the lab's six CSV files (Files) in a new
// directory dir, byte for byte in the lab's format: the lab's header order,
// LF line endings, True/False booleans, empty for a missing optional
// boolean, floats spelled as Python's repr (AppendFloat). Load(dir, m.AsOf)
// gives back an equal month; as_of itself is not stored in the CSVs (the
// lab passes it on the command line), so the caller keeps it.
//
// The month is validated first. Writing is atomic for the directory: the
// files are written to a temporary sibling directory which is then renamed
// to dir, so dir either does not exist or is complete. dir must not exist,
// or be an empty directory (replaced); a non-empty dir is an error wrapping
// fs.ErrExist, as stored snapshots are never overwritten.
func WriteCSVDir(dir string, m *Month) error {
	if err := m.validate(""); err != nil {
		return fmt.Errorf("snapshot: write csv %s: %w", dir, err)
	}
	dir = filepath.Clean(dir)
	if err := checkTarget(dir); err != nil {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	done := false
	defer func() {
		if !done {
			os.RemoveAll(tmp)
		}
	}()
	for i := range layout {
		if err := writeCSVFile(filepath.Join(tmp, layout[i].name), &layout[i], m); err != nil {
			return fmt.Errorf("snapshot: write csv %s: %w", dir, err)
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	// An existing empty dir is replaced; rename(2) does that atomically on
	// POSIX, but Windows refuses, so remove it first.
	if err := os.Remove(dir); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("snapshot: write csv: %w", err)
	}
	done = true
	return nil
}

// checkTarget accepts a dir that does not exist or is an empty directory.
func checkTarget(dir string) error {
	entries, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case len(entries) > 0:
		return fmt.Errorf("%s: %w and is not empty", dir, fs.ErrExist)
	}
	return nil
}

// writeCSVFile writes one file of the layout to path, synced to disk.
func writeCSVFile(path string, spec *fileSpec, m *Month) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	bw := bufio.NewWriterSize(f, 64<<10)
	if err := writeCSV(bw, spec, m); err != nil {
		return fmt.Errorf("%s: %w", spec.name, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("%s: %w", spec.name, err)
	}
	return f.Sync()
}

// writeCSV writes one file of the layout to w.
func writeCSV(w io.Writer, spec *fileSpec, m *Month) error {
	t := 0
	for i := range layout {
		if &layout[i] == spec {
			t = i
		}
	}
	buf := AppendCSVHeader(nil, t)
	for i := range m.Customers {
		buf = AppendCSVRow(buf, t, &m.Customers[i])
		if len(buf) >= 64<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	_, err := w.Write(buf)
	return err
}

// AppendCSVHeader appends the header line of table t (an index in
// Files()) in the lab's column order.
func AppendCSVHeader(dst []byte, t int) []byte {
	dst = appendCSVField(dst, UserIDColumn)
	for k := range layout[t].cols {
		dst = append(dst, ',')
		dst = appendCSVField(dst, layout[t].cols[k].name)
	}
	return append(dst, '\n')
}

// AppendCSVRow appends customer c's line of table t (an index in Files())
// in the lab's format, byte for byte what encoding/csv's Writer writes for
// the lab's values (see WriteCSVDir): a streaming writer of months (the
// generator) and WriteCSVDir share it.
func AppendCSVRow(dst []byte, t int, c *Customer) []byte {
	dst = appendCSVField(dst, c.UserID)
	for k := range layout[t].cols {
		cs := &layout[t].cols[k]
		dst = append(dst, ',')
		if cs.kind == kindString {
			dst = appendCSVField(dst, *cs.str(c))
			continue
		}
		// Numbers, dates and booleans never need quotes.
		dst = cs.appendValue(dst, c)
	}
	return append(dst, '\n')
}

// appendCSVField appends one field as encoding/csv's Writer does (comma
// delimiter, LF line endings): quoted only when it holds a comma, a quote
// or a line break, starts with a space, or is \. — quotes doubled inside.
func appendCSVField(dst []byte, field string) []byte {
	if !csvNeedsQuotes(field) {
		return append(dst, field...)
	}
	dst = append(dst, '"')
	for i := 0; i < len(field); i++ {
		if field[i] == '"' {
			dst = append(dst, '"')
		}
		dst = append(dst, field[i])
	}
	return append(dst, '"')
}

// csvNeedsQuotes is encoding/csv's Writer.fieldNeedsQuotes for a comma.
func csvNeedsQuotes(field string) bool {
	if field == "" {
		return false
	}
	if field == `\.` {
		return true
	}
	for i := 0; i < len(field); i++ {
		if c := field[i]; c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	r1, _ := utf8.DecodeRuneInString(field)
	return unicode.IsSpace(r1)
}
