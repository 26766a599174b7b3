package scores_test

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/churnops/churnops/internal/scores"
)

func write(t *testing.T, meta scores.Meta, rows []scores.Row) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := scores.NewWriter(&buf, meta)
	if err := w.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestRoundTrip writes files with and without contributions (more rows
// than one batch) and reads them back, by name and in order.
func TestRoundTrip(t *testing.T) {
	asOf := time.Date(2024, 4, 30, 0, 0, 0, 0, time.UTC)
	for _, features := range [][]string{nil, {"monthly_fee", "net_service"}} {
		t.Run(fmt.Sprintf("%d contributions", len(features)), func(t *testing.T) {
			var rows []scores.Row
			for i := range 2500 {
				r := scores.Row{UserID: fmt.Sprintf("%04d-U", i), Probability: float64(i) / 2500, Prediction: int32(i % 2)}
				if features != nil {
					r.Contributions = []float64{float64(i), -float64(i), 0.5}
				}
				rows = append(rows, r)
			}
			meta := scores.Meta{AsOf: asOf, Version: 7, Features: features}
			data := write(t, meta, rows)
			got, back, err := scores.Read(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if !got.AsOf.Equal(asOf) || got.Version != 7 || !slices.Equal(got.Features, features) {
				t.Errorf("meta %+v", got)
			}
			if len(back) != len(rows) {
				t.Fatalf("%d rows back, want %d", len(back), len(rows))
			}
			for i := range rows {
				if back[i].UserID != rows[i].UserID || back[i].Probability != rows[i].Probability || back[i].Prediction != rows[i].Prediction ||
					!slices.Equal(back[i].Contributions, rows[i].Contributions) {
					t.Fatalf("row %d: %+v, want %+v", i, back[i], rows[i])
				}
			}
		})
	}
}

// TestSchema pins the columns other readers see: names, order, physical
// and logical types (as_of a DATE).
func TestSchema(t *testing.T) {
	data := write(t, scores.Meta{AsOf: time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC), Version: 1, Features: []string{"a"}},
		[]scores.Row{{UserID: "u", Probability: 0.25, Contributions: []float64{1, 2}}})
	f, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, field := range f.Schema().Fields() {
		got = append(got, field.Name()+" "+field.Type().String())
	}
	want := []string{"user_id STRING", "churn_probability DOUBLE", "prediction INT(32,true)", "model_version INT(64,true)", "as_of DATE", "contrib_a DOUBLE", "contrib_bias DOUBLE"}
	if !slices.Equal(got, want) {
		t.Errorf("columns %q, want %q", got, want)
	}
	if v, ok := f.Lookup("as_of"); !ok || v != "2024-01-31" {
		t.Errorf("as_of metadata %q", v)
	}
}

// TestContributionsCount refuses a row whose contributions do not match
// the file's columns.
func TestContributionsCount(t *testing.T) {
	var buf bytes.Buffer
	w := scores.NewWriter(&buf, scores.Meta{Version: 1, Features: []string{"a", "b"}})
	if err := w.Write([]scores.Row{{UserID: "u", Contributions: []float64{1, 2}}}); err == nil {
		t.Error("a row without its bias was written")
	}
}

// TestHistogram: tenths, the last bin closed, merged by adding.
func TestHistogram(t *testing.T) {
	h := scores.NewHistogram()
	for _, p := range []float64{0, 0.05, 0.1, 0.55, 0.999, 1, math.Nextafter(0.1, 0)} {
		h.Add(p)
	}
	if want := []int{3, 1, 0, 0, 0, 1, 0, 0, 0, 2}; !slices.Equal(h.Counts, want) {
		t.Errorf("counts %v, want %v", h.Counts, want)
	}
	if len(h.Edges) != 11 || h.Edges[0] != 0 || h.Edges[10] != 1 {
		t.Errorf("edges %v", h.Edges)
	}
	o := scores.NewHistogram()
	o.Add(0.3)
	if err := h.Merge(o); err != nil || h.Total() != 8 || h.Counts[3] != 1 {
		t.Errorf("merge: %v %v", h.Counts, err)
	}
	bad := scores.Histogram{Edges: []float64{0, 1}, Counts: []int{1}}
	if err := h.Merge(bad); err == nil {
		t.Error("merged a histogram of other bins")
	}
}
