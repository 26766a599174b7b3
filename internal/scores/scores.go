// Package scores is the layout of batch scores: every customer of a month
// scored by one model version, stored shard by shard as Parquet files
// under scores/as_of=D/model=NAME/v=N/part-NNNNN.parquet, so that pandas,
// DuckDB and Athena read a month's scores as one table (the path's
// key=value segments are Hive partitions), and the histogram of the
// churn probabilities the run's summary and the dashboard show.
//
// A file's columns, in this order:
//
//	user_id            STRING
//	churn_probability  DOUBLE   the model's probability of churn
//	prediction         INT32    1 when churn_probability >= the model's threshold, else 0 (as /predict)
//	model_version      INT64
//	as_of              DATE     the month scored
//	contrib_<feature>  DOUBLE   optional: each feature's contribution to the log-odds (TreeSHAP)
//	contrib_bias       DOUBLE   optional: the expected log-odds; the contributions sum to the log-odds
package scores

import (
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/snappy"
	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Prefix is the key prefix of one model version's scores of a month.
func Prefix(asOf, model string, version int) string {
	return fmt.Sprintf("scores/as_of=%s/model=%s/v=%d/", asOf, model, version)
}

// Key is where the scores of shard k are stored.
func Key(asOf, model string, version, k int) string {
	return fmt.Sprintf("%spart-%05d.parquet", Prefix(asOf, model, version), k)
}

// ContribPrefix starts the name of every contribution column.
const ContribPrefix = "contrib_"

// BiasColumn is the contribution column of the bias (expected log-odds).
const BiasColumn = ContribPrefix + "bias"

// Row is one scored customer.
type Row struct {
	UserID      string
	Probability float64
	Prediction  int32
	// Contributions holds one value per feature, then the bias, when the
	// file has contribution columns.
	Contributions []float64
}

// Meta is what every row of a file shares.
type Meta struct {
	AsOf    time.Time
	Version int
	// Features names the contribution columns (contrib_<feature>, then
	// contrib_bias); nil writes none.
	Features []string
}

// base columns, in file order.
var base = []reflect.StructField{
	{Name: "UserID", Type: reflect.TypeFor[string](), Tag: `parquet:"user_id"`},
	{Name: "ChurnProbability", Type: reflect.TypeFor[float64](), Tag: `parquet:"churn_probability"`},
	{Name: "Prediction", Type: reflect.TypeFor[int32](), Tag: `parquet:"prediction"`},
	{Name: "ModelVersion", Type: reflect.TypeFor[int64](), Tag: `parquet:"model_version"`},
	{Name: "AsOf", Type: reflect.TypeFor[int32](), Tag: `parquet:"as_of,date"`},
}

// schema is the file schema for meta's columns: a struct type built for
// it, so that the columns keep the order above (a parquet.Group would sort
// them by name).
func schema(features []string) *parquet.Schema {
	fields := append([]reflect.StructField(nil), base...)
	for i, f := range features {
		fields = append(fields, reflect.StructField{
			Name: fmt.Sprintf("C%d", i), Type: reflect.TypeFor[float64](), Tag: reflect.StructTag(fmt.Sprintf(`parquet:"%s%s"`, ContribPrefix, f)),
		})
	}
	if features != nil {
		fields = append(fields, reflect.StructField{Name: "Bias", Type: reflect.TypeFor[float64](), Tag: reflect.StructTag(`parquet:"` + BiasColumn + `"`)})
	}
	return parquet.SchemaOf(reflect.New(reflect.StructOf(fields)).Elem().Interface())
}

// Writer writes one file of scores.
type Writer struct {
	pw   *parquet.GenericWriter[any]
	meta Meta
	days int32
	cols int
	buf  []parquet.Row
}

// batch is how many rows are converted and written at a time.
const batch = 1024

// NewWriter starts a file of scores on w.
func NewWriter(w io.Writer, meta Meta) *Writer {
	s := schema(meta.Features)
	y, m, d := meta.AsOf.Date()
	return &Writer{
		pw: parquet.NewGenericWriter[any](w, s,
			parquet.Compression(snappyCodec{}),
			parquet.KeyValueMetadata("as_of", meta.AsOf.Format("2006-01-02")),
			parquet.CreatedBy("churnops", "", ""),
		),
		meta: meta,
		days: int32(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400),
		cols: len(s.Columns()),
	}
}

// Write appends rows. Each row must have len(Features)+1 contributions
// when the file has contribution columns, none otherwise.
func (w *Writer) Write(rows []Row) error {
	want := 0
	if w.meta.Features != nil {
		want = len(w.meta.Features) + 1
	}
	for len(rows) > 0 {
		n := min(len(rows), batch)
		w.buf = w.buf[:0]
		for _, r := range rows[:n] {
			if len(r.Contributions) != want {
				return fmt.Errorf("scores: %s has %d contributions, the file %d", r.UserID, len(r.Contributions), want)
			}
			row := make(parquet.Row, 0, w.cols)
			row = append(row,
				parquet.ByteArrayValue([]byte(r.UserID)).Level(0, 0, 0),
				parquet.DoubleValue(r.Probability).Level(0, 0, 1),
				parquet.Int32Value(r.Prediction).Level(0, 0, 2),
				parquet.Int64Value(int64(w.meta.Version)).Level(0, 0, 3),
				parquet.Int32Value(w.days).Level(0, 0, 4),
			)
			for j, c := range r.Contributions {
				row = append(row, parquet.DoubleValue(c).Level(0, 0, 5+j))
			}
			w.buf = append(w.buf, row)
		}
		if _, err := w.pw.WriteRows(w.buf); err != nil {
			return fmt.Errorf("scores: write: %w", err)
		}
		rows = rows[n:]
	}
	return nil
}

// Close finishes the file.
func (w *Writer) Close() error {
	if err := w.pw.Close(); err != nil {
		return fmt.Errorf("scores: close: %w", err)
	}
	return nil
}

// snappyCodec is Parquet's SNAPPY with the standard block encoder (see
// internal/snapshot: twice as fast as parquet-go's default).
type snappyCodec struct{}

func (snappyCodec) String() string                            { return "SNAPPY" }
func (snappyCodec) CompressionCodec() format.CompressionCodec { return format.Snappy }
func (snappyCodec) Encode(dst, src []byte) ([]byte, error)    { return s2.EncodeSnappy(dst, src), nil }
func (snappyCodec) Decode(dst, src []byte) ([]byte, error)    { return snappy.Decode(dst, src) }

// Read reads a file of scores: its rows and what they share. Files
// written by other tools with the same columns read too.
func Read(r io.ReaderAt, size int64) (Meta, []Row, error) {
	var meta Meta
	f, err := parquet.OpenFile(r, size)
	if err != nil {
		return meta, nil, fmt.Errorf("scores: read: %w", err)
	}
	idx := map[string]int{}
	var contrib []int
	for i, c := range f.Schema().Columns() {
		name := c[0]
		idx[name] = i
		if len(name) > len(ContribPrefix) && name[:len(ContribPrefix)] == ContribPrefix && name != BiasColumn {
			meta.Features = append(meta.Features, name[len(ContribPrefix):])
			contrib = append(contrib, i)
		}
	}
	for _, c := range []string{"user_id", "churn_probability", "prediction", "model_version", "as_of"} {
		if _, ok := idx[c]; !ok {
			return meta, nil, fmt.Errorf("scores: read: no column %s", c)
		}
	}
	if meta.Features != nil {
		b, ok := idx[BiasColumn]
		if !ok {
			return meta, nil, fmt.Errorf("scores: read: contribution columns without %s", BiasColumn)
		}
		contrib = append(contrib, b)
	}
	var out []Row
	rows := f.NumRows()
	reader := parquet.NewReader(f)
	defer reader.Close()
	buf := make([]parquet.Row, batch)
	for int64(len(out)) < rows {
		n, err := reader.ReadRows(buf)
		for _, row := range buf[:n] {
			byCol := make(map[int]parquet.Value, len(row))
			for _, v := range row {
				byCol[v.Column()] = v
			}
			r := Row{
				UserID:      string(byCol[idx["user_id"]].ByteArray()),
				Probability: byCol[idx["churn_probability"]].Double(),
				Prediction:  byCol[idx["prediction"]].Int32(),
			}
			meta.Version = int(byCol[idx["model_version"]].Int64())
			meta.AsOf = time.Unix(int64(byCol[idx["as_of"]].Int32())*86400, 0).UTC()
			for _, c := range contrib {
				r.Contributions = append(r.Contributions, byCol[c].Double())
			}
			out = append(out, r)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return meta, out, fmt.Errorf("scores: read: %w", err)
		}
	}
	return meta, out, nil
}
