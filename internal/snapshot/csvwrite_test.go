package snapshot_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// TestWriteCSVDirReproducesLabFiles writes the real months back out and
// requires the very bytes the lab's pandas pipeline produced.
func TestWriteCSVDirReproducesLabFiles(t *testing.T) {
	for _, tt := range []struct {
		month string
	}{{"month_000"}, {"month_001"}} {
		t.Run(tt.month, func(t *testing.T) {
			src := filepath.Join(sampleDir(t), tt.month)
			m := loadSample(t, tt.month, asOf0)
			out := filepath.Join(t.TempDir(), tt.month)
			if err := snapshot.WriteCSVDir(out, m); err != nil {
				t.Fatalf("WriteCSVDir: %v", err)
			}
			for _, name := range snapshot.Files() {
				want, err := os.ReadFile(filepath.Join(src, name))
				if err != nil {
					t.Fatal(err)
				}
				got, err := os.ReadFile(filepath.Join(out, name))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("%s differs from the lab's file (%d vs %d bytes); first difference at byte %d",
						name, len(got), len(want), firstDiff(got, want))
				}
			}
			back, err := snapshot.Load(out, asOf0)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffMonths(m, back); d != "" {
				t.Error(d)
			}
		})
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestWriteCSVDirRoundTrip(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(m *snapshot.Month)
	}{
		{"tiny", func(m *snapshot.Month) {}},
		{"values needing care", func(m *snapshot.Month) {
			c := &m.Customers[0]
			c.UserID = `id, with "quotes"`
			c.ContractType = "Month,to,month"
			c.MonthlyFee = 0.30000000000000004
			c.TotalPaid = 1e22
			c.WatchHours30d = 1.5e-05
			c.AvgSessionMins7d = math.Copysign(0, -1)
			c.TicketAvgResolutionHrs90d = 5e-324
			m.Customers[2].PlanStreamMovies = snapshot.Missing
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tinyLoaded(t)
			tt.mutate(m)
			dir := filepath.Join(t.TempDir(), "m")
			if err := snapshot.WriteCSVDir(dir, m); err != nil {
				t.Fatalf("WriteCSVDir: %v", err)
			}
			back, err := snapshot.Load(dir, m.AsOf)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if d := diffMonths(m, back); d != "" {
				t.Error(d)
			}
			if back.Fingerprint() != m.Fingerprint() {
				t.Error("fingerprint changed across the CSV round trip")
			}
			if neg := back.Customers[0].AvgSessionMins7d; tt.name != "tiny" && !math.Signbit(neg) {
				t.Error("-0 lost its sign")
			}
		})
	}
}

func TestWriteCSVDirAtomic(t *testing.T) {
	m := tinyLoaded(t)
	t.Run("refuses a non-empty directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "keep"), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		err := snapshot.WriteCSVDir(dir, m)
		if !errors.Is(err, fs.ErrExist) {
			t.Fatalf("err = %v, want fs.ErrExist", err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("directory now has %d entries, want it untouched", len(entries))
		}
		assertNoTemp(t, filepath.Dir(dir))
	})
	t.Run("replaces an empty directory", func(t *testing.T) {
		dir := t.TempDir()
		if err := snapshot.WriteCSVDir(dir, m); err != nil {
			t.Fatal(err)
		}
		entries, _ := os.ReadDir(dir)
		if len(entries) != 6 {
			t.Errorf("%d files, want 6", len(entries))
		}
	})
	t.Run("invalid month leaves nothing", func(t *testing.T) {
		bad := tinyLoaded(t)
		bad.Customers[1].Skips7d = -3
		parent := t.TempDir()
		dir := filepath.Join(parent, "m")
		err := snapshot.WriteCSVDir(dir, bad)
		var verr *snapshot.ValidationError
		if !errors.As(err, &verr) || verr.Row != 2 || verr.Column != "skips_7d" || verr.Value != "-3" {
			t.Fatalf("err = %v, want a problem at row 2 column skips_7d", err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("target exists after a failed write: %v", err)
		}
		assertNoTemp(t, parent)
	})
	t.Run("creates parents", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "a", "b", "month_007")
		if err := snapshot.WriteCSVDir(dir, m); err != nil {
			t.Fatal(err)
		}
		assertNoTemp(t, filepath.Dir(dir))
	})
}

// assertNoTemp fails if WriteCSVDir left a temporary directory in parent.
func assertNoTemp(t *testing.T, parent string) {
	t.Helper()
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if len(e.Name()) > 0 && e.Name()[0] == '.' {
			t.Errorf("temporary %s left in %s", e.Name(), parent)
		}
	}
}

func TestAppendFloatMatchesPythonRepr(t *testing.T) {
	// Expected strings printed by Python 3's repr().
	tests := []struct {
		f    float64
		want string
	}{
		{16, "16.0"}, {0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {29.85, "29.85"},
		{1889.5, "1889.5"}, {24.483650766787413, "24.483650766787413"}, {1e16, "1e+16"},
		{9999999999999998, "9999999999999998.0"}, {123456789012345.6, "123456789012345.6"},
		{0.0001, "0.0001"}, {0.00001, "1e-05"}, {1.5e-05, "1.5e-05"}, {5e-324, "5e-324"},
		{math.MaxFloat64, "1.7976931348623157e+308"}, {1e22, "1e+22"}, {100, "100.0"},
		{0.30000000000000004, "0.30000000000000004"}, {2.5e-4, "0.00025"}, {1234567, "1234567.0"},
		{-29.85, "-29.85"}, {math.NaN(), "nan"}, {math.Inf(1), "inf"}, {math.Inf(-1), "-inf"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			got := string(snapshot.AppendFloat([]byte("x="), tt.f))
			if got != "x="+tt.want {
				t.Errorf("AppendFloat(%v) = %q, want %q", tt.f, got, "x="+tt.want)
			}
			if back, err := strconv.ParseFloat(tt.want, 64); err == nil && !math.IsNaN(tt.f) &&
				math.Float64bits(back) != math.Float64bits(tt.f) {
				t.Errorf("%q does not round-trip to %v", tt.want, tt.f)
			}
		})
	}
}

// TestAppendCSVRowMatchesEncodingCSV checks the hand-written row writer
// against encoding/csv's Writer on values that need quoting or nearly do.
func TestAppendCSVRowMatchesEncodingCSV(t *testing.T) {
	odd := []string{"", "Male", "a,b", `a"b`, `"`, " lead", "\tx", "trail ", `\.`, `\.x`, "x\ny", "x\r\ny", "\r", "é", "\u00a0x", "\u2028", "x\u00a0"}
	for _, id := range odd {
		for _, gender := range odd {
			c := snapshot.Customer{UserID: id, Gender: gender, SignupDate: time.Date(2022, 1, 5, 0, 0, 0, 0, time.UTC), HasFamily: true}
			var want bytes.Buffer
			w := csv.NewWriter(&want)
			if err := w.Write([]string{id, "2022-01-05", gender, "False", "True", "False"}); err != nil {
				t.Fatal(err)
			}
			w.Flush()
			if got := snapshot.AppendCSVRow(nil, 0, &c); !bytes.Equal(got, want.Bytes()) {
				t.Errorf("id %q gender %q: %q, encoding/csv writes %q", id, gender, got, want.Bytes())
			}
		}
	}
	if got := string(snapshot.AppendCSVHeader(nil, 5)); got != "user_id,churn_label\n" {
		t.Errorf("labels header %q", got)
	}
}
