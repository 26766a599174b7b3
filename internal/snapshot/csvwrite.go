package snapshot

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
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

// writeCSV writes one file of the layout to w. Values are quoted only when
// CSV requires it (a comma, quote or line break), as Python's csv module
// does; none of the lab's values need it.
func writeCSV(w io.Writer, spec *fileSpec, m *Month) error {
	cw := csv.NewWriter(w)
	rec := make([]string, len(spec.cols)+1)
	rec[0] = UserIDColumn
	for k := range spec.cols {
		rec[k+1] = spec.cols[k].name
	}
	if err := cw.Write(rec); err != nil {
		return err
	}
	var buf []byte
	for i := range m.Customers {
		c := &m.Customers[i]
		rec[0] = c.UserID
		for k := range spec.cols {
			cs := &spec.cols[k]
			if cs.kind == kindString {
				rec[k+1] = *cs.str(c) // no copy needed
				continue
			}
			buf = cs.appendValue(buf[:0], c)
			rec[k+1] = string(buf)
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
