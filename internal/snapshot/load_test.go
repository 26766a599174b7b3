package snapshot_test

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

func TestLoadSampleMonths(t *testing.T) {
	tests := []struct {
		month     string
		asOf      time.Time
		churners  int
		missingTV int
	}{
		{"month_000", asOf0, 1869, 1526},
		{"month_001", asOf1, 1701, 1526},
	}
	for _, tt := range tests {
		t.Run(tt.month, func(t *testing.T) {
			m := loadSample(t, tt.month, tt.asOf)
			if len(m.Customers) != 7043 {
				t.Fatalf("customers = %d, want 7043", len(m.Customers))
			}
			if !m.AsOf.Equal(tt.asOf) {
				t.Errorf("AsOf = %v, want %v", m.AsOf, tt.asOf)
			}
			churners, missingTV, missingMovies, noNet := 0, 0, 0, 0
			for _, c := range m.Customers {
				if c.Churn {
					churners++
				}
				if c.PlanStreamTV == snapshot.Missing {
					missingTV++
				}
				if c.PlanStreamMovies == snapshot.Missing {
					missingMovies++
				}
				if c.NetService == "No" {
					noNet++
				}
			}
			if churners != tt.churners {
				t.Errorf("churners = %d, want %d", churners, tt.churners)
			}
			if missingTV != tt.missingTV || missingMovies != tt.missingTV {
				t.Errorf("missing plan_stream_tv/movies = %d/%d, want %d", missingTV, missingMovies, tt.missingTV)
			}
			// Missing optional booleans mean "no internet service".
			if noNet != tt.missingTV {
				t.Errorf("net_service No = %d, want %d (= missing plan_stream_tv)", noNet, tt.missingTV)
			}

			first := m.Customers[0]
			if first.UserID != "7590-VHVEG" {
				t.Fatalf("first customer %q, want 7590-VHVEG (users.csv order)", first.UserID)
			}
			want := snapshot.Customer{
				UserID: "7590-VHVEG", SignupDate: time.Date(2022, 2, 5, 0, 0, 0, 0, time.UTC),
				Gender: "Female", HasFamily: true,
				MonthsActive: 1, PlanStreamTV: snapshot.False, PlanStreamMovies: snapshot.False,
				ContractType: "Month-to-month", PaperlessBilling: true,
				MonthlyFee: 29.85, TotalPaid: 29.85, NetService: "DSL",
				AvgSessionMins7d: 29.14104464084511, UniqueDevices30d: 3, Skips7d: 4,
				TicketAvgResolutionHrs90d: 16.0,
			}
			// Fields that differ between the two months come from the files.
			want.WatchHours30d = first.WatchHours30d
			want.RebufferEvents7d = first.RebufferEvents7d
			want.FailedPayments90d = first.FailedPayments90d
			want.SupportTickets90d = first.SupportTickets90d
			want.Churn = first.Churn
			if d := diffMonths(&snapshot.Month{AsOf: m.AsOf, Customers: []snapshot.Customer{want}},
				&snapshot.Month{AsOf: m.AsOf, Customers: []snapshot.Customer{first}}); d != "" {
				t.Error(d)
			}
		})
	}
	t.Run("month_000 first row usage", func(t *testing.T) {
		c := loadSample(t, "month_000", asOf0).Customers[0]
		if c.WatchHours30d != 24.483650766787413 || c.RebufferEvents7d != 1 || c.FailedPayments90d != 1 || c.Churn {
			t.Errorf("7590-VHVEG usage/payments/label = %v/%d/%d/%v", c.WatchHours30d, c.RebufferEvents7d, c.FailedPayments90d, c.Churn)
		}
	})
}

func TestLoadTiny(t *testing.T) {
	asOf := time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)
	base, err := snapshot.Load(writeFiles(t, tinyMonth()), asOf)
	if err != nil {
		t.Fatalf("Load tiny month: %v", err)
	}
	if got := base.Customers[1]; got.UserID != "0002-BBBBB" || got.PlanStreamTV != snapshot.Missing ||
		got.PlanStreamMovies != snapshot.Missing || got.NetService != "No" || got.MonthsActive != 34 {
		t.Errorf("customer 2 = %+v", got)
	}

	// Variants that must load to exactly the same month.
	variants := []struct {
		name   string
		mutate func(t *testing.T, files map[string]string)
		asOf   time.Time
	}{
		{"columns in another order", func(t *testing.T, files map[string]string) {
			mapColumns(files, "subscriptions.csv", func(f []string) []string {
				return []string{f[8], f[6], f[0], f[3], f[2], f[1], f[5], f[4], f[7]}
			})
			mapColumns(files, "labels.csv", func(f []string) []string { return []string{f[1], f[0]} })
		}, asOf},
		{"rows in another order in a joined file", func(t *testing.T, files map[string]string) {
			files["labels.csv"] = "user_id,churn_label\n0003-CCCCC,True\n0001-AAAAA,False\n0002-BBBBB,False\n"
		}, asOf},
		{"CRLF line endings", func(t *testing.T, files map[string]string) {
			for name, text := range files {
				files[name] = strings.ReplaceAll(text, "\n", "\r\n")
			}
		}, asOf},
		{"UTF-8 BOM", func(t *testing.T, files map[string]string) {
			files["users.csv"] = "\ufeff" + files["users.csv"]
		}, asOf},
		{"no final newline", func(t *testing.T, files map[string]string) {
			files["labels.csv"] = strings.TrimSuffix(files["labels.csv"], "\n")
		}, asOf},
		{"as_of with a clock time and zone", func(t *testing.T, files map[string]string) {},
			time.Date(2024, 1, 31, 23, 59, 0, 0, time.FixedZone("X", -5*3600))},
	}
	for _, v := range variants {
		t.Run(v.name, func(t *testing.T) {
			files := tinyMonth()
			v.mutate(t, files)
			m, err := snapshot.Load(writeFiles(t, files), v.asOf)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if d := diffMonths(base, m); d != "" {
				t.Error(d)
			}
		})
	}
}

func TestLoadValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(t *testing.T, files map[string]string)
		// the problem that must be reported
		file, column, value string
		line                int
		msg                 string // substring of Msg
		cause               error  // errors.Is target, if any
	}{
		{name: "missing file", mutate: func(t *testing.T, f map[string]string) { delete(f, "labels.csv") },
			file: "labels.csv", msg: "missing file", cause: fs.ErrNotExist},
		{name: "missing column", mutate: func(t *testing.T, f map[string]string) {
			mapColumns(f, "subscriptions.csv", func(r []string) []string { return append(r[:6:6], r[7:]...) })
		}, file: "subscriptions.csv", line: 1, column: "monthly_fee", msg: "missing column"},
		{name: "missing user_id column", mutate: func(t *testing.T, f map[string]string) {
			mapColumns(f, "labels.csv", func(r []string) []string { return r[1:] })
		}, file: "labels.csv", line: 1, column: "user_id", msg: "missing column"},
		{name: "unknown column", mutate: func(t *testing.T, f map[string]string) {
			mapColumns(f, "payments_agg_90d.csv", func(r []string) []string { return append(r, "x") })
			setField(t, f, "payments_agg_90d.csv", 1, "x", "failed_payments_30d")
		}, file: "payments_agg_90d.csv", line: 1, column: "failed_payments_30d", msg: "unknown column"},
		{name: "misspelt column", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "usage_agg_30d.csv", 1, "skips_7d", "skip_7d")
		}, file: "usage_agg_30d.csv", line: 1, column: "skips_7d", msg: "missing column"},
		{name: "duplicate column", mutate: func(t *testing.T, f map[string]string) {
			mapColumns(f, "labels.csv", func(r []string) []string { return append(r, r[1]) })
		}, file: "labels.csv", line: 1, column: "churn_label", msg: "duplicate column"},
		{name: "bad number", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 3, "monthly_fee", "20,25")
		}, file: "subscriptions.csv", line: 3, msg: "has 10 fields, header has 9"},
		{name: "bad float", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 3, "monthly_fee", "abc")
		}, file: "subscriptions.csv", line: 3, column: "monthly_fee", value: "abc", msg: "not a number", cause: strconv.ErrSyntax},
		{name: "empty float", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "support_agg_90d.csv", 4, "ticket_avg_resolution_hrs_90d", "")
		}, file: "support_agg_90d.csv", line: 4, column: "ticket_avg_resolution_hrs_90d", msg: "empty value"},
		{name: "NaN float", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "usage_agg_30d.csv", 2, "watch_hours_30d", "nan")
		}, file: "usage_agg_30d.csv", line: 2, column: "watch_hours_30d", value: "nan", msg: "not a finite number"},
		{name: "infinite float", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "usage_agg_30d.csv", 2, "avg_session_mins_7d", "inf")
		}, file: "usage_agg_30d.csv", line: 2, column: "avg_session_mins_7d", value: "inf", msg: "not a finite number"},
		{name: "float out of range", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 2, "total_paid", "1e999")
		}, file: "subscriptions.csv", line: 2, column: "total_paid", value: "1e999", msg: "not a number", cause: strconv.ErrRange},
		{name: "bad int", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 4, "months_active", "2.0")
		}, file: "subscriptions.csv", line: 4, column: "months_active", value: "2.0", msg: "not an integer"},
		{name: "empty int", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "payments_agg_90d.csv", 2, "failed_payments_90d", "")
		}, file: "payments_agg_90d.csv", line: 2, column: "failed_payments_90d", msg: "empty value"},
		{name: "negative months_active", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 2, "months_active", "-1")
		}, file: "subscriptions.csv", line: 2, column: "months_active", value: "-1", msg: "must not be negative"},
		{name: "negative fee", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 4, "monthly_fee", "-99.65")
		}, file: "subscriptions.csv", line: 4, column: "monthly_fee", value: "-99.65", msg: "must not be negative"},
		{name: "negative count", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "support_agg_90d.csv", 3, "support_tickets_90d", "-2")
		}, file: "support_agg_90d.csv", line: 3, column: "support_tickets_90d", value: "-2", msg: "must not be negative"},
		{name: "lowercase bool", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "users.csv", 3, "user_is_senior", "true")
		}, file: "users.csv", line: 3, column: "user_is_senior", value: "true", msg: "want True or False"},
		{name: "empty bool", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 2, "paperless_billing", "")
		}, file: "subscriptions.csv", line: 2, column: "paperless_billing", msg: "empty value"},
		{name: "empty label", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "labels.csv", 4, "churn_label", "")
		}, file: "labels.csv", line: 4, column: "churn_label", msg: "empty value"},
		{name: "bad optional bool", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 3, "plan_stream_movies", "No internet service")
		}, file: "subscriptions.csv", line: 3, column: "plan_stream_movies", value: "No internet service", msg: "want True, False or empty"},
		{name: "bad date", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "users.csv", 2, "signup_date", "2022-13-05")
		}, file: "users.csv", line: 2, column: "signup_date", value: "2022-13-05", msg: "not a date"},
		{name: "date in another format", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "users.csv", 4, "signup_date", "01/02/2022")
		}, file: "users.csv", line: 4, column: "signup_date", value: "01/02/2022", msg: "want YYYY-MM-DD"},
		{name: "signup after as_of", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "users.csv", 4, "signup_date", "2024-02-01")
		}, file: "users.csv", line: 4, column: "signup_date", value: "2024-02-01", msg: "after as_of 2024-01-31"},
		{name: "empty category", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "subscriptions.csv", 4, "net_service", "")
		}, file: "subscriptions.csv", line: 4, column: "net_service", msg: "empty value"},
		{name: "empty user_id", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "usage_agg_30d.csv", 3, "user_id", "")
		}, file: "usage_agg_30d.csv", line: 3, column: "user_id", msg: "empty user_id"},
		{name: "duplicate user in users.csv", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "users.csv", 4, "user_id", "0001-AAAAA")
		}, file: "users.csv", line: 4, column: "user_id", value: "0001-AAAAA", msg: "duplicate user_id, first on line 2"},
		{name: "duplicate user in a joined file", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "labels.csv", 4, "user_id", "0002-BBBBB")
		}, file: "labels.csv", line: 4, column: "user_id", value: "0002-BBBBB", msg: "duplicate user_id, first on line 3"},
		{name: "user missing from a file", mutate: func(t *testing.T, f map[string]string) {
			deleteLine(t, f, "usage_agg_30d.csv", 3)
		}, file: "users.csv", line: 3, column: "user_id", value: "0002-BBBBB", msg: "user missing from usage_agg_30d.csv"},
		{name: "user not in users.csv", mutate: func(t *testing.T, f map[string]string) {
			setField(t, f, "payments_agg_90d.csv", 3, "user_id", "9999-ZZZZZ")
		}, file: "payments_agg_90d.csv", line: 3, column: "user_id", value: "9999-ZZZZZ", msg: "user not in users.csv"},
		{name: "user only in users.csv is missing from the others", mutate: func(t *testing.T, f map[string]string) {
			f["users.csv"] += "0004-DDDDD,2022-01-07,Male,False,False,False\n"
		}, file: "users.csv", line: 5, column: "user_id", value: "0004-DDDDD", msg: "user missing from subscriptions.csv"},
		{name: "empty file", mutate: func(t *testing.T, f map[string]string) { f["labels.csv"] = "" },
			file: "labels.csv", line: 1, msg: "empty file"},
		{name: "header only", mutate: func(t *testing.T, f map[string]string) {
			f["support_agg_90d.csv"] = "user_id,support_tickets_90d,ticket_avg_resolution_hrs_90d\n"
		}, file: "support_agg_90d.csv", line: 1, msg: "no data rows"},
		{name: "too many fields", mutate: func(t *testing.T, f map[string]string) {
			setLine(t, f, "labels.csv", 3, "0002-BBBBB,False,True")
		}, file: "labels.csv", line: 3, msg: "has 3 fields, header has 2"},
		{name: "too few fields", mutate: func(t *testing.T, f map[string]string) {
			setLine(t, f, "usage_agg_30d.csv", 4, "0003-CCCCC,0.0,29.1,2,0")
		}, file: "usage_agg_30d.csv", line: 4, msg: "has 5 fields, header has 6"},
		{name: "malformed quoting", mutate: func(t *testing.T, f map[string]string) {
			setLine(t, f, "users.csv", 3, `0002-BBBBB,2022-01-10,"Ma"le,True,False,False`)
		}, file: "users.csv", line: 3, msg: "malformed CSV"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			files := tinyMonth()
			tt.mutate(t, files)
			m, err := snapshot.Load(writeFiles(t, files), asOf0)
			if err == nil {
				t.Fatalf("Load succeeded with %d customers, want a problem", len(m.Customers))
			}
			if m != nil {
				t.Error("Load returned a month along with an error")
			}
			verrs := problems(t, err)
			var found *snapshot.ValidationError
			for _, p := range verrs.Problems {
				if p.File == tt.file && p.Line == tt.line && p.Column == tt.column &&
					(tt.value == "" || p.Value == tt.value) && strings.Contains(p.Msg, tt.msg) {
					found = p
					break
				}
			}
			if found == nil {
				t.Fatalf("no problem %s:%d column %q value %q %q in:\n%v", tt.file, tt.line, tt.column, tt.value, tt.msg, err)
			}
			if tt.cause != nil && !errors.Is(found, tt.cause) {
				t.Errorf("problem %v does not wrap %v", found, tt.cause)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("errors.Is(Load error, %v) = false", tt.cause)
			}
			var one *snapshot.ValidationError
			if !errors.As(err, &one) {
				t.Error("errors.As(*ValidationError) = false")
			}
			// The message names file, line and column for a person to act on.
			text := err.Error()
			loc := tt.file
			if tt.line > 0 {
				loc += ":" + strconv.Itoa(tt.line)
			}
			if !strings.Contains(text, loc) || !strings.Contains(text, tt.column) {
				t.Errorf("error text lacks %q / column %q:\n%s", loc, tt.column, text)
			}
		})
	}
}

func TestLoadCollectsProblemsInOnePass(t *testing.T) {
	t.Run("several files", func(t *testing.T) {
		files := tinyMonth()
		setField(t, files, "users.csv", 2, "user_gender", "")
		setField(t, files, "subscriptions.csv", 3, "monthly_fee", "x")
		setField(t, files, "labels.csv", 4, "churn_label", "Yes")
		_, err := snapshot.Load(writeFiles(t, files), asOf0)
		verrs := problems(t, err)
		got := make([]string, len(verrs.Problems))
		for i, p := range verrs.Problems {
			got[i] = p.File + ":" + strconv.Itoa(p.Line) + ":" + p.Column
		}
		want := []string{"users.csv:2:user_gender", "subscriptions.csv:3:monthly_fee", "labels.csv:4:churn_label"}
		if strings.Join(got, " ") != strings.Join(want, " ") || verrs.Omitted != 0 {
			t.Errorf("problems = %v (omitted %d), want %v", got, verrs.Omitted, want)
		}
	})
	t.Run("capped", func(t *testing.T) {
		files := tinyMonth()
		for line := 2; line <= 4; line++ {
			for _, col := range []string{"watch_hours_30d", "avg_session_mins_7d", "unique_devices_30d", "skips_7d", "rebuffer_events_7d"} {
				setField(t, files, "usage_agg_30d.csv", line, col, "?")
			}
			for _, col := range []string{"months_active", "monthly_fee", "total_paid", "paperless_billing"} {
				setField(t, files, "subscriptions.csv", line, col, "?")
			}
		}
		_, err := snapshot.Load(writeFiles(t, files), asOf0)
		verrs := problems(t, err)
		if len(verrs.Problems) != snapshot.MaxProblems || verrs.Omitted != 27-snapshot.MaxProblems {
			t.Errorf("kept %d, omitted %d; want %d and %d", len(verrs.Problems), verrs.Omitted, snapshot.MaxProblems, 27-snapshot.MaxProblems)
		}
		if !strings.Contains(err.Error(), "27 problems") || !strings.Contains(err.Error(), "and 7 more") {
			t.Errorf("error text does not count the omitted problems:\n%v", err)
		}
	})
}

func TestLoadDirectory(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		_, err := snapshot.Load(filepath.Join(t.TempDir(), "nope"), asOf0)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("source named in error", func(t *testing.T) {
		files := tinyMonth()
		delete(files, "users.csv")
		dir := writeFiles(t, files)
		_, err := snapshot.Load(dir, asOf0)
		if verrs := problems(t, err); verrs.Source != dir || !strings.Contains(err.Error(), dir) {
			t.Errorf("Source = %q, error %q; want %q", verrs.Source, err, dir)
		}
	})
	t.Run("zero as_of", func(t *testing.T) {
		_, err := snapshot.Load(writeFiles(t, tinyMonth()), time.Time{})
		if !errors.Is(err, snapshot.ErrInvalidAsOf) {
			t.Errorf("err = %v, want ErrInvalidAsOf", err)
		}
	})
}

func TestParseAsOf(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"2024-01-31", asOf0, false},
		{"2024-02-29", asOf1, false},
		{" 2024-01-31\n", asOf0, false},
		{"2023-02-29", time.Time{}, true}, // not a leap year
		{"2024-1-31", time.Time{}, true},
		{"31/01/2024", time.Time{}, true},
		{"2024-01-31T00:00:00Z", time.Time{}, true},
		{"", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := snapshot.ParseAsOf(tt.in)
			if tt.wantErr {
				if !errors.Is(err, snapshot.ErrInvalidAsOf) {
					t.Fatalf("err = %v, want ErrInvalidAsOf", err)
				}
				if !strings.Contains(err.Error(), "YYYY-MM-DD") || !strings.Contains(err.Error(), strconv.Quote(tt.in)) {
					t.Errorf("error %q should quote the input and the expected format", err)
				}
				return
			}
			if err != nil || !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseAsOf(%q) = %v, %v; want %v UTC", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestValidationErrorText(t *testing.T) {
	tests := []struct {
		err  snapshot.ValidationError
		want string
	}{
		{snapshot.ValidationError{File: "users.csv", Line: 12, Column: "signup_date", Value: "x", Msg: "not a date"},
			`users.csv:12: column signup_date: value "x": not a date`},
		{snapshot.ValidationError{File: "labels.csv", Msg: "missing file"}, "labels.csv: missing file"},
		{snapshot.ValidationError{Row: 3, Column: "monthly_fee", Value: "-1", Msg: "must not be negative"},
			`row 3: column monthly_fee: value "-1": must not be negative`},
		{snapshot.ValidationError{File: "parquet", Row: 3, Msg: "m"}, "parquet row 3: m"},
		{snapshot.ValidationError{Msg: "no customers"}, "no customers"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
		})
	}
}
