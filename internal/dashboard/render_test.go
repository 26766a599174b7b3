package dashboard_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"flag"
	"fmt"
	stdhtml "html"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/registry"
)

var update = flag.Bool("update", false, "rewrite testdata/page_golden.html")

func render(t *testing.T, p *dashboard.Page) string {
	t.Helper()
	var buf bytes.Buffer
	if err := dashboard.Render(&buf, p); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestRenderSelfContained renders the fixture's page: nothing is loaded
// from anywhere, the inline style and script are the ones the CSP allows,
// and each section shows what Build computed.
func TestRenderSelfContained(t *testing.T) {
	f := newFixture(t)
	p := build(t, f.sources())
	html := render(t, p)
	for _, banned := range []string{"http://", "https://", "<link rel=\"stylesheet", "<script src", "<img", "@import", "url("} {
		if strings.Contains(html, banned) {
			t.Errorf("the page is not self-contained: it contains %q", banned)
		}
	}
	// The CSP names the hashes of the page's own <style> and <script>.
	for _, tag := range []string{"style", "script"} {
		m := regexp.MustCompile(`(?s)<`+tag+`>(.*?)</`+tag+`>`).FindAllStringSubmatch(html, -1)
		if len(m) != 1 {
			t.Fatalf("%d <%s> elements, want 1", len(m), tag)
		}
		sum := sha256.Sum256([]byte(m[0][1]))
		if h := "sha256-" + base64.StdEncoding.EncodeToString(sum[:]); !strings.Contains(dashboard.CSP, h) || !strings.Contains(stdhtml.UnescapeString(html), h) {
			t.Errorf("the <%s> hash %s is not in the CSP", tag, h)
		}
	}
	count := func(pattern string) int { return len(regexp.MustCompile(pattern).FindAllString(html, -1)) }
	if got, want := count(`<a class="point[^"]*" href="drift/`), len(p.Drift.Points); got != want {
		t.Errorf("%d drift chart links, want %d", got, want)
	}
	if got, want := count(`<tr id="v\d+" data-version`), len(p.Versions); got != want {
		t.Errorf("%d registry rows, want %d", got, want)
	}
	if got, want := count(`<tr id="run-`), len(p.Executions); got != want {
		t.Errorf("%d execution rows, want %d", got, want)
	}
	if got, want := count(`class="month-link"`), len(p.Drift.Months); got != want {
		t.Errorf("%d heatmap months, want %d", got, want)
	}
	if got, want := count(`<circle class="cand-dot`), len(p.Health); got != want {
		t.Errorf("%d candidates in the health chart, want %d", got, want)
	}
	// Every run scores its current month with Production: the page shows
	// the newest month's batch scores, drawn from the summary the run stored.
	if p.Scores == nil || p.Scores.Rows != 1500 || !slices.Contains(f.months, p.Scores.AsOf) {
		t.Fatalf("batch scores %+v", p.Scores)
	}
	for _, want := range []string{f.token, "churnops registry approve " + f.token + " --state /x", "SnapshotNotFoundError", `id="scores-chart"`,
		fmt.Sprintf("customers of %s scored by", p.Scores.AsOf)} {
		if !strings.Contains(html, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	// Every in-page link has its target.
	for _, m := range regexp.MustCompile(`href="#([^"]+)"`).FindAllStringSubmatch(html, -1) {
		if !strings.Contains(html, `id="`+m[1]+`"`) {
			t.Errorf("link to #%s, which is not on the page", m[1])
		}
	}
}

// TestRenderGolden pins the markup of a small page with every section
// filled (go test -update rewrites it; look at it in a browser).
func TestRenderGolden(t *testing.T) {
	at := func(d, h int) time.Time { return time.Date(2024, 5, d, h, 0, 0, 0, time.UTC) }
	pos := 1869
	imp := registry.RankImportance(map[string]float64{"watch_hours_30d": 0.42, "months_active": 0.21, "monthly_fee": 0.14, "plan_stream_tv": 0.07, "skips_7d": 0})
	p := &dashboard.Page{
		Model: "churn", GeneratedAt: at(2, 6), Target: "--state '/home/a b/.churnops'",
		Production: &dashboard.Version{Number: 3, Stage: registry.StageProduction, AsOf: "2024-04-30", Metrics: map[string]float64{"val_auc": 0.8781}, Importance: imp},
		Versions: []dashboard.Version{
			{Number: 4, Stage: registry.StageNone, AsOf: "2024-05-31", Metrics: map[string]float64{"val_auc": 0.9, "val_f1": 0.8}, Fingerprint: "0123456789abcdef0123",
				Run: "may", Phase: "retrain", RunAnchor: "run-may",
				Decision: &registry.Decision{Outcome: "pending_approval", CandidateAUC: 0.9, ProductionAUC: 0.87, ProductionVersion: 3, Delta: 0.01, Bar: 0.88}},
			{Number: 3, Stage: registry.StageProduction, AsOf: "2024-04-30", Metrics: map[string]float64{"val_auc": 0.8781}, Importance: imp,
				Decision: &registry.Decision{Outcome: "promoted", CandidateAUC: 0.8781, ProductionAUC: 0.6917, ProductionVersion: 1, Delta: 0.01, Bar: 0.7017},
				Last:     &registry.Decision{Outcome: "rolled_back", ProductionVersion: 4, Reason: "rollback", DecidedAt: at(1, 9)}},
		},
		Manual: []dashboard.ManualChange{{Outcome: "rolled_back", Version: 3, Replaced: 4, At: at(1, 9), Reason: "rollback"}},
		Executions: []dashboard.Execution{
			{Name: "may", Anchor: "run-may", Start: at(1, 6), Duration: 95 * time.Second, Reference: "2024-04-30", Current: "2024-05-31",
				Status: "PAUSED", Outcome: "pending_approval", Candidate: 4, HasDrift: true, DriftShare: 0.4667, ReportHref: "drift/2024-04-30_vs_2024-05-31.html",
				Path: []dashboard.Step{{Name: "Drift", Type: "Task", Duration: 81 * time.Millisecond, Retries: 1}, {Name: "DriftGate", Type: "Choice"}, {Name: "WaitForApproval", Type: "Task", Duration: time.Minute, Waiting: true}}},
			{Name: "june", Anchor: "run-june", Start: at(1, 5), Duration: 20 * time.Millisecond, Reference: "2024-05-31", Current: "2024-06-30",
				Status: "FAILED", Outcome: "failed", Error: "SnapshotNotFoundError", Cause: "no snapshot ingested for as_of 2024-06-30",
				Path: []dashboard.Step{{Name: "Drift", Type: "Task", Duration: 18 * time.Millisecond, Error: "SnapshotNotFoundError"}, {Name: "MissingSnapshot", Type: "Fail", Error: "SnapshotNotFoundError"}}},
		},
		Drift: dashboard.Drift{
			Points: []dashboard.DriftPoint{
				{Reference: "2024-03-31", Current: "2024-04-30", Share: 0.0667, Threshold: 0.02, Drifted: 1, Columns: 15, Retrain: true, Run: "april", ReportHref: "drift/2024-03-31_vs_2024-04-30.html"},
				{Reference: "2024-04-30", Current: "2024-05-31", Share: 0.01, Threshold: 0.05, Drifted: 0, Columns: 15, Run: "may", ReportHref: "drift/2024-04-30_vs_2024-05-31.html"},
			},
			Columns: []string{"watch_hours_30d", "plan_stream_tv"},
			Months: []dashboard.DriftMonth{
				{Reference: "2024-03-31", Current: "2024-04-30", Share: 0.0667, ReportHref: "drift/2024-03-31_vs_2024-04-30.html"},
				{Reference: "2024-04-30", Current: "2024-05-31", Share: 0.01, ReportHref: "drift/2024-04-30_vs_2024-05-31.html"},
			},
			Cells: [][]dashboard.DriftCell{
				{{Present: true, Test: "Wasserstein distance (normed)", Score: 0.87, StatThreshold: 0.1, Drifted: true, Level: 2}, {Present: true, Test: "Wasserstein distance (normed)", Score: 0.06, StatThreshold: 0.1, Level: 0.6}},
				{{Present: true, Test: "K-S p_value", Score: 0.00001, StatThreshold: 0.05, Drifted: true, Level: 1.2}, {}},
			},
			Shares: []float64{0.5, 0.0833},
			Relied: []bool{true, false},
		},
		Health: []dashboard.HealthPoint{
			{Month: "2024-01-31", CandidateVersion: 1, CandidateAUC: 0.8545, Bar: 0.7, Outcome: "promoted"},
			{Month: "2024-04-30", CandidateVersion: 3, CandidateAUC: 0.8781, HasProduction: true, ProductionVersion: 1, ProductionAUC: 0.6917, Bar: 0.7017, Outcome: "promoted"},
			{Month: "2024-05-31", CandidateVersion: 4, CandidateAUC: 0.9, HasProduction: true, ProductionVersion: 3, ProductionAUC: 0.87, Bar: 0.88, Outcome: "pending_approval"},
		},
		Scores: &dashboard.ScoreSummary{AsOf: "2024-05-31", Model: "churn", Version: 3, Rows: 7043, Positives: &pos,
			Histogram: dashboard.Histogram{Edges: []float64{0, 0.25, 0.5, 0.75, 1}, Counts: []int{4000, 1500, 800, 743}}},
		Approvals: []dashboard.Approval{{Token: "tok", Version: 4, CandidateAUC: 0.9, ProductionAUC: 0.87, Bar: 0.88, Since: at(1, 7),
			Approve: "churnops registry approve tok --state '/home/a b/.churnops'", Reject: "churnops registry reject tok --state '/home/a b/.churnops'"}},
		Problems:    []string{"execution record reports/executions/x.json: unexpected end of JSON input"},
		ReportsBase: "reports/",
	}
	got := render(t, p)
	file := filepath.Join("testdata", "page_golden.html")
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if got != string(want) {
		t.Errorf("the page differs from %s (go test -update rewrites it; check it in a browser)", file)
	}
	// What the golden file must say, whatever its markup.
	for _, s := range []string{
		`href="reports/drift/2024-03-31_vs_2024-04-30.html"`, // ReportsBase prefixes report links
		"▲ 0.8700", "1.0e-05", `class="lv5"`, `class="lv2"`, // heatmap cells
		"threshold 2.0%", "threshold 5.0%", // the threshold where it changes
		"7,043 customers of 2024-05-31", "1,869 predicted to churn",
		"rolled back to", "Drift <span class=\"t\">81ms</span> <span class=\"t\">(1 retry)</span>",
		"--state &#39;/home/a b/.churnops&#39;",
		"What Production v3 relies on", `<tr><th scope="row">watch_hours_30d</th><td class="nowrap"><meter value="1.000"></meter> 50.0%</td><td class="num">0.4200</td></tr>`, // what Production relies on
		`<th scope="row" class="relied">⚑ watch_hours_30d <span class="share"`, "plan_stream_tv <span class=\"share\"", // heatmap
	} {
		if !strings.Contains(got, s) {
			t.Errorf("the page lacks %q", s)
		}
	}
}

func TestEmptyPage(t *testing.T) {
	html := render(t, &dashboard.Page{Model: "churn"})
	for _, s := range []string{"No versions of", "No execution recorded yet", "No drift measured yet", "No batch scores yet", "No promotion waits for approval"} {
		if !strings.Contains(html, s) {
			t.Errorf("an empty page lacks %q", s)
		}
	}
}
