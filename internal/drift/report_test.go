package drift_test

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/drift"
)

// sampleReport compares generated months with one drifted column whose
// name needs escaping.
func sampleReport(t *testing.T) *drift.Report {
	t.Helper()
	ref := synthetic(3000, 1, 0, 0.3)
	cur := synthetic(3000, 2, 6, 0.3)
	ref[0].Name, cur[0].Name = `watch<script>alert("x")</script>`, `watch<script>alert("x")</script>`
	rep, err := drift.Compare(ref, cur, drift.Options{Threshold: 0.02, Reference: "2024-01-31", Current: `2024-02-29 & "late"`, Gate: atOrAbove})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Columns[0].Drifted || rep.Columns[1].Drifted {
		t.Fatalf("fixture: want only the first column drifted, got %+v", rep.Columns)
	}
	return rep
}

func TestWriteJSONContract(t *testing.T) {
	rep := sampleReport(t)
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	wantTop := []string{"columns", "current", "current_data", "drift_share", "drifted_columns", "reference", "reference_data", "retrain", "threshold"}
	if got := slices.Sorted(maps.Keys(doc)); !slices.Equal(got, wantTop) {
		t.Errorf("top-level keys %v, want %v", got, wantTop)
	}
	checks := []struct {
		key  string
		want any
	}{
		{"reference", "2024-01-31"}, {"current", `2024-02-29 & "late"`}, {"drift_share", 0.5},
		{"drifted_columns", 1.0}, {"threshold", 0.02}, {"retrain", true},
	}
	for _, c := range checks {
		if doc[c.key] != c.want {
			t.Errorf("%s = %v, want %v", c.key, doc[c.key], c.want)
		}
	}
	cols, _ := doc["columns"].([]any)
	if len(cols) != 2 {
		t.Fatalf("columns = %v", doc["columns"])
	}
	for i, c := range cols {
		col := c.(map[string]any)
		for _, k := range []string{"column", "type", "test", "score", "stat_threshold", "drifted", "n_reference", "n_current", "distinct", "histogram"} {
			if _, ok := col[k]; !ok {
				t.Errorf("column %d lacks %q", i, k)
			}
		}
		if col["column"] != rep.Columns[i].Column || col["score"] != rep.Columns[i].Score || col["drifted"] != rep.Columns[i].Drifted {
			t.Errorf("column %d = %v, want %+v", i, col, rep.Columns[i])
		}
	}
	if cols[0].(map[string]any)["type"] != "num" || cols[1].(map[string]any)["type"] != "cat" {
		t.Errorf("types %v, %v; want num, cat", cols[0].(map[string]any)["type"], cols[1].(map[string]any)["type"])
	}
	var back drift.Report
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.DriftShare != rep.DriftShare || back.Columns[0].Histogram.Reference[0] != rep.Columns[0].Histogram.Reference[0] {
		t.Errorf("round trip lost data: %+v", back)
	}
}

func TestWriteHTML(t *testing.T) {
	rep := sampleReport(t)
	// Put the drifted column last, to see it listed first.
	rep.Columns[0], rep.Columns[1] = rep.Columns[1], rep.Columns[0]
	var buf bytes.Buffer
	if err := rep.WriteHTML(&buf); err != nil {
		t.Fatal(err)
	}
	html := buf.String()
	for _, bad := range []string{"<script", "<link", " src=", "http://", "https://", "@import", `"late"`} {
		if strings.Contains(html, bad) {
			t.Errorf("html contains %q (unescaped text or an external asset)", bad)
		}
	}
	for _, want := range []string{
		"&lt;script&gt;alert(",            // the column name, escaped
		"2024-02-29 &amp; &#34;late&#34;", // the label, escaped
		"Retrain recommended", "50.0%", "threshold 2.0%", "1 of 2 columns drifted",
		drift.TestWasserstein, drift.TestJS,
		`role="img"`, "<title id=", "<desc id=", "<svg", "<rect",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("html lacks %q", want)
		}
	}
	drifted := strings.Index(html, `id="col-0-h">watch&lt;script`)
	calm := strings.Index(html, `id="col-1-h">net_service`)
	if drifted < 0 || calm < 0 || drifted > calm {
		t.Errorf("drifted column card at %d, other at %d: want the drifted one first", drifted, calm)
	}
	// One bar per bin and side in each chart.
	bars := 0
	for _, c := range rep.Columns {
		bars += 2 * len(c.Histogram.Labels)
	}
	if got := strings.Count(html, "<rect class="); got != bars {
		t.Errorf("%d bars, want %d", got, bars)
	}
}

func TestBuild(t *testing.T) {
	ref := synthetic(2000, 1, 0, 0.3)
	docs, err := drift.Build(ref, ref, drift.Options{Threshold: drift.DefaultThreshold, Reference: "a", Current: "b", Gate: atOrAbove})
	if err != nil {
		t.Fatal(err)
	}
	var back drift.Report
	if err := json.Unmarshal(docs.JSON, &back); err != nil {
		t.Fatal(err)
	}
	if back.Reference != "a" || back.Current != "b" || back.Retrain || docs.Report.DriftedColumns != 0 {
		t.Errorf("report %+v", back)
	}
	if !bytes.Contains(docs.HTML, []byte("No retraining needed")) {
		t.Error("html lacks the verdict")
	}
	if _, err := drift.Build(ref, ref[:1], drift.Options{}); err == nil {
		t.Error("Build accepted mismatched columns")
	}
}

// TestReportAdditions checks what the report shows besides the tests, in
// both renderings: generation time and provenance, missing and infinite
// counts, statistics, the constant-column note, the approximation note
// and the gauge's fixed 0–100% scale.
func TestReportAdditions(t *testing.T) {
	rep := goldenReport(t)
	byName := map[string]drift.ColumnResult{}
	for _, c := range rep.Columns {
		byName[c.Column] = c
	}
	if rep.ReferenceData.Rows != 3000 || rep.CurrentData.Rows != 3200 || rep.CurrentData.Shards != 4 {
		t.Errorf("provenance %+v / %+v", rep.ReferenceData, rep.CurrentData)
	}
	tv := byName["plan_stream_tv"].Reference
	if tv.Missing == 0 || tv.Missing+byName["plan_stream_tv"].NReference != tv.Rows || len(tv.Top) != 2 {
		t.Errorf("plan_stream_tv reference stats %+v", tv)
	}
	res := byName["ticket_avg_resolution_hrs_90d"]
	if res.Current.Infinite == 0 || res.Current.Missing+res.Current.Infinite+res.NCurrent != res.Current.Rows {
		t.Errorf("resolution hours current stats %+v, n %d", res.Current, res.NCurrent)
	}
	if c := byName["avg_session_mins_7d"]; !c.Constant || c.Reference.Numeric.Std != 0 || c.Current.Numeric.Std != 0 {
		t.Errorf("constant column %+v", c)
	}
	if c := byName["watch_hours_30d"]; !c.Approximate || c.Approximation == nil || c.Approximation.ScoreBound == nil {
		t.Errorf("watch hours: approximate %v %+v", c.Approximate, c.Approximation)
	}
	for name, c := range byName {
		if name != "watch_hours_30d" && (c.Approximate || c.Approximation != nil) {
			t.Errorf("%s approximate", name)
		}
		if name != "avg_session_mins_7d" && c.Constant {
			t.Errorf("%s constant", name)
		}
	}

	var js, html bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"generated_at": "2024-03-01T06:00:00Z"`, `"fingerprint": "sha256:7c4a8d09ca3762af"`,
		`"approximate": true`, `"score_bound": `, `"method": "values truncated`, `"constant": true`, `"missing": 715`, `"p25": `} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("json lacks %s", want)
		}
	}
	if err := rep.WriteHTML(&html); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Generated 2024-03-01 06:00:00 UTC", "datasets/as_of=2024-02-29/", "sha256:7c4a8d09ca3762af",
		`<td class="num">3,200</td>`, "715 (23.8%)", "53 infinite",
		"Constant: every tested value is 29.14 in both months", "Approximate: to keep the month",
		`<span class="tag">constant</span>`, `<span class="tag">approximate</span>`,
		`class="mark start" style="left: 2.00%"`, `<span style="left: 100%">100%</span>`,
		`<th scope="row">Median</th>`, "Top categories", `href="#columns"`, `class="skip"`,
	} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("html lacks %q", want)
		}
	}
	// Without Options.Now the report has no generation time.
	if strings.Contains(mustJSON(t, sampleReport(t)), "generated_at") {
		t.Error("generated_at present without Options.Now")
	}
}

func mustJSON(t *testing.T, rep *drift.Report) string {
	t.Helper()
	var b bytes.Buffer
	if err := rep.WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}
