package snapshot

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet key/value metadata keys written by WriteParquet.
const (
	// ParquetAsOfKey holds the month's as_of (YYYY-MM-DD). as_of is not a
	// column: stored snapshots live under datasets/as_of=YYYY-MM-DD/, and
	// Athena/Glue reject a data column named like a partition key.
	ParquetAsOfKey = "as_of"
	// ParquetSchemaKey holds the layout version of the file (ParquetSchemaVersion).
	ParquetSchemaKey = "churnops.snapshot.schema"
)

// ParquetSchemaVersion is the version of the row layout below. ReadParquet
// refuses other versions rather than misreading them.
const ParquetSchemaVersion = "1"

// parquetRow is one customer in a stored snapshot: every column of the six
// CSV files, snake_case as in the CSVs. Optional booleans are nullable
// (NULL = missing), signup_date is a DATE, counts are INT64; the
// categorical strings are dictionary-encoded.
type parquetRow struct {
	UserID                    string  `parquet:"user_id"`
	SignupDate                int32   `parquet:"signup_date,date"`
	UserGender                string  `parquet:"user_gender,dict"`
	UserIsSenior              bool    `parquet:"user_is_senior"`
	HasFamily                 bool    `parquet:"has_family"`
	HasDependents             bool    `parquet:"has_dependents"`
	MonthsActive              int64   `parquet:"months_active"`
	PlanStreamTV              *bool   `parquet:"plan_stream_tv,optional"`
	PlanStreamMovies          *bool   `parquet:"plan_stream_movies,optional"`
	ContractType              string  `parquet:"contract_type,dict"`
	PaperlessBilling          bool    `parquet:"paperless_billing"`
	MonthlyFee                float64 `parquet:"monthly_fee"`
	TotalPaid                 float64 `parquet:"total_paid"`
	NetService                string  `parquet:"net_service,dict"`
	WatchHours30d             float64 `parquet:"watch_hours_30d"`
	AvgSessionMins7d          float64 `parquet:"avg_session_mins_7d"`
	UniqueDevices30d          int64   `parquet:"unique_devices_30d"`
	Skips7d                   int64   `parquet:"skips_7d"`
	RebufferEvents7d          int64   `parquet:"rebuffer_events_7d"`
	FailedPayments90d         int64   `parquet:"failed_payments_90d"`
	SupportTickets90d         int64   `parquet:"support_tickets_90d"`
	TicketAvgResolutionHrs90d float64 `parquet:"ticket_avg_resolution_hrs_90d"`
	ChurnLabel                bool    `parquet:"churn_label"`
}

var parquetSchema = parquet.SchemaOf(parquetRow{})

const secondsPerDay = 24 * 60 * 60

var (
	trueVal  = true
	falseVal = false
)

func optBoolPtr(o OptBool) *bool {
	switch o {
	case True:
		return &trueVal
	case False:
		return &falseVal
	}
	return nil
}

func ptrOptBool(p *bool) OptBool {
	if p == nil {
		return Missing
	}
	return Of(*p)
}

// daysSinceEpoch is the Parquet DATE of t's calendar date (in t's own
// location, as the CSV writer spells it).
func daysSinceEpoch(t time.Time) int32 {
	y, m, d := t.Date()
	// Midnight UTC is a whole number of days from the epoch, either side.
	return int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

func toParquetRow(c *Customer) parquetRow {
	return parquetRow{
		UserID:                    c.UserID,
		SignupDate:                daysSinceEpoch(c.SignupDate),
		UserGender:                c.Gender,
		UserIsSenior:              c.IsSenior,
		HasFamily:                 c.HasFamily,
		HasDependents:             c.HasDependents,
		MonthsActive:              int64(c.MonthsActive),
		PlanStreamTV:              optBoolPtr(c.PlanStreamTV),
		PlanStreamMovies:          optBoolPtr(c.PlanStreamMovies),
		ContractType:              c.ContractType,
		PaperlessBilling:          c.PaperlessBilling,
		MonthlyFee:                c.MonthlyFee,
		TotalPaid:                 c.TotalPaid,
		NetService:                c.NetService,
		WatchHours30d:             c.WatchHours30d,
		AvgSessionMins7d:          c.AvgSessionMins7d,
		UniqueDevices30d:          int64(c.UniqueDevices30d),
		Skips7d:                   int64(c.Skips7d),
		RebufferEvents7d:          int64(c.RebufferEvents7d),
		FailedPayments90d:         int64(c.FailedPayments90d),
		SupportTickets90d:         int64(c.SupportTickets90d),
		TicketAvgResolutionHrs90d: c.TicketAvgResolutionHrs90d,
		ChurnLabel:                c.Churn,
	}
}

func fromParquetRow(r *parquetRow) Customer {
	return Customer{
		UserID:                    r.UserID,
		SignupDate:                time.Unix(int64(r.SignupDate)*secondsPerDay, 0).UTC(),
		Gender:                    intern(r.UserGender),
		IsSenior:                  r.UserIsSenior,
		HasFamily:                 r.HasFamily,
		HasDependents:             r.HasDependents,
		MonthsActive:              int(r.MonthsActive),
		PlanStreamTV:              ptrOptBool(r.PlanStreamTV),
		PlanStreamMovies:          ptrOptBool(r.PlanStreamMovies),
		ContractType:              intern(r.ContractType),
		PaperlessBilling:          r.PaperlessBilling,
		MonthlyFee:                r.MonthlyFee,
		TotalPaid:                 r.TotalPaid,
		NetService:                intern(r.NetService),
		WatchHours30d:             r.WatchHours30d,
		AvgSessionMins7d:          r.AvgSessionMins7d,
		UniqueDevices30d:          int(r.UniqueDevices30d),
		Skips7d:                   int(r.Skips7d),
		RebufferEvents7d:          int(r.RebufferEvents7d),
		FailedPayments90d:         int(r.FailedPayments90d),
		SupportTickets90d:         int(r.SupportTickets90d),
		TicketAvgResolutionHrs90d: r.TicketAvgResolutionHrs90d,
		Churn:                     r.ChurnLabel,
	}
}

// WriteParquet writes the month as one Parquet file (Snappy-compressed, one
// row per customer in users.csv order, every CSV column), with as_of and
// the layout version in the file's key/value metadata. Parquet is what
// Athena, Glue and pandas read from S3. The month is validated first, so
// nothing unreadable is stored.
func WriteParquet(w io.Writer, m *Month) error {
	if err := m.validate(""); err != nil {
		return fmt.Errorf("snapshot: write parquet: %w", err)
	}
	if err := writeParquet(w, m); err != nil {
		return fmt.Errorf("snapshot: write parquet: %w", err)
	}
	return nil
}

// parquetBatch is how many rows are converted and written at a time: the
// file is encoded as it goes, without a second copy of the month.
const parquetBatch = 1024

func writeParquet(w io.Writer, m *Month) error {
	pw := parquet.NewGenericWriter[parquetRow](w,
		parquet.Compression(snappyCodec{}),
		parquet.KeyValueMetadata(ParquetAsOfKey, m.AsOf.Format(DateLayout)),
		parquet.KeyValueMetadata(ParquetSchemaKey, ParquetSchemaVersion),
		parquet.CreatedBy("churnops", "", ""),
	)
	rows := make([]parquetRow, 0, parquetBatch)
	for i := 0; i < len(m.Customers); i += parquetBatch {
		rows = rows[:0]
		for j := i; j < min(i+parquetBatch, len(m.Customers)); j++ {
			rows = append(rows, toParquetRow(&m.Customers[j]))
		}
		if _, err := pw.Write(rows); err != nil {
			return err
		}
	}
	return pw.Close()
}

// snappyCodec is Parquet's SNAPPY codec with the standard block encoder:
// parquet-go's own uses the "better" one, about twice as slow for a few
// percent smaller files. Any Snappy reader reads either.
type snappyCodec struct{}

func (snappyCodec) String() string                            { return "SNAPPY" }
func (snappyCodec) CompressionCodec() format.CompressionCodec { return format.Snappy }
func (snappyCodec) Encode(dst, src []byte) ([]byte, error)    { return s2.EncodeSnappy(dst, src), nil }
func (snappyCodec) Decode(dst, src []byte) ([]byte, error)    { return snappy.Decode(dst, src) }

// MarshalParquet is WriteParquet into a byte slice, for blob stores.
func MarshalParquet(m *Month) ([]byte, error) {
	var buf bytes.Buffer
	if err := WriteParquet(&buf, m); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// MarshalParquetTrusted is MarshalParquet without validating the month
// first, for a month a Joiner has just returned (Load, a shard build):
// every value and user_id was checked as it was joined, so checking again
// would only cost time — a tenth of a sharded ingest's CPU.
func MarshalParquetTrusted(m *Month) ([]byte, error) {
	var buf bytes.Buffer
	if err := writeParquet(&buf, m); err != nil {
		return nil, fmt.Errorf("snapshot: write parquet: %w", err)
	}
	return buf.Bytes(), nil
}

// UnmarshalParquet is ReadParquet from a byte slice, for blob stores.
func UnmarshalParquet(b []byte) (*Month, error) {
	return ReadParquet(bytes.NewReader(b), int64(len(b)))
}

// ReadParquet reads a month written by WriteParquet. It checks the layout
// version, that every column is present with the expected type, and the
// values (Validate): a file edited or produced by another tool is held to
// the same rules as the CSVs. Data problems come back as *ValidationErrors.
func ReadParquet(r io.ReaderAt, size int64) (*Month, error) {
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read parquet: %w", err)
	}
	if v, _ := f.Lookup(ParquetSchemaKey); v != ParquetSchemaVersion {
		return nil, fmt.Errorf("snapshot: read parquet: layout version %q, want %q", v, ParquetSchemaVersion)
	}
	asOfText, ok := f.Lookup(ParquetAsOfKey)
	if !ok {
		return nil, fmt.Errorf("snapshot: read parquet: %w: no %q metadata", ErrInvalidAsOf, ParquetAsOfKey)
	}
	asOf, err := ParseAsOf(asOfText)
	if err != nil {
		return nil, fmt.Errorf("snapshot: read parquet: %w", err)
	}
	if err := checkParquetSchema(f.Schema()); err != nil {
		return nil, fmt.Errorf("snapshot: read parquet: %w", err)
	}

	m := &Month{AsOf: asOf, Customers: make([]Customer, 0, f.NumRows())}
	if err := readParquetRows(f, m); err != nil {
		return nil, fmt.Errorf("snapshot: read parquet: %w", err)
	}
	if n := int64(len(m.Customers)); n != f.NumRows() {
		return nil, fmt.Errorf("snapshot: read parquet: read %d rows, file has %d", n, f.NumRows())
	}
	if err := m.validate("parquet"); err != nil {
		return nil, err
	}
	return m, nil
}

// readParquetRows appends every row of f to m's customers. parquet-go
// panics on some malformed inputs; a corrupt stored file must be an error,
// not a crash of the Lambda reading it.
func readParquetRows(f *parquet.File, m *Month) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt file: %v", p)
		}
	}()
	pr := parquet.NewGenericReader[parquetRow](f)
	defer pr.Close()
	// Reading in batches keeps parquet-go's intermediate row buffers small
	// and reused (one batch of the whole file allocates several times
	// more), and converting each batch holds no second copy of the month.
	rows := make([]parquetRow, 256)
	for want := int(f.NumRows()); len(m.Customers) < want; {
		k, err := pr.Read(rows[:min(len(rows), want-len(m.Customers))])
		for i := range rows[:k] {
			m.Customers = append(m.Customers, fromParquetRow(&rows[i]))
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// checkParquetSchema requires every column of parquetRow, with the same
// physical type, logical type and repetition, and reports every mismatch.
// Extra columns are ignored.
func checkParquetSchema(got *parquet.Schema) error {
	fields := make(map[string]parquet.Field, len(got.Fields()))
	for _, g := range got.Fields() {
		fields[g.Name()] = g
	}
	var errs []error
	for _, want := range parquetSchema.Fields() {
		field, ok := fields[want.Name()]
		switch {
		case !ok:
			errs = append(errs, fmt.Errorf("missing column %s", want.Name()))
		case !field.Leaf() || field.Type().Kind() != want.Type().Kind() ||
			field.Optional() != want.Optional() || field.Repeated() != want.Repeated() ||
			fmt.Sprint(field.Type().LogicalType()) != fmt.Sprint(want.Type().LogicalType()):
			errs = append(errs, fmt.Errorf("column %s has type %s, want %s", want.Name(), nodeString(field), nodeString(want)))
		}
	}
	return errors.Join(errs...)
}

func nodeString(n parquet.Node) string {
	s := n.Type().String()
	switch {
	case n.Optional():
		s = "optional " + s
	case n.Repeated():
		s = "repeated " + s
	}
	return s
}
