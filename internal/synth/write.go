package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/churnops/churnops/internal/snapshot"
)

// WriteOptions says how to write months to disk.
type WriteOptions struct {
	// Overwrite replaces existing non-empty month directories. Without it,
	// writing refuses (before writing anything) when any target month
	// directory exists and is not empty, so a generated data set is never
	// silently mixed with or replaced by another.
	Overwrite bool
}

// ErrMonthExists is wrapped (together with fs.ErrExist) by WriteMonths when
// a month directory exists, is not empty and Overwrite is off.
var ErrMonthExists = errors.New("month directory exists and is not empty")

// WriteMonths writes months[i] to dir/month_{i:03d} (MonthDir) as the lab's
// six CSV files, creating dir if needed. Each month directory appears
// atomically: it is written complete under a temporary name, then renamed
// (snapshot.WriteCSVDir). With Overwrite, a replaced month is swapped in by
// two renames, so a reader sees the old or the new month, at worst briefly
// no directory, never a mix. The as_of of each month is not stored in the
// CSVs (as in the lab); month i of a generated run has as_of AsOf(i).
func WriteMonths(dir string, months []*snapshot.Month, opt WriteOptions) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("synth: write months: %w", err)
	}
	// Refuse before writing anything, so a refusal leaves dir untouched.
	var existing []bool
	for i := range months {
		full, err := nonEmptyDir(filepath.Join(dir, MonthDir(i)))
		if err != nil {
			return fmt.Errorf("synth: write months: %w", err)
		}
		if full && !opt.Overwrite {
			return fmt.Errorf("synth: write months: %s: %w: %w (use Overwrite)",
				filepath.Join(dir, MonthDir(i)), ErrMonthExists, fs.ErrExist)
		}
		existing = append(existing, full)
	}
	for i, m := range months {
		target := filepath.Join(dir, MonthDir(i))
		if err := writeMonth(target, m, existing[i]); err != nil {
			return fmt.Errorf("synth: write %s: %w", target, err)
		}
	}
	return nil
}

// writeMonth writes m to target, swapping out an existing non-empty target
// when replace is set.
func writeMonth(target string, m *snapshot.Month, replace bool) error {
	if !replace {
		return snapshot.WriteCSVDir(target, m)
	}
	parent, base := filepath.Split(target)
	stage, err := os.MkdirTemp(parent, "."+base+".new-*")
	if err != nil {
		return err
	}
	keep := false // set when the old month could not be put back
	defer func() {
		if !keep {
			os.RemoveAll(stage)
		}
	}()
	fresh := filepath.Join(stage, base)
	if err := snapshot.WriteCSVDir(fresh, m); err != nil {
		return err
	}
	old := filepath.Join(stage, "old")
	if err := os.Rename(target, old); err != nil {
		return fmt.Errorf("move old month aside: %w", err)
	}
	if err := os.Rename(fresh, target); err != nil {
		// Put the old month back rather than leave nothing.
		if rerr := os.Rename(old, target); rerr != nil {
			keep = true
			return fmt.Errorf("install new month: %w (old month left in %s: %v)", err, old, rerr)
		}
		return fmt.Errorf("install new month: %w", err)
	}
	return nil
}

// nonEmptyDir reports whether path exists and is a non-empty directory. A
// path that exists and is not a directory is an error.
func nonEmptyDir(path string) (bool, error) {
	entries, err := os.ReadDir(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	}
	return len(entries) > 0, nil
}

// GenerateToDir generates cfg's months and writes them under dir (see
// WriteMonths). It returns the run so that a caller can report on it (churn
// rates, true-probability AUC) without reading the files back.
func GenerateToDir(dir string, cfg Config, opt WriteOptions) (*Run, error) {
	run, err := Simulate(cfg)
	if err != nil {
		return nil, err
	}
	if err := WriteMonths(dir, run.Months, opt); err != nil {
		return nil, err
	}
	return run, nil
}
