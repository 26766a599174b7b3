package snapshot_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
	"github.com/parquet-go/parquet-go"
)

// tinyLoaded is the tiny fixture month, loaded.
func tinyLoaded(t *testing.T) *snapshot.Month {
	t.Helper()
	m, err := snapshot.Load(writeFiles(t, tinyMonth()), asOf0)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestParquetRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		month func(t *testing.T) *snapshot.Month
	}{
		{"tiny with missing bools", tinyLoaded},
		{"month_000", func(t *testing.T) *snapshot.Month { return loadSample(t, "month_000", asOf0) }},
		{"month_001", func(t *testing.T) *snapshot.Month { return loadSample(t, "month_001", asOf1) }},
		{"edge values", func(t *testing.T) *snapshot.Month {
			m := tinyLoaded(t)
			c := &m.Customers[0]
			c.UserID = "ünïcode, \"quoted\"\nid"
			c.SignupDate = time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC) // before the epoch
			c.MonthlyFee = 5e-324                                        // smallest subnormal
			c.TotalPaid = 1.7976931348623157e308
			c.PlanStreamTV, c.PlanStreamMovies = snapshot.True, snapshot.Missing
			c.MonthsActive = 1 << 40
			return m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := tt.month(t)
			data, err := snapshot.MarshalParquet(m)
			if err != nil {
				t.Fatalf("MarshalParquet: %v", err)
			}
			got, err := snapshot.UnmarshalParquet(data)
			if err != nil {
				t.Fatalf("UnmarshalParquet: %v", err)
			}
			if d := diffMonths(m, got); d != "" {
				t.Fatal(d)
			}
			if got.Fingerprint() != m.Fingerprint() {
				t.Error("fingerprint changed across the Parquet round trip")
			}
		})
	}
}

// TestParquetFileLayout reads the written file with parquet-go's generic
// row API, as another tool would, and checks names, types and metadata.
func TestParquetFileLayout(t *testing.T) {
	m := tinyLoaded(t)
	data, err := snapshot.MarshalParquet(m)
	if err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := f.Lookup("as_of"); !ok || v != "2024-01-31" {
		t.Errorf("as_of metadata = %q, %v", v, ok)
	}
	if f.NumRows() != 3 {
		t.Errorf("rows = %d, want 3", f.NumRows())
	}
	var columns []string
	for _, name := range snapshot.Files() {
		cols, _ := snapshot.Columns(name)
		if name != snapshot.UsersFile {
			cols = cols[1:] // user_id once
		}
		columns = append(columns, cols...)
	}
	fields := map[string]parquet.Field{}
	for _, fl := range f.Schema().Fields() {
		fields[fl.Name()] = fl
	}
	if len(fields) != len(columns) {
		t.Errorf("%d columns, want %d", len(fields), len(columns))
	}
	for _, c := range columns {
		if _, ok := fields[c]; !ok {
			t.Errorf("no column %s", c)
		}
	}
	for name, want := range map[string]struct {
		optional bool
		kind     parquet.Kind
		logical  string
	}{
		"plan_stream_tv":     {true, parquet.Boolean, ""},
		"plan_stream_movies": {true, parquet.Boolean, ""},
		"signup_date":        {false, parquet.Int32, "DATE"},
		"monthly_fee":        {false, parquet.Double, ""},
		"months_active":      {false, parquet.Int64, "INT(64,true)"},
		"net_service":        {false, parquet.ByteArray, "STRING"},
		"churn_label":        {false, parquet.Boolean, ""},
	} {
		fl := fields[name]
		if fl == nil {
			continue
		}
		logical := ""
		if lt := fl.Type().LogicalType(); lt != nil {
			logical = lt.String()
		}
		if fl.Optional() != want.optional || fl.Type().Kind() != want.kind || logical != want.logical {
			t.Errorf("%s: optional=%v kind=%v logical=%q, want %+v", name, fl.Optional(), fl.Type().Kind(), logical, want)
		}
	}
	// Row 2 (0002-BBBBB) has NULL plan_stream_tv; row 1 has false.
	rows := make([]parquet.Row, 3)
	r := parquet.NewReader(f)
	if n, err := r.ReadRows(rows); n != 3 {
		t.Fatalf("ReadRows = %d, %v", n, err)
	}
	leaf, ok := f.Schema().Lookup("plan_stream_tv")
	if !ok {
		t.Fatal("no plan_stream_tv leaf")
	}
	for i, wantNull := range []bool{false, true, false} {
		var v parquet.Value
		rows[i].Range(func(col int, vals []parquet.Value) bool {
			if col == leaf.ColumnIndex {
				v = vals[0]
			}
			return true
		})
		if v.IsNull() != wantNull {
			t.Errorf("row %d plan_stream_tv null = %v, want %v", i, v.IsNull(), wantNull)
		}
	}
}

func TestReadParquetRejects(t *testing.T) {
	good, err := snapshot.MarshalParquet(tinyLoaded(t))
	if err != nil {
		t.Fatal(err)
	}
	// A file written by another tool with a column missing or retyped.
	type missingLabel struct {
		UserID string `parquet:"user_id"`
	}
	type wrongType struct {
		UserID       string `parquet:"user_id"`
		MonthsActive string `parquet:"months_active"`
	}
	write := func(t *testing.T, rows any, opts ...parquet.WriterOption) []byte {
		t.Helper()
		var buf bytes.Buffer
		var err error
		switch r := rows.(type) {
		case []missingLabel:
			err = parquet.Write(&buf, r, opts...)
		case []wrongType:
			err = parquet.Write(&buf, r, opts...)
		}
		if err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	meta := []parquet.WriterOption{
		parquet.KeyValueMetadata(snapshot.ParquetAsOfKey, "2024-01-31"),
		parquet.KeyValueMetadata(snapshot.ParquetSchemaKey, snapshot.ParquetSchemaVersion),
	}
	tests := []struct {
		name string
		data func(t *testing.T) []byte
		want string
	}{
		{"truncated", func(t *testing.T) []byte { return good[:len(good)/2] }, "read parquet"},
		{"not parquet", func(t *testing.T) []byte { return []byte("user_id,churn_label\n") }, "read parquet"},
		{"no version", func(t *testing.T) []byte {
			return write(t, []missingLabel{{"a"}}, meta[0])
		}, "layout version"},
		{"no as_of", func(t *testing.T) []byte {
			return write(t, []missingLabel{{"a"}}, meta[1])
		}, "as_of"},
		{"missing columns", func(t *testing.T) []byte {
			return write(t, []missingLabel{{"a"}}, meta...)
		}, "missing column signup_date"},
		{"wrong column type", func(t *testing.T) []byte {
			return write(t, []wrongType{{"a", "1"}}, meta...)
		}, "column months_active has type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := snapshot.UnmarshalParquet(tt.data(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("UnmarshalParquet = %v, %v; want error containing %q", m, err, tt.want)
			}
		})
	}
}

func TestWriteParquetRefusesInvalidMonth(t *testing.T) {
	m := tinyLoaded(t)
	m.Customers[2].MonthlyFee = -1
	var buf bytes.Buffer
	err := snapshot.WriteParquet(&buf, m)
	var verr *snapshot.ValidationError
	if !errors.As(err, &verr) || verr.Row != 3 || verr.Column != "monthly_fee" {
		t.Fatalf("WriteParquet = %v, want a problem at row 3 column monthly_fee", err)
	}
	if buf.Len() != 0 {
		t.Errorf("%d bytes written for an invalid month", buf.Len())
	}
}

// otherToolRow is a stored month as another tool may write it: the same
// columns in another order, one more column, and (see below) many row
// groups and pages.
type otherToolRow struct {
	Note                      string  `parquet:"note"`
	ChurnLabel                bool    `parquet:"churn_label"`
	TicketAvgResolutionHrs90d float64 `parquet:"ticket_avg_resolution_hrs_90d"`
	SupportTickets90d         int64   `parquet:"support_tickets_90d"`
	FailedPayments90d         int64   `parquet:"failed_payments_90d"`
	RebufferEvents7d          int64   `parquet:"rebuffer_events_7d"`
	Skips7d                   int64   `parquet:"skips_7d"`
	UniqueDevices30d          int64   `parquet:"unique_devices_30d"`
	AvgSessionMins7d          float64 `parquet:"avg_session_mins_7d"`
	WatchHours30d             float64 `parquet:"watch_hours_30d"`
	NetService                string  `parquet:"net_service"`
	TotalPaid                 float64 `parquet:"total_paid"`
	MonthlyFee                float64 `parquet:"monthly_fee"`
	PaperlessBilling          bool    `parquet:"paperless_billing"`
	ContractType              string  `parquet:"contract_type,dict"`
	PlanStreamMovies          *bool   `parquet:"plan_stream_movies,optional"`
	PlanStreamTV              *bool   `parquet:"plan_stream_tv,optional"`
	MonthsActive              int64   `parquet:"months_active"`
	HasDependents             bool    `parquet:"has_dependents"`
	HasFamily                 bool    `parquet:"has_family"`
	UserIsSenior              bool    `parquet:"user_is_senior"`
	UserGender                string  `parquet:"user_gender"`
	SignupDate                int32   `parquet:"signup_date,date"`
	UserID                    string  `parquet:"user_id"`
}

// TestReadParquetOtherLayouts reads a month written by another writer
// (columns reordered, an extra column, rows over many row groups and
// pages): the same customers.
func TestReadParquetOtherLayouts(t *testing.T) {
	m := loadSample(t, "month_000", asOf0)
	opt := func(o snapshot.OptBool) *bool {
		if o == snapshot.Missing {
			return nil
		}
		b := o == snapshot.True
		return &b
	}
	rows := make([]otherToolRow, len(m.Customers))
	for i, c := range m.Customers {
		rows[i] = otherToolRow{
			Note: "x", ChurnLabel: c.Churn, TicketAvgResolutionHrs90d: c.TicketAvgResolutionHrs90d,
			SupportTickets90d: int64(c.SupportTickets90d), FailedPayments90d: int64(c.FailedPayments90d),
			RebufferEvents7d: int64(c.RebufferEvents7d), Skips7d: int64(c.Skips7d), UniqueDevices30d: int64(c.UniqueDevices30d),
			AvgSessionMins7d: c.AvgSessionMins7d, WatchHours30d: c.WatchHours30d, NetService: c.NetService,
			TotalPaid: c.TotalPaid, MonthlyFee: c.MonthlyFee, PaperlessBilling: c.PaperlessBilling, ContractType: c.ContractType,
			PlanStreamMovies: opt(c.PlanStreamMovies), PlanStreamTV: opt(c.PlanStreamTV), MonthsActive: int64(c.MonthsActive),
			HasDependents: c.HasDependents, HasFamily: c.HasFamily, UserIsSenior: c.IsSenior, UserGender: c.Gender,
			SignupDate: int32(c.SignupDate.Unix() / 86400), UserID: c.UserID,
		}
	}
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[otherToolRow](&buf,
		parquet.MaxRowsPerRowGroup(1000), parquet.PageBufferSize(4096),
		parquet.KeyValueMetadata(snapshot.ParquetAsOfKey, "2024-01-31"),
		parquet.KeyValueMetadata(snapshot.ParquetSchemaKey, snapshot.ParquetSchemaVersion))
	if _, err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil || len(f.RowGroups()) < 7 {
		t.Fatalf("the test file should have many row groups: %v", err)
	}
	got, err := snapshot.UnmarshalParquet(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d := diffMonths(m, got); d != "" {
		t.Fatal(d)
	}
}
