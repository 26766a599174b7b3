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
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
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
	for _, tt := range snapshottest.InvalidCases {
		t.Run(tt.Name, func(t *testing.T) {
			files := tinyMonth()
			tt.Mutate(t, files)
			m, err := snapshot.Load(writeFiles(t, files), asOf0)
			if err == nil {
				t.Fatalf("Load succeeded with %d customers, want a problem", len(m.Customers))
			}
			if m != nil {
				t.Error("Load returned a month along with an error")
			}
			snapshottest.CheckInvalid(t, tt, err, snapshottest.Translate{})
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
