package snapshottest

import (
	"errors"
	"io/fs"
	"strconv"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
)

// TinyMonth is a valid three-user month in the lab's exact format, by file
// name. Line 2 of every file is user 0001-AAAAA, line 3 0002-BBBBB (no
// internet: empty optional booleans), line 4 0003-CCCCC. Its as_of is
// 2024-01-31.
func TinyMonth() map[string]string {
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

// SetField sets the named column on a 1-based line of a fixture file (no
// quoting in fixtures, so a plain split is exact).
func SetField(tb testing.TB, files map[string]string, file string, line int, column, value string) {
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
		tb.Fatalf("SetField: no column %q or line %d in %s", column, line, file)
	}
	fields := strings.Split(lines[line-1], ",")
	fields[col] = value
	lines[line-1] = strings.Join(fields, ",")
	files[file] = strings.Join(lines, "\n")
}

// SetLine replaces a 1-based line of a fixture file.
func SetLine(tb testing.TB, files map[string]string, file string, line int, text string) {
	tb.Helper()
	lines := strings.Split(files[file], "\n")
	if line < 1 || line > len(lines) {
		tb.Fatalf("SetLine: no line %d in %s", line, file)
	}
	lines[line-1] = text
	files[file] = strings.Join(lines, "\n")
}

// DeleteLine removes a 1-based line of a fixture file.
func DeleteLine(tb testing.TB, files map[string]string, file string, line int) {
	tb.Helper()
	lines := strings.Split(files[file], "\n")
	files[file] = strings.Join(append(lines[:line-1], lines[line:]...), "\n")
}

// MapColumns rewrites every line of a fixture file through f, which gets
// the split fields and returns the new ones.
func MapColumns(files map[string]string, file string, f func(fields []string) []string) {
	lines := strings.Split(strings.TrimSuffix(files[file], "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.Join(f(strings.Split(l, ",")), ",")
	}
	files[file] = strings.Join(lines, "\n") + "\n"
}

// InvalidCase is one way to break TinyMonth and the problem Load must
// report for it. Every loader of months (snapshot.Load, the sharded
// ingest) runs the same cases.
type InvalidCase struct {
	Name   string
	Mutate func(t testing.TB, files map[string]string)
	// The problem that must be reported: file, 1-based line (0: the whole
	// file), column, value (if any), a substring of its message, and an
	// errors.Is target (if any).
	File, Column, Value string
	Line                int
	Msg                 string
	Cause               error
}

// InvalidCases are the broken months every loader must reject with a
// problem naming file, line and column.
var InvalidCases = []InvalidCase{
	{Name: "missing file", Mutate: func(t testing.TB, f map[string]string) { delete(f, "labels.csv") },
		File: "labels.csv", Msg: "missing file", Cause: fs.ErrNotExist},
	{Name: "missing column", Mutate: func(t testing.TB, f map[string]string) {
		MapColumns(f, "subscriptions.csv", func(r []string) []string { return append(r[:6:6], r[7:]...) })
	}, File: "subscriptions.csv", Line: 1, Column: "monthly_fee", Msg: "missing column"},
	{Name: "missing user_id column", Mutate: func(t testing.TB, f map[string]string) {
		MapColumns(f, "labels.csv", func(r []string) []string { return r[1:] })
	}, File: "labels.csv", Line: 1, Column: "user_id", Msg: "missing column"},
	{Name: "unknown column", Mutate: func(t testing.TB, f map[string]string) {
		MapColumns(f, "payments_agg_90d.csv", func(r []string) []string { return append(r, "x") })
		SetField(t, f, "payments_agg_90d.csv", 1, "x", "failed_payments_30d")
	}, File: "payments_agg_90d.csv", Line: 1, Column: "failed_payments_30d", Msg: "unknown column"},
	{Name: "misspelt column", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "usage_agg_30d.csv", 1, "skips_7d", "skip_7d")
	}, File: "usage_agg_30d.csv", Line: 1, Column: "skips_7d", Msg: "missing column"},
	{Name: "duplicate column", Mutate: func(t testing.TB, f map[string]string) {
		MapColumns(f, "labels.csv", func(r []string) []string { return append(r, r[1]) })
	}, File: "labels.csv", Line: 1, Column: "churn_label", Msg: "duplicate column"},
	{Name: "bad number", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 3, "monthly_fee", "20,25")
	}, File: "subscriptions.csv", Line: 3, Msg: "has 10 fields, header has 9"},
	{Name: "bad float", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 3, "monthly_fee", "abc")
	}, File: "subscriptions.csv", Line: 3, Column: "monthly_fee", Value: "abc", Msg: "not a number", Cause: strconv.ErrSyntax},
	{Name: "empty float", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "support_agg_90d.csv", 4, "ticket_avg_resolution_hrs_90d", "")
	}, File: "support_agg_90d.csv", Line: 4, Column: "ticket_avg_resolution_hrs_90d", Msg: "empty value"},
	{Name: "NaN float", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "usage_agg_30d.csv", 2, "watch_hours_30d", "nan")
	}, File: "usage_agg_30d.csv", Line: 2, Column: "watch_hours_30d", Value: "nan", Msg: "not a finite number"},
	{Name: "infinite float", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "usage_agg_30d.csv", 2, "avg_session_mins_7d", "inf")
	}, File: "usage_agg_30d.csv", Line: 2, Column: "avg_session_mins_7d", Value: "inf", Msg: "not a finite number"},
	{Name: "float out of range", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 2, "total_paid", "1e999")
	}, File: "subscriptions.csv", Line: 2, Column: "total_paid", Value: "1e999", Msg: "not a number", Cause: strconv.ErrRange},
	{Name: "bad int", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 4, "months_active", "2.0")
	}, File: "subscriptions.csv", Line: 4, Column: "months_active", Value: "2.0", Msg: "not an integer"},
	{Name: "empty int", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "payments_agg_90d.csv", 2, "failed_payments_90d", "")
	}, File: "payments_agg_90d.csv", Line: 2, Column: "failed_payments_90d", Msg: "empty value"},
	{Name: "negative months_active", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 2, "months_active", "-1")
	}, File: "subscriptions.csv", Line: 2, Column: "months_active", Value: "-1", Msg: "must not be negative"},
	{Name: "negative fee", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 4, "monthly_fee", "-99.65")
	}, File: "subscriptions.csv", Line: 4, Column: "monthly_fee", Value: "-99.65", Msg: "must not be negative"},
	{Name: "negative count", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "support_agg_90d.csv", 3, "support_tickets_90d", "-2")
	}, File: "support_agg_90d.csv", Line: 3, Column: "support_tickets_90d", Value: "-2", Msg: "must not be negative"},
	{Name: "lowercase bool", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "users.csv", 3, "user_is_senior", "true")
	}, File: "users.csv", Line: 3, Column: "user_is_senior", Value: "true", Msg: "want True or False"},
	{Name: "empty bool", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 2, "paperless_billing", "")
	}, File: "subscriptions.csv", Line: 2, Column: "paperless_billing", Msg: "empty value"},
	{Name: "empty label", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "labels.csv", 4, "churn_label", "")
	}, File: "labels.csv", Line: 4, Column: "churn_label", Msg: "empty value"},
	{Name: "bad optional bool", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 3, "plan_stream_movies", "No internet service")
	}, File: "subscriptions.csv", Line: 3, Column: "plan_stream_movies", Value: "No internet service", Msg: "want True, False or empty"},
	{Name: "bad date", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "users.csv", 2, "signup_date", "2022-13-05")
	}, File: "users.csv", Line: 2, Column: "signup_date", Value: "2022-13-05", Msg: "not a date"},
	{Name: "date in another format", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "users.csv", 4, "signup_date", "01/02/2022")
	}, File: "users.csv", Line: 4, Column: "signup_date", Value: "01/02/2022", Msg: "want YYYY-MM-DD"},
	{Name: "signup after as_of", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "users.csv", 4, "signup_date", "2024-02-01")
	}, File: "users.csv", Line: 4, Column: "signup_date", Value: "2024-02-01", Msg: "after as_of 2024-01-31"},
	{Name: "empty category", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "subscriptions.csv", 4, "net_service", "")
	}, File: "subscriptions.csv", Line: 4, Column: "net_service", Msg: "empty value"},
	{Name: "empty user_id", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "usage_agg_30d.csv", 3, "user_id", "")
	}, File: "usage_agg_30d.csv", Line: 3, Column: "user_id", Msg: "empty user_id"},
	{Name: "duplicate user in users.csv", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "users.csv", 4, "user_id", "0001-AAAAA")
	}, File: "users.csv", Line: 4, Column: "user_id", Value: "0001-AAAAA", Msg: "duplicate user_id, first on line 2"},
	{Name: "duplicate user in a joined file", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "labels.csv", 4, "user_id", "0002-BBBBB")
	}, File: "labels.csv", Line: 4, Column: "user_id", Value: "0002-BBBBB", Msg: "duplicate user_id, first on line 3"},
	{Name: "user missing from a file", Mutate: func(t testing.TB, f map[string]string) {
		DeleteLine(t, f, "usage_agg_30d.csv", 3)
	}, File: "users.csv", Line: 3, Column: "user_id", Value: "0002-BBBBB", Msg: "user missing from usage_agg_30d.csv"},
	{Name: "user not in users.csv", Mutate: func(t testing.TB, f map[string]string) {
		SetField(t, f, "payments_agg_90d.csv", 3, "user_id", "9999-ZZZZZ")
	}, File: "payments_agg_90d.csv", Line: 3, Column: "user_id", Value: "9999-ZZZZZ", Msg: "user not in users.csv"},
	{Name: "user only in users.csv is missing from the others", Mutate: func(t testing.TB, f map[string]string) {
		f["users.csv"] += "0004-DDDDD,2022-01-07,Male,False,False,False\n"
	}, File: "users.csv", Line: 5, Column: "user_id", Value: "0004-DDDDD", Msg: "user missing from subscriptions.csv"},
	{Name: "empty file", Mutate: func(t testing.TB, f map[string]string) { f["labels.csv"] = "" },
		File: "labels.csv", Line: 1, Msg: "empty file"},
	{Name: "header only", Mutate: func(t testing.TB, f map[string]string) {
		f["support_agg_90d.csv"] = "user_id,support_tickets_90d,ticket_avg_resolution_hrs_90d\n"
	}, File: "support_agg_90d.csv", Line: 1, Msg: "no data rows"},
	{Name: "too many fields", Mutate: func(t testing.TB, f map[string]string) {
		SetLine(t, f, "labels.csv", 3, "0002-BBBBB,False,True")
	}, File: "labels.csv", Line: 3, Msg: "has 3 fields, header has 2"},
	{Name: "too few fields", Mutate: func(t testing.TB, f map[string]string) {
		SetLine(t, f, "usage_agg_30d.csv", 4, "0003-CCCCC,0.0,29.1,2,0")
	}, File: "usage_agg_30d.csv", Line: 4, Msg: "has 5 fields, header has 6"},
	{Name: "malformed quoting", Mutate: func(t testing.TB, f map[string]string) {
		SetLine(t, f, "users.csv", 3, `0002-BBBBB,2022-01-10,"Ma"le,True,False,False`)
	}, File: "users.csv", Line: 3, Msg: "malformed CSV"},
}

// Translate maps a case's expected problem into another layout of the same
// data (part files, gzip): where its file and line went, and how its
// message reads there. Nil functions are the identity.
type Translate struct {
	Loc func(file string, line int) (string, int)
	Msg func(msg string) string
}

// CheckInvalid checks that err reports tt's problem (through tr), wraps
// its cause, and names file, line and column in its text.
func CheckInvalid(tb testing.TB, tt InvalidCase, err error, tr Translate) {
	tb.Helper()
	var verrs *snapshot.ValidationErrors
	if !errors.As(err, &verrs) {
		tb.Fatalf("error %v (%T) is not a *ValidationErrors", err, err)
	}
	file, line, msg := tt.File, tt.Line, tt.Msg
	if tr.Loc != nil {
		file, line = tr.Loc(file, line)
	}
	if tr.Msg != nil {
		msg = tr.Msg(msg)
	}
	var found *snapshot.ValidationError
	for _, p := range verrs.Problems {
		if p.File == file && p.Line == line && p.Column == tt.Column &&
			(tt.Value == "" || p.Value == tt.Value) && strings.Contains(p.Msg, msg) {
			found = p
			break
		}
	}
	if found == nil {
		tb.Fatalf("no problem %s:%d column %q value %q %q in:\n%v", file, line, tt.Column, tt.Value, msg, err)
	}
	if tt.Cause != nil && !errors.Is(found, tt.Cause) {
		tb.Errorf("problem %v does not wrap %v", found, tt.Cause)
	}
	if tt.Cause != nil && !errors.Is(err, tt.Cause) {
		tb.Errorf("errors.Is(error, %v) = false", tt.Cause)
	}
	var one *snapshot.ValidationError
	if !errors.As(err, &one) {
		tb.Error("errors.As(*ValidationError) = false")
	}
	// The message names file, line and column for a person to act on.
	text := err.Error()
	loc := file
	if line > 0 {
		loc += ":" + strconv.Itoa(line)
	}
	if !strings.Contains(text, loc) || !strings.Contains(text, tt.Column) {
		tb.Errorf("error text lacks %q / column %q:\n%s", loc, tt.Column, text)
	}
}
