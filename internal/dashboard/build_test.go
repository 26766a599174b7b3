package dashboard_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/synth"
)

const model = "churn"

// fixture is a state the real pipeline made: four generated months (a
// quiet one, a feature shift, a label shift), the executions of the
// retraining state machine over them, recorded as `churnops run` records
// them, and a rollback.
type fixture struct {
	st      *localstore.State
	records []execlog.Record // oldest first
	months  []string
	token   string // the paused execution's
	paused  *asl.Execution
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	sharedErr   error
)

// newFixture builds the fixture once per test binary (about a second of
// training); tests must not change it.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { shared, sharedErr = buildFixture() })
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func buildFixture() (*fixture, error) {
	ctx := context.Background()
	dir, err := tempDir()
	if err != nil {
		return nil, err
	}
	st, err := localstore.Open(dir, localstore.Options{})
	if err != nil {
		return nil, err
	}
	f := &fixture{st: st}
	p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features}
	months, err := synth.Generate(synth.Config{Users: 1500, Months: 4, Seed: 9, Strength: 1,
		Drift: map[int]synth.Drift{2: synth.FeatureShift, 3: synth.LabelShift}})
	if err != nil {
		return nil, err
	}
	for _, m := range months {
		out, err := pipelinetest.IngestMonth(ctx, p, m, dir, pipeline.IngestOptions{})
		if err != nil {
			return nil, err
		}
		f.months = append(f.months, out.AsOf)
	}
	runner, err := p.LocalRunner(nil)
	if err != nil {
		return nil, err
	}
	run := func(name, ref, cur string, approval bool) (*asl.Execution, error) {
		in := pipeline.ExecutionInput{ModelName: model, ReferenceAsOf: ref, CurrentAsOf: cur, Threshold: pipeline.DefaultThreshold,
			Delta: pipeline.DefaultDelta, MinAUC: pipeline.DefaultMinAUC, Seed: 1, RequireApproval: approval}
		raw, _ := json.Marshal(in)
		exec, err := runner.Run(ctx, name, raw)
		if err != nil {
			return nil, err
		}
		rec, err := execlog.FromHistory(exec.ID, exec.Name, exec.History)
		if err != nil {
			return nil, err
		}
		if _, err := execlog.Write(ctx, st.Blobs, &rec); err != nil {
			return nil, err
		}
		f.records = append(f.records, rec)
		return exec, nil
	}
	m := f.months
	for _, r := range []struct {
		name, ref, cur string
		approval       bool
	}{
		{"bootstrap", m[0], m[1], false},
		{"feature-shift", m[1], m[2], false},
		{"missing-month", m[2], "2024-09-30", false},
		{"label-shift", m[2], m[3], true},
	} {
		exec, err := run(r.name, r.ref, r.cur, r.approval)
		if err != nil {
			return nil, err
		}
		if exec.Status == asl.StatusPaused {
			f.paused, f.token = exec, exec.Checkpoint.Token
		}
	}
	// Roll back to the first version by hand, as `registry rollback` does.
	prod, err := st.Registry.Production(ctx, model)
	if err != nil {
		return nil, err
	}
	if prod.Version != 1 {
		err := st.Registry.Promote(ctx, model, 1, prod.Version, registry.Decision{Outcome: registry.OutcomeRolledBack,
			ProductionVersion: prod.Version, Reason: "rollback", DecidedAt: time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return nil, err
		}
	}
	return f, nil
}

func (f *fixture) sources() dashboard.Sources {
	return dashboard.Sources{Model: model, Registry: f.st.Registry, Blobs: f.st.Blobs, Target: "--state /x",
		Now: func() time.Time { return time.Date(2024, 6, 2, 8, 0, 0, 0, time.UTC) }}
}

func build(t *testing.T, src dashboard.Sources) *dashboard.Page {
	t.Helper()
	p, err := dashboard.Build(t.Context(), src)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestBuild checks every section of the page against the stores the
// pipeline wrote.
func TestBuild(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	p := build(t, f.sources())
	if len(p.Problems) != 0 {
		t.Errorf("problems: %v", p.Problems)
	}
	versions, err := f.st.Registry.List(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	byRun := map[string]execlog.Record{}
	for _, r := range f.records {
		byRun[r.ExecutionARN] = r
	}

	t.Run("importance", func(t *testing.T) {
		// Every version the runs trained records what it relies on; the
		// heatmap gives each feature column Production's share of it.
		for i, row := range p.Versions {
			v := versions[len(versions)-1-i]
			if want := registry.RankImportance(v.Importance); len(row.Importance) == 0 || !slices.Equal(row.Importance, want) {
				t.Errorf("v%d: importance %v, registry %v", row.Number, row.Importance, want)
			}
		}
		if p.Production == nil || len(p.Drift.Shares) != len(p.Drift.Columns) {
			t.Fatalf("Production %v, %d shares for %d columns", p.Production, len(p.Drift.Shares), len(p.Drift.Columns))
		}
		share := map[string]float64{}
		for _, f := range p.Production.Importance {
			share[f.Feature] = f.Share
		}
		for i, c := range p.Drift.Columns {
			if p.Drift.Shares[i] != share[c] {
				t.Errorf("%s: share %v, Production's %v", c, p.Drift.Shares[i], share[c])
			}
		}
		if i := slices.Index(p.Drift.Columns, "churn_label"); i >= 0 && (p.Drift.Shares[i] != 0 || p.Drift.Relied[i]) {
			t.Errorf("the label has a share %v", p.Drift.Shares[i])
		}
	})

	t.Run("registry", func(t *testing.T) {
		if len(p.Versions) != len(versions) || len(versions) < 3 {
			t.Fatalf("%d versions on the page, %d in the registry (want 3 or more)", len(p.Versions), len(versions))
		}
		for i, row := range p.Versions {
			v := versions[len(versions)-1-i] // newest first
			if row.Number != v.Version || row.Stage != v.Stage || row.AsOf != v.AsOf || row.Fingerprint != v.DataFingerprint || row.Metrics["val_auc"] != v.Metrics["val_auc"] {
				t.Errorf("row %d: %+v, registry %+v", i, row, v)
			}
			arn, phase, _ := strings.Cut(v.RunID, "#")
			rec, ok := byRun[arn]
			if !ok || row.Run != rec.Name || row.Phase != phase || row.RunAnchor == "" {
				t.Errorf("v%d: run %q %q anchor %q; its run_id is %s", v.Version, row.Run, row.Phase, row.RunAnchor, v.RunID)
			}
			if row.Decision == nil {
				t.Errorf("v%d: no deciding comparison", v.Version)
				continue
			}
			if d := v.Decision; d.Outcome != registry.OutcomeRolledBack && (row.Decision.Outcome != d.Outcome || row.Decision.CandidateAUC != d.CandidateAUC || row.Decision.Bar != d.Bar) {
				t.Errorf("v%d: decision %+v, the registry's %+v", v.Version, row.Decision, d)
			}
		}
		if p.Production == nil || p.Production.Number != 1 {
			t.Errorf("Production %+v, want v1 (rolled back to)", p.Production)
		}
		v1 := p.Versions[len(p.Versions)-1]
		if v1.Last == nil || v1.Last.Outcome != registry.OutcomeRolledBack || v1.Decision.Outcome != registry.OutcomePromoted {
			t.Errorf("v1: decision %+v, last %+v; want the bootstrap's promotion, then the rollback", v1.Decision, v1.Last)
		}
		if len(p.Manual) != 1 || p.Manual[0].Version != 1 || p.Manual[0].Outcome != registry.OutcomeRolledBack || p.Manual[0].Replaced < 2 {
			t.Errorf("manual changes %+v, want the rollback to v1", p.Manual)
		}
	})

	t.Run("executions", func(t *testing.T) {
		var got, want []string
		for _, e := range p.Executions {
			got = append(got, e.Name+":"+e.Outcome)
		}
		for i := len(f.records) - 1; i >= 0; i-- {
			r := f.records[i]
			want = append(want, r.Name+":"+r.Outcome)
		}
		if !slices.Equal(got, want) {
			t.Errorf("executions %v, want newest first %v", got, want)
		}
		for _, e := range p.Executions {
			switch e.Name {
			case "missing-month":
				if e.Error != "SnapshotNotFoundError" || !strings.Contains(e.Cause, "2024-09-30") || strings.Contains(e.Cause, "errorType") {
					t.Errorf("failed execution: error %q, cause %q", e.Error, e.Cause)
				}
			case "label-shift":
				if e.Outcome != "pending_approval" || e.Path[len(e.Path)-1].Name != "WaitForApproval" || !e.Path[len(e.Path)-1].Waiting {
					t.Errorf("paused execution: %s, path ends %+v", e.Outcome, e.Path[len(e.Path)-1])
				}
			}
			if e.HasDrift && !strings.HasPrefix(e.ReportHref, "drift/") {
				t.Errorf("%s: report %q", e.Name, e.ReportHref)
			}
		}
	})

	t.Run("drift over time", func(t *testing.T) {
		var want []string
		for _, r := range f.records {
			if s, _ := r.State(); s.Drift != nil {
				want = append(want, s.Drift.CurrentAsOf)
			}
		}
		var got []string
		for _, pt := range p.Drift.Points {
			got = append(got, pt.Current)
			if pt.Run == "" || pt.Retrain != (pt.Share >= pt.Threshold) {
				t.Errorf("point %+v", pt)
			}
		}
		if !slices.Equal(got, want) || len(got) != 3 {
			t.Errorf("drift points %v, want one per run that measured drift %v", got, want)
		}
		reports, err := f.st.Blobs.List(ctx, "reports/drift/")
		if err != nil {
			t.Fatal(err)
		}
		if 2*len(p.Drift.Months) != len(reports) || len(p.Drift.Columns) != 15 {
			t.Fatalf("heatmap %d months × %d columns; %d report files", len(p.Drift.Months), len(p.Drift.Columns), len(reports))
		}
		for j, m := range p.Drift.Months {
			raw, err := f.st.Blobs.Get(ctx, "reports/"+strings.TrimSuffix(m.ReportHref, ".html")+".json")
			if err != nil {
				t.Fatal(err)
			}
			var rep drift.Report
			if err := json.Unmarshal(raw, &rep); err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Columns {
				i := slices.Index(p.Drift.Columns, c.Column)
				cell := p.Drift.Cells[i][j]
				if !cell.Present || cell.Score != c.Score || cell.Drifted != c.Drifted || cell.Drifted != (cell.Level >= 1) {
					t.Errorf("%s %s: cell %+v, report %+v", m.Current, c.Column, cell, c)
				}
			}
		}
	})

	t.Run("model health", func(t *testing.T) {
		if len(p.Health) != len(versions) {
			t.Fatalf("%d health points, %d candidates", len(p.Health), len(versions))
		}
		for _, h := range p.Health {
			if h.CandidateVersion == 1 && (h.HasProduction || h.Bar != pipeline.DefaultMinAUC) {
				t.Errorf("the bootstrap's point %+v: no Production, the floor as bar", h)
			}
			if h.CandidateVersion > 1 && (!h.HasProduction || h.ProductionAUC <= 0 || h.Bar <= h.ProductionAUC) {
				t.Errorf("a retrain's point %+v: Production on the same users, bar above it", h)
			}
		}
	})

	t.Run("approvals from the registry", func(t *testing.T) {
		if len(p.Approvals) != 1 {
			t.Fatalf("approvals %+v, want the paused execution's", p.Approvals)
		}
		a := p.Approvals[0]
		if a.Token != f.token || a.Bar <= 0 || a.Approve != "churnops registry approve "+f.token+" --state /x" || a.Reject != "churnops registry reject "+f.token+" --state /x" {
			t.Errorf("approval %+v (token %s)", a, f.token)
		}
	})
}

// TestBuildApprovalsStore lists the approvals the local store keeps.
func TestBuildApprovalsStore(t *testing.T) {
	f := newFixture(t)
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Approvals.Put(t.Context(), "tok-1", []byte("{}"), registry.ApprovalInfo{Model: model, Version: 3, CandidateAUC: 0.9, ProductionAUC: 0.8}); err != nil {
		t.Fatal(err)
	}
	if err := st.Approvals.Put(t.Context(), "tok-other", []byte("{}"), registry.ApprovalInfo{Model: "other", Version: 1}); err != nil {
		t.Fatal(err)
	}
	src := f.sources()
	src.Approvals = st.Approvals
	p := build(t, src)
	if len(p.Approvals) != 1 || p.Approvals[0].Token != "tok-1" || p.Approvals[0].CandidateAUC != 0.9 {
		t.Errorf("approvals %+v, want tok-1 only", p.Approvals)
	}
}

// TestBuildProblems leaves unreadable documents out and names them.
func TestBuildProblems(t *testing.T) {
	f := newFixture(t)
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	good := f.records[0]
	for k, v := range map[string]string{
		execlog.Key(&good): "", // a real record
		execlog.Prefix + "20240101T000000.000Z_broken.json":   "{",
		"reports/drift/2024-01-31_vs_2024-02-29.json":         `{"reference": "2024-01-31"}`,
		dashboard.ScoreSummaryKey("2024-05-31"):               `{"rows": 3, "histogram": {"edges": [0, 1], "counts": [1, 2]}}`,
		"reports/drift/2024-01-31_vs_2024-02-29.html":         "<html>",
		"reports/scores/as_of=2024-05-31/other.json":          "{}",
		"reports/executions/20240101T000000.000Z_x.paused.js": "{}",
	} {
		data := []byte(v)
		if v == "" {
			data, _ = execlog.Encode(&good)
		}
		if err := st.Blobs.Put(ctx, k, data); err != nil {
			t.Fatal(err)
		}
	}
	p := build(t, dashboard.Sources{Model: model, Registry: st.Registry, Blobs: st.Blobs})
	if len(p.Problems) != 3 {
		t.Errorf("problems %q, want the broken record, the empty drift report and the bad histogram", p.Problems)
	}
	if len(p.Executions) != 1 || p.Executions[0].Name != good.Name {
		t.Errorf("executions %+v, want the good record", p.Executions)
	}
	if p.Scores != nil {
		t.Errorf("scores %+v from a bad summary", p.Scores)
	}
	if _, err := dashboard.Build(ctx, dashboard.Sources{Model: model}); err == nil {
		t.Error("Build without stores did not fail")
	}
}

// TestBuildScores reads the newest month's batch-score summary.
func TestBuildScores(t *testing.T) {
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	p := build(t, dashboard.Sources{Model: model, Registry: st.Registry, Blobs: st.Blobs})
	if p.Scores != nil {
		t.Fatalf("scores %+v with none stored", p.Scores)
	}
	for asOf, rows := range map[string]int{"2024-04-30": 10, "2024-05-31": 7043} {
		sum := fmtJSON(t, dashboard.ScoreSummary{AsOf: asOf, Model: model, Version: 3, Rows: rows,
			Histogram: dashboard.Histogram{Edges: []float64{0, 0.25, 0.5, 0.75, 1}, Counts: []int{4000, 2000, 800, 243}}})
		if err := st.Blobs.Put(ctx, dashboard.ScoreSummaryKey(asOf), sum); err != nil {
			t.Fatal(err)
		}
	}
	p = build(t, dashboard.Sources{Model: model, Registry: st.Registry, Blobs: st.Blobs})
	if p.Scores == nil || p.Scores.AsOf != "2024-05-31" || p.Scores.Rows != 7043 || len(p.Problems) != 0 {
		t.Errorf("scores %+v, problems %v; want 2024-05-31's", p.Scores, p.Problems)
	}
}

func fmtJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
