package snapshot_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot/snapshottest"

	"github.com/churnops/churnops/internal/snapshot"
)

// sampleDir returns the lab's sample months (see snapshottest.SampleDir).
func sampleDir(tb testing.TB) string { tb.Helper(); return snapshottest.SampleDir(tb) }

// asOf0 and asOf1 are the course pipeline's as_of for month_000 and month_001.
var (
	asOf0 = time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	asOf1 = time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
)

// loadSample loads one of the lab's sample months.
func loadSample(tb testing.TB, month string, asOf time.Time) *snapshot.Month {
	tb.Helper()
	m, err := snapshot.Load(filepath.Join(sampleDir(tb), month), asOf)
	if err != nil {
		tb.Fatalf("Load %s: %v", month, err)
	}
	return m
}

// tinyMonth is snapshottest.TinyMonth.
func tinyMonth() map[string]string { return snapshottest.TinyMonth() }

// writeFiles writes files into a new temporary directory and returns it.
func writeFiles(tb testing.TB, files map[string]string) string {
	tb.Helper()
	dir := tb.TempDir()
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// The fixture edits of snapshottest the tests here still use, by their
// old names.
var (
	setField   = snapshottest.SetField
	mapColumns = snapshottest.MapColumns
)

// problems returns the located problems of a Load error, failing the test
// when err is not a *ValidationErrors.
func problems(tb testing.TB, err error) *snapshot.ValidationErrors {
	tb.Helper()
	var verrs *snapshot.ValidationErrors
	if !errors.As(err, &verrs) {
		tb.Fatalf("error %v (%T) is not a *ValidationErrors", err, err)
	}
	return verrs
}

// diffMonths describes the first difference between two months, or "".
func diffMonths(a, b *snapshot.Month) string {
	if !a.AsOf.Equal(b.AsOf) {
		return "as_of " + a.AsOf.String() + " != " + b.AsOf.String()
	}
	if len(a.Customers) != len(b.Customers) {
		return "customer counts differ"
	}
	for i := range a.Customers {
		ca, cb := a.Customers[i], b.Customers[i]
		if !ca.SignupDate.Equal(cb.SignupDate) {
			return "customer " + ca.UserID + ": signup_date differs"
		}
		ca.SignupDate, cb.SignupDate = time.Time{}, time.Time{}
		if !reflect.DeepEqual(ca, cb) {
			return fmt.Sprintf("customer %s differs:\n%+v\n%+v", ca.UserID, ca, cb)
		}
	}
	return ""
}
