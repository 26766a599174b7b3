package drift_test

import (
	"bytes"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/ from the current output")

// goldenMonth builds a month of n rows with every kind of column a report
// shows: integer-like, continuous (truncated by the fixture's cap),
// constant, with infinite values, booleans with missing values, strings,
// many categories (folded in the chart) and the label. shift moves the
// current month.
func goldenMonth(seed uint64, n int, shift float64) []snapshot.Column {
	r := rand.New(rand.NewPCG(seed, 11))
	cols := []snapshot.Column{
		{Name: "months_active", Kind: snapshot.Numerical},
		{Name: "watch_hours_30d", Kind: snapshot.Numerical},
		{Name: "avg_session_mins_7d", Kind: snapshot.Numerical},
		{Name: "ticket_avg_resolution_hrs_90d", Kind: snapshot.Numerical},
		{Name: "plan_stream_tv", Kind: snapshot.Categorical},
		{Name: "net_service", Kind: snapshot.Categorical},
		{Name: "region", Kind: snapshot.Categorical},
		{Name: "churn_label", Kind: snapshot.Categorical},
	}
	for range n {
		cols[0].Num = append(cols[0].Num, float64(r.IntN(73)))
		cols[1].Num = append(cols[1].Num, math.Max(0.5, 30+10*r.NormFloat64()-8*shift))
		cols[2].Num = append(cols[2].Num, 29.14104464084511)
		res := math.Round(10*(8+3*r.NormFloat64())) / 10
		switch u := r.Float64(); {
		case u < 0.02:
			res = math.Inf(1)
		case u < 0.1:
			res = math.NaN()
		}
		cols[3].Num = append(cols[3].Num, res)
		tv := "False"
		switch u := r.Float64(); {
		case u < 0.22:
			tv = ""
		case u < 0.6+0.2*shift:
			tv = "True"
		}
		cols[4].Cat = append(cols[4].Cat, tv)
		cols[5].Cat = append(cols[5].Cat, []string{"DSL", "Fiber optic", "No"}[r.IntN(3)])
		cols[6].Cat = append(cols[6].Cat, "region-"+strconv.Itoa(r.IntN(40)))
		cols[7].Cat = append(cols[7].Cat, strconv.FormatBool(r.Float64() < 0.27+0.1*shift))
	}
	for i := range cols[7].Cat {
		cols[7].Cat[i] = strings.ToUpper(cols[7].Cat[i][:1]) + cols[7].Cat[i][1:]
	}
	return cols
}

// goldenReport is the report the golden files hold: two generated months
// with drift in two columns, summarized with a cap of 1,024 distinct values
// (so the continuous column is approximate), with provenance and a fixed
// generation time.
func goldenReport(t *testing.T) *drift.Report {
	t.Helper()
	ref, err := drift.SummarizeCapped(goldenMonth(1, 3000, 0), 1024)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := drift.SummarizeCapped(goldenMonth(2, 3200, 1), 1024)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := drift.CompareSummaries(ref, cur, drift.Options{
		Threshold: drift.DefaultThreshold, Reference: "2024-01-31", Current: "2024-02-29", Gate: atOrAbove,
		Now:           time.Date(2024, 3, 1, 6, 0, 0, 0, time.UTC),
		ReferenceData: drift.Provenance{Dataset: "datasets/as_of=2024-01-31/", Fingerprint: "sha256:1f0e3dad99908345", Shards: 1},
		CurrentData:   drift.Provenance{Dataset: "datasets/as_of=2024-02-29/", Fingerprint: "sha256:7c4a8d09ca3762af", Shards: 4},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkGolden compares got with testdata/name, or rewrites it with -update.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/drift -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test ./internal/drift -run Golden -update rewrites it after a deliberate change):\n%s", path, firstDiff(got, want))
	}
}

// TestGoldenReport pins both renderings of a report: the JSON contract
// and the HTML page.
func TestGoldenReport(t *testing.T) {
	rep := goldenReport(t)
	var js, html bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report_golden.json", js.Bytes())
	checkGolden(t, "report_golden.html", html.Bytes())
}
