// Package snapshottest finds the lab's real sample months for tests and
// benchmarks. They live beside the repository (../shared/data/streamflow),
// never in it.
package snapshottest

import (
	"os"
	"path/filepath"
	"testing"
)

// EnvRequire, when set to 1, turns a missing sample directory into a test
// failure instead of a skip, for runs that must exercise the real months.
const EnvRequire = "CHURNOPS_REQUIRE_SAMPLES"

// SampleDir returns the directory holding month_000 and month_001, skipping
// the test when it is absent (failing under CHURNOPS_REQUIRE_SAMPLES=1).
func SampleDir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			missing(tb, "repository root (go.mod) not found above the working directory")
			return ""
		}
		dir = parent
	}
	d := filepath.Join(dir, "..", "shared", "data", "streamflow")
	if _, err := os.Stat(filepath.Join(d, "month_000")); err != nil {
		missing(tb, "sample months not available: "+err.Error())
	}
	return d
}

// Month returns the path of one sample month (e.g. "month_000").
func Month(tb testing.TB, name string) string {
	tb.Helper()
	return filepath.Join(SampleDir(tb), name)
}

func missing(tb testing.TB, msg string) {
	tb.Helper()
	if os.Getenv(EnvRequire) == "1" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}
