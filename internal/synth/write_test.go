package synth_test

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// generateToDir writes cfg under a new temporary directory and returns it.
func generateToDir(tb testing.TB, cfg synth.Config) (string, *synth.Run) {
	tb.Helper()
	dir := tb.TempDir()
	run, err := synth.GenerateToDir(dir, cfg, synth.WriteOptions{})
	if err != nil {
		tb.Fatalf("GenerateToDir: %v", err)
	}
	return dir, run
}

// readTree returns every file under dir by slash path.
func readTree(tb testing.TB, dir string) map[string][]byte {
	tb.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = b
		return nil
	})
	if err != nil {
		tb.Fatalf("read %s: %v", dir, err)
	}
	return files
}

func TestFilesAreByteIdentical(t *testing.T) {
	cfg := synth.Config{Users: 1500, Months: 3, Seed: 99, Drift: map[int]synth.Drift{1: synth.LabelShift, 2: synth.FeatureShift}}
	a, _ := generateToDir(t, cfg)
	b, _ := generateToDir(t, cfg)
	fa, fb := readTree(t, a), readTree(t, b)
	if len(fa) != 3*6 {
		t.Fatalf("wrote %d files, want 18: %v", len(fa), slices.Sorted(maps.Keys(fa)))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two runs of the same config", name)
		}
	}
	cfg.Seed++
	c, _ := generateToDir(t, cfg)
	if bytes.Equal(fa["month_000/labels.csv"], readTree(t, c)["month_000/labels.csv"]) {
		t.Error("a different seed wrote the same labels")
	}
}

// cellPattern is the lab's spelling of each non-key column.
var cellPattern = map[string]*regexp.Regexp{
	"signup_date":                   regexp.MustCompile(`^20[0-9]{2}-[01][0-9]-[0-3][0-9]$`),
	"user_gender":                   regexp.MustCompile(`^(Male|Female)$`),
	"user_is_senior":                regexp.MustCompile(`^(True|False)$`),
	"has_family":                    regexp.MustCompile(`^(True|False)$`),
	"has_dependents":                regexp.MustCompile(`^(True|False)$`),
	"months_active":                 regexp.MustCompile(`^(0|[1-9][0-9]?)$`),
	"plan_stream_tv":                regexp.MustCompile(`^(True|False|)$`),
	"plan_stream_movies":            regexp.MustCompile(`^(True|False|)$`),
	"contract_type":                 regexp.MustCompile(`^(Month-to-month|One year|Two year)$`),
	"paperless_billing":             regexp.MustCompile(`^(True|False)$`),
	"monthly_fee":                   regexp.MustCompile(`^[0-9]+\.[0-9]{1,2}$`),
	"total_paid":                    regexp.MustCompile(`^[0-9]+\.[0-9]{1,2}$`),
	"net_service":                   regexp.MustCompile(`^(DSL|Fiber optic|No)$`),
	"watch_hours_30d":               regexp.MustCompile(`^[0-9]+\.[0-9]+$`),
	"avg_session_mins_7d":           regexp.MustCompile(`^[0-9]+\.[0-9]+$`),
	"unique_devices_30d":            regexp.MustCompile(`^[123]$`),
	"skips_7d":                      regexp.MustCompile(`^[0-9]+$`),
	"rebuffer_events_7d":            regexp.MustCompile(`^[0-9]+$`),
	"failed_payments_90d":           regexp.MustCompile(`^[0-3]$`),
	"support_tickets_90d":           regexp.MustCompile(`^[0-4]$`),
	"ticket_avg_resolution_hrs_90d": regexp.MustCompile(`^[0-9]+\.[0-9]$`),
	"churn_label":                   regexp.MustCompile(`^(True|False)$`),
}

// TestLayout checks the written files cell by cell: the lab's file names,
// headers and column order, one row per user in the same order in every
// file, the lab's value spellings, and empty streaming plans exactly for
// customers without internet service.
func TestLayout(t *testing.T) {
	const users = 800
	dir, run := generateToDir(t, synth.Config{Users: users, Months: 2, Seed: 7})
	for i, m := range run.Months {
		ids := make([]string, len(m.Customers))
		for k, c := range m.Customers {
			ids[k] = c.UserID
		}
		entries, err := os.ReadDir(filepath.Join(dir, synth.MonthDir(i)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := slices.Sorted(slices.Values(snapshot.Files())); !slices.Equal(names, want) {
			t.Fatalf("%s holds %v, want exactly %v", synth.MonthDir(i), names, want)
		}
		for _, file := range snapshot.Files() {
			t.Run(synth.MonthDir(i)+"/"+file, func(t *testing.T) {
				header, _ := snapshot.Columns(file)
				data, err := os.ReadFile(filepath.Join(dir, synth.MonthDir(i), file))
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(data, []byte("\r")) || !bytes.HasSuffix(data, []byte("\n")) {
					t.Error("want LF line endings and a final newline")
				}
				lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
				if lines[0] != strings.Join(header, ",") {
					t.Fatalf("header %q, want %q", lines[0], strings.Join(header, ","))
				}
				if len(lines) != users+1 {
					t.Fatalf("%d data lines, want %d", len(lines)-1, users)
				}
				netCol := slices.Index(header, "net_service")
				for k, line := range lines[1:] {
					cells := strings.Split(line, ",")
					if len(cells) != len(header) {
						t.Fatalf("line %d: %d cells, want %d", k+2, len(cells), len(header))
					}
					if cells[0] != ids[k] {
						t.Fatalf("line %d: user_id %s, want %s (users.csv order)", k+2, cells[0], ids[k])
					}
					for c, name := range header[1:] {
						v := cells[c+1]
						if !cellPattern[name].MatchString(v) {
							t.Errorf("line %d: %s = %q does not match %v", k+2, name, v, cellPattern[name])
						}
						if strings.HasPrefix(name, "plan_stream_") && (v == "") != (cells[netCol] == "No") {
							t.Errorf("line %d: %s = %q with net_service %s", k+2, name, v, cells[netCol])
						}
						if f, err := strconv.ParseFloat(v, 64); err == nil && strings.Contains(v, ".") {
							if back := string(snapshot.AppendFloat(nil, f)); back != v {
								t.Errorf("line %d: %s = %q does not round-trip (%q)", k+2, name, v, back)
							}
						}
					}
				}
			})
		}
	}
}

// TestHeadersMatchLab compares the first line of every written file with
// the lab's own file, byte for byte.
func TestHeadersMatchLab(t *testing.T) {
	lab := labDir(t)
	dir, _ := generateToDir(t, synth.Config{Users: 50, Months: 1, Seed: 1})
	firstLine := func(path string) string {
		t.Helper()
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		line, err := bufio.NewReader(f).ReadString('\n')
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		return line
	}
	for _, file := range snapshot.Files() {
		t.Run(file, func(t *testing.T) {
			want := firstLine(filepath.Join(lab, "month_000", file))
			if got := firstLine(filepath.Join(dir, "month_000", file)); got != want {
				t.Errorf("header %q, lab's %q", got, want)
			}
		})
	}
}

// TestLoadRoundTrip reads the written months back with the pipeline's own
// loader: they validate and equal what was generated.
func TestLoadRoundTrip(t *testing.T) {
	dir, run := generateToDir(t, synth.Config{Users: 1000, Months: 2, Seed: 3, Drift: map[int]synth.Drift{1: synth.FeatureShift}})
	for i, want := range run.Months {
		t.Run(synth.MonthDir(i), func(t *testing.T) {
			got, err := snapshot.Load(filepath.Join(dir, synth.MonthDir(i)), synth.AsOf(i))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(got.Customers) != len(want.Customers) {
				t.Fatalf("%d customers, want %d", len(got.Customers), len(want.Customers))
			}
			for k := range want.Customers {
				g, w := got.Customers[k], want.Customers[k]
				if !g.SignupDate.Equal(w.SignupDate) {
					t.Errorf("%s: signup %v, want %v", w.UserID, g.SignupDate, w.SignupDate)
				}
				g.SignupDate = w.SignupDate // compared with Equal above
				if g != w {
					t.Errorf("row %d: loaded %+v, want %+v", k+1, g, w)
				}
			}
		})
	}
}

func TestWriteRefusesToOverwrite(t *testing.T) {
	small := func(seed int64) []*snapshot.Month {
		t.Helper()
		months, err := synth.Generate(synth.Config{Users: 30, Months: 2, Seed: seed})
		if err != nil {
			t.Fatal(err)
		}
		return months
	}
	tests := []struct {
		name    string
		prepare func(t *testing.T, dir string) // what is in dir before writing seed 2
		opt     synth.WriteOptions
		wantErr bool
	}{
		{"empty dir", func(*testing.T, string) {}, synth.WriteOptions{}, false},
		{"empty month dir", func(t *testing.T, dir string) {
			if err := os.Mkdir(filepath.Join(dir, "month_001"), 0o755); err != nil {
				t.Fatal(err)
			}
		}, synth.WriteOptions{}, false},
		{"existing months", func(t *testing.T, dir string) {
			if err := synth.WriteMonths(dir, small(1), synth.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, synth.WriteOptions{}, true},
		{"one stray file in the last month", func(t *testing.T, dir string) {
			if err := os.MkdirAll(filepath.Join(dir, "month_001"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "month_001", "notes.txt"), []byte("mine"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, synth.WriteOptions{}, true},
		{"existing months, overwrite", func(t *testing.T, dir string) {
			if err := synth.WriteMonths(dir, small(1), synth.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
		}, synth.WriteOptions{Overwrite: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			tt.prepare(t, dir)
			before := readTree(t, dir)
			err := synth.WriteMonths(dir, small(2), tt.opt)
			if tt.wantErr {
				if !errors.Is(err, synth.ErrMonthExists) || !errors.Is(err, fs.ErrExist) {
					t.Fatalf("WriteMonths error = %v, want ErrMonthExists and fs.ErrExist", err)
				}
				after := readTree(t, dir)
				if len(after) != len(before) {
					t.Errorf("refused write changed the directory: %d files before, %d after", len(before), len(after))
				}
				for name, data := range before {
					if !bytes.Equal(after[name], data) {
						t.Errorf("refused write changed %s", name)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("WriteMonths: %v", err)
			}
			// The directory holds exactly seed 2's months: no leftovers,
			// no temporary directories.
			want := t.TempDir()
			if err := synth.WriteMonths(want, small(2), synth.WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			got, exp := readTree(t, dir), readTree(t, want)
			if len(got) != len(exp) {
				t.Errorf("%d files, want %d", len(got), len(exp))
			}
			for name, data := range exp {
				if !bytes.Equal(got[name], data) {
					t.Errorf("%s is not seed 2's", name)
				}
			}
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != "month_000" && e.Name() != "month_001" {
					t.Errorf("leftover %s in the output directory", e.Name())
				}
			}
		})
	}
}

func BenchmarkGenerateToDir(b *testing.B) {
	cfg := synth.Config{Months: 3, Seed: 1}
	for b.Loop() {
		if _, err := synth.GenerateToDir(b.TempDir(), cfg, synth.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
