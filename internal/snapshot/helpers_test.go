package snapshot_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
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

// tinyMonth is a valid three-user month in the lab's exact format. Line 2
// of every file is user 0001-AAAAA, line 3 0002-BBBBB (no internet: empty
// optional booleans), line 4 0003-CCCCC.
func tinyMonth() map[string]string {
	return map[string]string{
		"users.csv": `user_id,signup_date,user_gender,user_is_senior,has_family,has_dependents
0001-AAAAA,2022-01-05,Female,False,True,False
0002-BBBBB,2022-01-10,Male,True,False,False
0003-CCCCC,2022-02-01,Male,False,False,True
`,
		"subscriptions.csv": `user_id,months_active,plan_stream_tv,plan_stream_movies,contract_type,paperless_billing,monthly_fee,total_paid,net_service
0001-AAAAA,1,False,True,Month-to-month,True,29.85,29.85,DSL
0002-BBBBB,34,,,Two year,False,20.25,0.0,No
0003-CCCCC,2,True,True,Month-to-month,True,99.65,199.3,Fiber optic
`,
		"usage_agg_30d.csv": `user_id,watch_hours_30d,avg_session_mins_7d,unique_devices_30d,skips_7d,rebuffer_events_7d
0001-AAAAA,24.483650766787413,29.14104464084511,3,4,1
0002-BBBBB,30.03622768754235,29.14104464084511,1,6,4
0003-CCCCC,0.0,29.14104464084511,2,0,0
`,
		"payments_agg_90d.csv": `user_id,failed_payments_90d
0001-AAAAA,1
0002-BBBBB,0
0003-CCCCC,3
`,
		"support_agg_90d.csv": `user_id,support_tickets_90d,ticket_avg_resolution_hrs_90d
0001-AAAAA,0,16.0
0002-BBBBB,2,8.6
0003-CCCCC,4,24.9
`,
		"labels.csv": `user_id,churn_label
0001-AAAAA,False
0002-BBBBB,False
0003-CCCCC,True
`,
	}
}

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

// setField sets the named column on a 1-based line of a fixture file (no
// quoting in fixtures, so a plain split is exact).
func setField(tb testing.TB, files map[string]string, file string, line int, column, value string) {
	tb.Helper()
	lines := strings.Split(files[file], "\n")
	header := strings.Split(lines[0], ",")
	col := -1
	for j, h := range header {
		if h == column {
			col = j
		}
	}
	if col < 0 || line < 1 || line > len(lines) {
		tb.Fatalf("setField: no column %q or line %d in %s", column, line, file)
	}
	fields := strings.Split(lines[line-1], ",")
	fields[col] = value
	lines[line-1] = strings.Join(fields, ",")
	files[file] = strings.Join(lines, "\n")
}

// setLine replaces a 1-based line of a fixture file.
func setLine(tb testing.TB, files map[string]string, file string, line int, text string) {
	tb.Helper()
	lines := strings.Split(files[file], "\n")
	if line < 1 || line > len(lines) {
		tb.Fatalf("setLine: no line %d in %s", line, file)
	}
	lines[line-1] = text
	files[file] = strings.Join(lines, "\n")
}

// deleteLine removes a 1-based line of a fixture file.
func deleteLine(tb testing.TB, files map[string]string, file string, line int) {
	tb.Helper()
	lines := strings.Split(files[file], "\n")
	files[file] = strings.Join(append(lines[:line-1], lines[line:]...), "\n")
}

// mapColumns rewrites every line of a fixture file through f, which gets
// the split fields and returns the new ones.
func mapColumns(files map[string]string, file string, f func(fields []string) []string) {
	lines := strings.Split(strings.TrimSuffix(files[file], "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(f(strings.Split(l, ",")), ",")
	}
	files[file] = strings.Join(lines, "\n") + "\n"
}

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
