package pipeline_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/snapshot/snapshottest"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

const model = "churn"

func newPipeline(t *testing.T) (*pipeline.Pipeline, *localstore.State) {
	t.Helper()
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features, LocalDirs: true}, st
}

// ingestGenerated generates and ingests months, returning their as_of dates.
func ingestGenerated(t *testing.T, p *pipeline.Pipeline, cfg synth.Config) []string {
	t.Helper()
	months, err := synth.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range months {
		res, err := pipelinetest.IngestMonth(t.Context(), p, m, t.TempDir(), pipeline.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.AsOf)
	}
	return out
}

func input(ref, cur string) pipeline.ExecutionInput {
	return pipeline.ExecutionInput{ModelName: model, ReferenceAsOf: ref, CurrentAsOf: cur,
		Threshold: pipeline.DefaultThreshold, Delta: pipeline.DefaultDelta, MinAUC: pipeline.DefaultMinAUC, Seed: 1}
}

func runLocal(t *testing.T, p *pipeline.Pipeline, in pipeline.ExecutionInput) *asl.Execution {
	t.Helper()
	r, err := p.LocalRunner(nil)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(in)
	exec, err := r.Run(t.Context(), "", raw)
	if err != nil {
		t.Fatal(err)
	}
	return exec
}

func sampleMonths(t *testing.T) string { t.Helper(); return snapshottest.SampleDir(t) }

// TestRealSampleMonths is the acceptance run: ingest the lab's two
// months, run once with threshold 0.02 and delta 0.01.
func TestRealSampleMonths(t *testing.T) {
	dir := sampleMonths(t)
	p, st := newPipeline(t)
	ctx := t.Context()
	for _, m := range []struct{ dir, asOf string }{{"month_000", "2024-01-31"}, {"month_001", "2024-02-29"}} {
		if _, err := p.Ingest(ctx, pipeline.Incoming{Dir: filepath.Join(dir, m.dir), AsOf: m.asOf}, pipeline.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	exec := runLocal(t, p, input("2024-01-31", "2024-02-29"))
	if exec.Status != asl.StatusSucceeded {
		t.Fatalf("execution %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	var out pipeline.ExecutionState
	if err := json.Unmarshal(exec.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Drift == nil || out.Run == nil || out.Candidate == nil || out.Production == nil || out.Bootstrap == nil {
		t.Fatalf("execution output lacks a state's result: %s", exec.Output)
	}
	if out.Run.Phase != "retrain" || out.Run.AsOf != "2024-02-29" || out.Candidate.Version != 2 || out.Bootstrap.Outcome != registry.OutcomePromoted {
		t.Errorf("run %+v, candidate v%d, bootstrap %q: want the retrain on 2024-02-29 (v2) after a promoted bootstrap", *out.Run, out.Candidate.Version, out.Bootstrap.Outcome)
	}
	if out.Drift.DriftShare < 0.02 {
		t.Errorf("drift_share %v: the lab's months drift (rebuffer_events_7d and labels changed)", out.Drift.DriftShare)
	}
	vs, err := st.Registry.List(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%d versions, want 2 (bootstrap from month_000, candidate on month_001)", len(vs))
	}
	if vs[0].AsOf != "2024-01-31" || vs[0].Decision == nil || vs[0].Decision.Outcome != registry.OutcomePromoted {
		t.Errorf("v1 = %+v, want the bootstrap promoted from 2024-01-31", vs[0])
	}
	d := vs[1].Decision
	if vs[1].AsOf != "2024-02-29" || d == nil || d.ProductionVersion != 1 || d.ProductionAUC <= 0 {
		t.Fatalf("v2 = %+v, want a candidate on 2024-02-29 compared with Production v1", vs[1])
	}
	wantStage := registry.StageNone
	if d.CandidateAUC > d.ProductionAUC+0.01 {
		wantStage = registry.StageProduction
	}
	if vs[1].Stage != wantStage {
		t.Errorf("v2 stage %s with cand %.4f vs prod %.4f + 0.01, want %s", vs[1].Stage, d.CandidateAUC, d.ProductionAUC, wantStage)
	}
	if got, want := out.Outcome(), map[registry.Stage]string{registry.StageProduction: registry.OutcomePromoted, registry.StageNone: registry.OutcomeSkipped}[wantStage]; got != want {
		t.Errorf("execution outcome %q, want %q", got, want)
	}
	// Production was evaluated on the very users the candidate was validated
	// on: the user-hash validation split of month_001.
	preds, err := st.Blobs.Get(ctx, pipeline.ModelKey(model, 2, "val_predictions.csv"))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(bytesReader(preds)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var users []string
	for _, r := range rows[1:] {
		users = append(users, r[0])
		if !snapshot.IsValidation(r[0]) {
			t.Fatalf("user %s in val predictions is not a validation user", r[0])
		}
	}
	ev, err := p.Evaluate(ctx, pipeline.EvaluateInput{ModelName: model, AsOf: "2024-02-29", Delta: 0.01, MinAUC: 0.7})
	if err != nil {
		t.Fatal(err)
	}
	if got := ev.Metrics["val_rows"]; int(got) != len(users) {
		t.Errorf("Production scored on %v users, candidate on %d", got, len(users))
	}
}

// TestConcurrentExecutions runs two executions at once against one
// registry: both bootstrap (no Production yet) and race to promote.
func TestConcurrentExecutions(t *testing.T) {
	p, st := newPipeline(t)
	asOfs := ingestGenerated(t, p, synth.Config{Users: 1500, Months: 2, Seed: 3, Drift: map[int]synth.Drift{1: synth.LabelShift}})
	const runs = 3
	var wg sync.WaitGroup
	execs := make([]*asl.Execution, runs)
	for i := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := input(asOfs[0], asOfs[1])
			in.Seed = int64(i)
			execs[i] = runLocal(t, p, in)
		}()
	}
	wg.Wait()
	vs, err := st.Registry.List(t.Context(), model)
	if err != nil {
		t.Fatal(err)
	}
	trained := 0
	for _, e := range execs {
		for _, ev := range e.History {
			if ev.Type == asl.EventTaskSucceeded && ev.State == "Train" {
				trained++
			}
		}
		if e.Status != asl.StatusSucceeded && e.Error != "RegistryConflictError" {
			t.Errorf("execution %s: %s %s, want success or RegistryConflictError", e.Status, e.Error, e.Cause)
		}
	}
	if len(vs) != trained {
		t.Errorf("%d versions registered, %d trained: a version was lost or invented", len(vs), trained)
	}
	prod := 0
	for i, v := range vs {
		if v.Version != i+1 {
			t.Errorf("version numbers %d at %d: gaps or duplicates", v.Version, i)
		}
		if v.Stage == registry.StageProduction {
			prod++
		}
	}
	if prod != 1 {
		t.Errorf("%d Production versions, want exactly 1", prod)
	}
}

// snapshotState records everything a failed step must leave untouched.
func snapshotState(t *testing.T, st *localstore.State) ([]registry.Version, []string) {
	t.Helper()
	vs, err := st.Registry.List(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.Blobs.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	return vs, keys
}

func TestBadInputsChangeNothing(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 2, Seed: 5, Drift: map[int]synth.Drift{1: synth.FeatureShift}})
	if exec := runLocal(t, p, input(asOfs[0], asOfs[1])); exec.Status != asl.StatusSucceeded {
		t.Fatalf("setup run: %s %s", exec.Error, exec.Cause)
	}
	prod, err := st.Registry.Production(ctx, model)
	if err != nil {
		t.Fatal(err)
	}
	// A corrupt artifact, stored under a version of its own.
	bad, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[1]})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Blobs.Put(ctx, bad.ArtifactKey, []byte(`{"schema_version": 1, "trees": [`)); err != nil {
		t.Fatal(err)
	}
	// A sound candidate: Production's own artifact, registered again.
	good, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[1], ArtifactKey: prod.ArtifactKey, ArtifactSHA256: prod.ArtifactSHA256})
	if err != nil {
		t.Fatal(err)
	}
	runner, err := p.LocalRunner(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		call     func() error
		wantType any
	}{
		{"missing month", func() error {
			_, err := p.Drift(ctx, pipeline.DriftInput{ReferenceAsOf: asOfs[0], CurrentAsOf: "2030-01-31", Threshold: 0.02})
			return err
		}, &pipeline.SnapshotNotFoundError{}},
		{"unparseable as_of", func() error {
			_, err := p.Train(ctx, pipeline.TrainInput{ModelName: model, AsOf: "31/01/2024"})
			return err
		}, &pipeline.InvalidInputError{}},
		{"unknown version", func() error {
			_, err := p.Compare(ctx, pipeline.CompareInput{Action: pipeline.ActionPromote, ModelName: model, CandidateVersion: 99, ProductionVersion: prod.Version})
			return err
		}, &pipeline.ModelNotFoundError{}},
		{"stale production", func() error {
			_, err := p.Compare(ctx, pipeline.CompareInput{Action: pipeline.ActionPromote, ModelName: model, CandidateVersion: good.Version, ProductionVersion: prod.Version + 7})
			return err
		}, &pipeline.RegistryConflictError{}},
		{"promote a corrupt artifact", func() error {
			_, err := p.Compare(ctx, pipeline.CompareInput{Action: pipeline.ActionPromote, ModelName: model, CandidateVersion: bad.Version, ProductionVersion: prod.Version})
			return err
		}, &pipeline.InvalidArtifactError{}},
		{"unknown action", func() error {
			_, err := p.Compare(ctx, pipeline.CompareInput{Action: "promote!", ModelName: model, CandidateVersion: 1})
			return err
		}, &pipeline.InvalidInputError{}},
		{"corrupt artifact", func() error {
			_, err := p.LoadModel(ctx, bad)
			return err
		}, &pipeline.InvalidArtifactError{}},
		{"threshold out of range", func() error {
			_, err := p.Drift(ctx, pipeline.DriftInput{ReferenceAsOf: asOfs[0], CurrentAsOf: asOfs[1], Threshold: 2})
			return err
		}, &pipeline.InvalidInputError{}},
		{"malformed event", func() error {
			exec, err := runner.Run(ctx, "", json.RawMessage(`{"model_name": "churn", "reference_as_of": 2024, "current_as_of": "x", "threshold": "high"}`))
			if err != nil {
				return err
			}
			if exec.Status == asl.StatusSucceeded {
				return nil
			}
			return &pipeline.InvalidInputError{Msg: exec.Error}
		}, &pipeline.InvalidInputError{}},
		{"missing month directory", func() error {
			_, err := p.Ingest(ctx, pipeline.Incoming{Dir: filepath.Join(t.TempDir(), "nope"), AsOf: "2024-05-31"}, pipeline.IngestOptions{})
			return err
		}, &pipeline.InvalidInputError{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vs0, keys0 := snapshotState(t, st)
			err := tc.call()
			if err == nil {
				t.Fatal("no error")
			}
			if typeName(err) != typeName(tc.wantType) {
				t.Errorf("error %T (%v), want %T", err, err, tc.wantType)
			}
			if err.Error() == "" {
				t.Error("empty error message")
			}
			vs1, keys1 := snapshotState(t, st)
			if !slices.Equal(keys0, keys1) {
				t.Errorf("blobs changed: %v -> %v", keys0, keys1)
			}
			if len(vs0) != len(vs1) {
				t.Fatalf("registry changed: %d -> %d versions", len(vs0), len(vs1))
			}
			for i := range vs0 {
				if vs0[i].Stage != vs1[i].Stage || !vs0[i].UpdatedAt.Equal(vs1[i].UpdatedAt) {
					t.Errorf("v%d changed: %s -> %s", vs0[i].Version, vs0[i].Stage, vs1[i].Stage)
				}
			}
		})
	}
}

// TestTrainRetryAdoptsVersion: Lambda is at least once and the state
// machine retries; a retried Train of the same run must not register a
// second candidate once the first attempt stored its files, and must not
// adopt a version whose artifact was never stored (its bytes are gone with
// the attempt that trained them: that version is an orphan, marked so).
func TestTrainRetryAdoptsVersion(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	asOfs := ingestGenerated(t, p, synth.Config{Users: 1000, Months: 2, Seed: 8})
	in := pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1, RunID: "arn:exec:1", Phase: "retrain"}

	// An earlier attempt registered its version, then died before uploading.
	ghost, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[0], RunID: "arn:exec:1#retrain", ArtifactSHA256: strings.Repeat("ab", 32)})
	if err != nil {
		t.Fatal(err)
	}
	first, err := p.Train(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Version == ghost.Version {
		t.Errorf("the retry adopted v%d, whose artifact was never stored", ghost.Version)
	}
	if g, err := st.Registry.Get(ctx, model, ghost.Version); err != nil || g.Stage != registry.StageRejected || g.Decision == nil || g.Decision.Outcome != registry.OutcomeOrphaned {
		t.Errorf("ghost v%d after the retry: %+v, %v; want Rejected, orphaned", ghost.Version, g, err)
	}
	// The same attempt delivered twice: same version, same stored files.
	again, err := p.Train(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if again.Version != first.Version || again.Metrics["val_auc"] != first.Metrics["val_auc"] {
		t.Errorf("second delivery: v%d auc %v, want v%d auc %v", again.Version, again.Metrics["val_auc"], first.Version, first.Metrics["val_auc"])
	}
	// Another phase of the same execution is another training.
	in.Phase = "bootstrap"
	other, err := p.Train(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if other.Version == first.Version {
		t.Errorf("a different phase reused v%d", other.Version)
	}
	vs, _ := st.Registry.List(ctx, model)
	if len(vs) != 3 {
		t.Errorf("%d versions, want 3 (the orphan, the retrain, the bootstrap)", len(vs))
	}
	for _, v := range vs[1:] {
		data, err := st.Blobs.Get(ctx, v.ArtifactKey)
		if err != nil {
			t.Errorf("v%d: %v", v.Version, err)
		}
		if sum := pipeline.ArtifactSHA256(data); v.ArtifactSHA256 != sum {
			t.Errorf("v%d: registered SHA-256 %q, stored artifact has %s", v.Version, v.ArtifactSHA256, sum)
		}
	}
	// A run identity trains one month: reusing it on another is refused.
	in.Phase, in.AsOf = "retrain", asOfs[1]
	var invalid *pipeline.InvalidInputError
	if _, err := p.Train(ctx, in); !errors.As(err, &invalid) || !strings.Contains(err.Error(), "already trained") {
		t.Errorf("a run that trained on %s, asked to train on %s: %v; want InvalidInputError", asOfs[0], asOfs[1], err)
	}
}

// TestDriftGate asks the definition's DriftGate, the one place the rule lives.
func TestDriftGate(t *testing.T) {
	for _, tc := range []struct {
		share, threshold float64
		want             bool
	}{{0, 0.02, false}, {0.0199, 0.02, false}, {0.02, 0.02, true}, {0.0667, 0.02, true}, {0.5, 0.6, false}, {0, 0, true}} {
		got, err := pipeline.DriftGate(tc.share, tc.threshold)
		if err != nil || got != tc.want {
			t.Errorf("DriftGate(%v, %v) = %v, %v; want %v", tc.share, tc.threshold, got, err, tc.want)
		}
	}
}

// TestDriftRerun: the same months compared again reuse the stored reports;
// with another threshold the reports differ and are stored beside them,
// never over them.
func TestDriftRerun(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	asOfs := ingestGenerated(t, p, synth.Config{Users: 600, Months: 2, Seed: 2, Drift: map[int]synth.Drift{1: synth.FeatureShift}})
	in := pipeline.DriftInput{ReferenceAsOf: asOfs[0], CurrentAsOf: asOfs[1], Threshold: 0.02}
	first, err := p.Drift(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := p.Drift(ctx, in)
	if err != nil || again.ReportJSONKey != first.ReportJSONKey {
		t.Fatalf("rerun: %v, key %s; want the stored %s", err, again.ReportJSONKey, first.ReportJSONKey)
	}
	in.Threshold = 0.5
	other, err := p.Drift(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if other.ReportJSONKey == first.ReportJSONKey || other.ReportHTMLKey == first.ReportHTMLKey {
		t.Fatalf("another threshold reused %s", first.ReportJSONKey)
	}
	for _, k := range []string{first.ReportJSONKey, other.ReportJSONKey} {
		raw, err := st.Blobs.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		var rep struct {
			Threshold float64 `json:"threshold"`
		}
		if err := json.Unmarshal(raw, &rep); err != nil {
			t.Fatal(err)
		}
		want := 0.02
		if k == other.ReportJSONKey {
			want = 0.5
		}
		if rep.Threshold != want {
			t.Errorf("%s has threshold %v, want %v", k, rep.Threshold, want)
		}
	}
}

// TestIngestBackfillKeepsNewerOnlineFeatures ingests months out of order:
// an older month's dataset is stored, but the online store keeps serving
// the newest month, and a month newer again replaces it.
func TestIngestBackfillKeepsNewerOnlineFeatures(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	months, err := synth.Generate(synth.Config{Users: 300, Months: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	user := months[0].Customers[0].UserID
	onlineAsOf := func() string {
		t.Helper()
		rec, err := st.Features.Get(ctx, user)
		if err != nil {
			t.Fatal(err)
		}
		return rec.AsOf
	}
	asOf := func(i int) string { return months[i].AsOf.Format(snapshot.DateLayout) }

	for _, step := range []struct {
		month      int
		wantOnline string // the as_of the online store serves afterwards
		wantNewer  string // IngestOutput.OnlineNewerAsOf
	}{
		{1, asOf(1), ""},
		{0, asOf(1), asOf(1)}, // a backfill: stored, not materialized
		{0, asOf(1), asOf(1)}, // and again, idempotently
		{2, asOf(2), ""},
	} {
		out, err := pipelinetest.IngestMonth(ctx, p, months[step.month], t.TempDir(), pipeline.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if out.OnlineNewerAsOf != step.wantNewer || (step.wantNewer == "") != (out.OnlineFeatures > 0) {
			t.Fatalf("ingest of %s: online_newer_as_of %q, online_features %d; want %q", out.AsOf, out.OnlineNewerAsOf, out.OnlineFeatures, step.wantNewer)
		}
		if got := onlineAsOf(); got != step.wantOnline {
			t.Fatalf("after ingesting %s the online store serves %s, want %s", out.AsOf, got, step.wantOnline)
		}
	}
	if all, _ := dataset.List(ctx, p.Blobs); !slices.Equal(all, []string{asOf(0), asOf(1), asOf(2)}) {
		t.Fatalf("datasets %v: the backfilled month must be stored", all)
	}
}
