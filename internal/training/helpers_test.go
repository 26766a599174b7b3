package training_test

import (
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// dataDir returns the lab's sample months (see snapshottest.SampleDir).
func dataDir(tb testing.TB) string { tb.Helper(); return snapshottest.SampleDir(tb) }

var (
	monthsMu sync.Mutex
	months   = map[string]*snapshot.Month{}
)

// realMonth loads (once per test binary) one of the lab's months.
func realMonth(tb testing.TB, name, asOf string) *snapshot.Month {
	tb.Helper()
	dir := dataDir(tb)
	monthsMu.Lock()
	defer monthsMu.Unlock()
	if m, ok := months[name]; ok {
		return m
	}
	t, err := time.Parse(snapshot.DateLayout, asOf)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := snapshot.Load(filepath.Join(dir, name), t)
	if err != nil {
		tb.Fatalf("load %s: %v", name, err)
	}
	months[name] = m
	return m
}

func month000(tb testing.TB) *snapshot.Month { return realMonth(tb, "month_000", "2024-01-31") }
func month001(tb testing.TB) *snapshot.Month { return realMonth(tb, "month_001", "2024-02-29") }
