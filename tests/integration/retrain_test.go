//go:build integration

package integration_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/s3store"
)

// servedModel is the model the deployed PredictFunction serves (the
// template's ModelName default).
const servedModel = pipeline.DefaultModelName

// TestRetrainLoop runs the demo's story on the deployed stack, one
// execution per pair of consecutive months, each compared with the local
// executor running the same definition on the same data:
//
//	m0→m1  no Production yet: bootstrap v1 on m0 (promoted over the floor), then no drift
//	m1→m2  feature shift: drift, retrain v2, Production v1 still as good → skipped
//	m2→m3  label shift: drift, retrain v3, beats v1 by far → promoted
//
// After each run it checks the registry in DynamoDB, the drift reports and
// model artifacts in S3 and, after the first and last, POST /predict
// through API Gateway.
func TestRetrainLoop(t *testing.T) {
	f := shared(t)
	local := newLocalLoop(t, f.months, filepath.Join(f.workDir, "local-retrain"))
	remote := dynamo.NewRegistry(f.ddb, f.registryTable)
	blobs := s3store.New(f.s3, f.bucket)
	latest := f.months[len(f.months)-1]

	runs := []struct {
		name        string
		ref, cur    int
		wantOutcome string
		wantPath    []string
		wantStages  map[int]registry.Stage // every version after the run
		wantDecided map[int]string         // decision outcome per version
		newVersions []int                  // versions this run trains
		predict     bool                   // check /predict after the run
	}{
		{
			name: "bootstrap_then_no_drift", ref: 0, cur: 1, wantOutcome: "no_drift",
			wantPath: []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "BootstrapGate", "Bootstrap", "Train", "Evaluate", "PromotionGate",
				"ApprovalGate", "NoApprovalNeeded", "Promote", "PhaseGate", "Bootstrapped", "Drift", "DriftGate", "NoRetrain", "PlanScoring", "ScoringGate", "ScoreShards", "SummarizeScores", "Report", "Done"},
			wantStages:  map[int]registry.Stage{1: registry.StageProduction},
			wantDecided: map[int]string{1: registry.OutcomePromoted},
			newVersions: []int{1},
			predict:     true,
		},
		{
			name: "feature_shift_skipped", ref: 1, cur: 2, wantOutcome: registry.OutcomeSkipped,
			wantPath: []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "BootstrapGate", "Drift", "DriftGate", "Retrain", "Train", "Evaluate",
				"PromotionGate", "Skip", "PhaseGate", "PlanScoring", "ScoringGate", "ScoreShards", "SummarizeScores", "Report", "Done"},
			wantStages:  map[int]registry.Stage{1: registry.StageProduction, 2: registry.StageNone},
			wantDecided: map[int]string{1: registry.OutcomePromoted, 2: registry.OutcomeSkipped},
			newVersions: []int{2},
		},
		{
			name: "label_shift_promoted", ref: 2, cur: 3, wantOutcome: registry.OutcomePromoted,
			wantPath: []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "BootstrapGate", "Drift", "DriftGate", "Retrain", "Train", "Evaluate",
				"PromotionGate", "ApprovalGate", "NoApprovalNeeded", "Promote", "PhaseGate", "PlanScoring", "ScoringGate", "ScoreShards", "SummarizeScores", "Report", "Done"},
			wantStages:  map[int]registry.Stage{1: registry.StageArchived, 2: registry.StageNone, 3: registry.StageProduction},
			wantDecided: map[int]string{1: registry.OutcomePromoted, 2: registry.OutcomeSkipped, 3: registry.OutcomePromoted},
			newVersions: []int{3},
			predict:     true,
		},
	}
	for i, r := range runs {
		ran := false // the emulator's execution succeeded: later runs can build on it
		t.Run(r.name, func(t *testing.T) {
			ref, cur := f.months[r.ref].AsOf, f.months[r.cur].AsOf
			in := executionInput(servedModel, ref, cur)
			want := local.run(t, fmt.Sprintf("local-%d", i+1), in)
			t.Logf("local executor: %s", want.describe())
			got := f.runExecution(t, f.executionName(fmt.Sprintf("run%d", i+1)), in)
			t.Logf("emulator:       %s [%v]", got.describe(), got.Wall)
			f.record(fmt.Sprintf("execution %d %s (%s vs %s)", i+1, r.name, cur, ref), got.Wall)

			if got.Status != "SUCCEEDED" {
				t.Fatalf("execution on the emulator did not succeed: %s", got.describe())
			}
			ran = true
			if !slices.Equal(got.Path, r.wantPath) {
				t.Errorf("emulator path:\n got %v\nwant %v", got.Path, r.wantPath)
			}
			gs := got.state(t)
			if gs.Outcome() != r.wantOutcome {
				t.Errorf("emulator outcome %q, want %q", gs.Outcome(), r.wantOutcome)
				if want.Status == "SUCCEEDED" && want.state(t).Outcome() == gs.Outcome() {
					t.Errorf("the local executor decides %q too: the generated months no longer tell the story "+
						"(a model or generator change moved the AUCs); pick another synthSeed with `churnops demo --users %d --seed N`",
						gs.Outcome(), synthUsers)
				}
			}
			// Identical definitions on identical data decide identically.
			if want.Status != "SUCCEEDED" {
				t.Errorf("the local executor did not succeed on the same input: %s", want.describe())
			} else {
				if !slices.Equal(got.Path, want.Path) {
					t.Errorf("emulator and local executor took different paths:\nemulator %v\nlocal    %v", got.Path, want.Path)
				}
				compareStates(t, gs, want.state(t))
			}
			if gs.Drift == nil {
				t.Fatalf("no drift result in the output: %s", got.Output)
			}
			if gs.Drift.ReferenceAsOf != ref || gs.Drift.CurrentAsOf != cur {
				t.Errorf("drift compared %s vs %s, want %s vs %s", gs.Drift.CurrentAsOf, gs.Drift.ReferenceAsOf, cur, ref)
			}

			checkRegistry(t, remote, r.wantStages, r.wantDecided)
			compareRegistries(t, remote, local.state.Registry)
			checkDriftReport(t, blobs, ref, cur, gs)
			for _, v := range r.newVersions {
				checkArtifacts(t, blobs, local.state.Blobs, v)
			}
			if r.predict {
				prod, err := remote.Production(t.Context(), servedModel)
				if err != nil {
					t.Fatalf("Production: %v", err)
				}
				f.checkPredict(t, prod.Version, latest)
			}
		})
		if !ran {
			t.Fatalf("stopping after %s: the later runs build on its registry state", r.name)
		}
	}
	// TestUploadedMonth goes on from here: the next month arrives.
	f.mu.Lock()
	f.retrained = filepath.Join(f.workDir, "local-retrain")
	f.mu.Unlock()
}

// compareStates compares the values the gates decided on, emulator against
// local executor.
func compareStates(t *testing.T, got, want pipeline.ExecutionState) {
	t.Helper()
	if got.Outcome() != want.Outcome() {
		t.Errorf("outcome: emulator %q, local %q", got.Outcome(), want.Outcome())
	}
	if (got.Drift == nil) != (want.Drift == nil) {
		t.Fatalf("drift result present: emulator %v, local %v", got.Drift != nil, want.Drift != nil)
	}
	if got.Drift != nil {
		if !sameFloat(got.Drift.DriftShare, want.Drift.DriftShare) || !slices.Equal(got.Drift.Drifted, want.Drift.Drifted) {
			t.Errorf("drift: emulator %v %v, local %v %v", got.Drift.DriftShare, got.Drift.Drifted, want.Drift.DriftShare, want.Drift.Drifted)
		}
	}
	if (got.Candidate == nil) != (want.Candidate == nil) {
		t.Fatalf("candidate present: emulator %v, local %v", got.Candidate != nil, want.Candidate != nil)
	}
	if got.Candidate != nil && (got.Candidate.Version != want.Candidate.Version || !sameFloat(got.Candidate.ValAUC, want.Candidate.ValAUC)) {
		t.Errorf("candidate: emulator v%d AUC %v, local v%d AUC %v", got.Candidate.Version, got.Candidate.ValAUC, want.Candidate.Version, want.Candidate.ValAUC)
	}
	if (got.Production == nil) != (want.Production == nil) {
		t.Fatalf("production result present: emulator %v, local %v", got.Production != nil, want.Production != nil)
	}
	if got.Production != nil && (got.Production.Version != want.Production.Version || !sameFloat(got.Production.ValAUC, want.Production.ValAUC) || !sameFloat(got.Production.Bar, want.Production.Bar)) {
		t.Errorf("production: emulator %+v, local %+v", *got.Production, *want.Production)
	}
}

// checkRegistry checks every version's stage and decision in DynamoDB, and
// that exactly one version is Production.
func checkRegistry(t *testing.T, reg registry.Registry, stages map[int]registry.Stage, decided map[int]string) {
	t.Helper()
	vs, err := reg.List(t.Context(), servedModel)
	if err != nil {
		t.Fatalf("registry List: %v", err)
	}
	if len(vs) != len(stages) {
		t.Errorf("registry holds %d versions, want %d: %v", len(vs), len(stages), versionsString(vs))
	}
	production := 0
	for _, v := range vs {
		if v.Stage != stages[v.Version] {
			t.Errorf("v%d stage %q, want %q", v.Version, v.Stage, stages[v.Version])
		}
		if v.Decision == nil || v.Decision.Outcome != decided[v.Version] {
			t.Errorf("v%d decision %+v, want outcome %q", v.Version, v.Decision, decided[v.Version])
		}
		if v.Stage == registry.StageProduction {
			production = v.Version
		}
	}
	p, err := reg.Production(t.Context(), servedModel)
	if err != nil || p.Version != production {
		t.Errorf("Production() = v%d, %v; want v%d (the version whose stage is Production)", p.Version, err, production)
	}
}

// compareRegistries compares the registry the Lambda functions wrote with
// the one the local executor wrote.
func compareRegistries(t *testing.T, remote, local registry.Registry) {
	t.Helper()
	rv, err := remote.List(t.Context(), servedModel)
	if err != nil {
		t.Fatalf("remote registry List: %v", err)
	}
	lv, err := local.List(t.Context(), servedModel)
	if err != nil {
		t.Fatalf("local registry List: %v", err)
	}
	if len(rv) != len(lv) {
		t.Fatalf("registry: emulator %s, local %s", versionsString(rv), versionsString(lv))
	}
	for i := range rv {
		r, l := rv[i], lv[i]
		if r.Version != l.Version || r.Stage != l.Stage || r.AsOf != l.AsOf || r.DataFingerprint != l.DataFingerprint || r.ArtifactKey != l.ArtifactKey {
			t.Errorf("registry version: emulator %+v\nlocal %+v", r, l)
			continue
		}
		if !sameFloat(r.Metrics["val_auc"], l.Metrics["val_auc"]) {
			t.Errorf("v%d val_auc: emulator %v, local %v", r.Version, r.Metrics["val_auc"], l.Metrics["val_auc"])
		}
		rd, ld := r.Decision, l.Decision
		if (rd == nil) != (ld == nil) {
			t.Errorf("v%d decision: emulator %+v, local %+v", r.Version, rd, ld)
			continue
		}
		if rd != nil && (rd.Outcome != ld.Outcome || rd.ProductionVersion != ld.ProductionVersion ||
			!sameFloat(rd.Bar, ld.Bar) || !sameFloat(rd.CandidateAUC, ld.CandidateAUC) || !sameFloat(rd.ProductionAUC, ld.ProductionAUC)) {
			t.Errorf("v%d decision: emulator %+v\nlocal %+v", r.Version, *rd, *ld)
		}
	}
}

func versionsString(vs []registry.Version) string {
	var parts []string
	for _, v := range vs {
		outcome := ""
		if v.Decision != nil {
			outcome = v.Decision.Outcome
		}
		parts = append(parts, fmt.Sprintf("v%d %s %s %s", v.Version, v.Stage, v.AsOf, outcome))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// checkDriftReport reads the run's drift reports from S3: the JSON report
// must carry the drift share the DriftGate compared, the HTML report must
// name every column.
func checkDriftReport(t *testing.T, blobs blob.Store, ref, cur string, s pipeline.ExecutionState) {
	t.Helper()
	jsonKey, htmlKey := pipeline.DriftReportKey(ref, cur, "json"), pipeline.DriftReportKey(ref, cur, "html")
	if s.Drift.ReportJSONKey != jsonKey || s.Drift.ReportHTMLKey != htmlKey {
		t.Errorf("report keys %q, %q; want %q, %q", s.Drift.ReportJSONKey, s.Drift.ReportHTMLKey, jsonKey, htmlKey)
	}
	data, err := blobs.Get(t.Context(), jsonKey)
	if err != nil {
		t.Fatalf("drift JSON report: %v", err)
	}
	var rep drift.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("drift JSON report %s: %v", jsonKey, err)
	}
	if rep.DriftShare != s.Drift.DriftShare || rep.DriftedColumns != s.Drift.DriftedColumns || len(rep.Columns) != s.Drift.Columns {
		t.Errorf("JSON report: drift_share %v, %d/%d drifted; the execution compared %v, %d/%d",
			rep.DriftShare, rep.DriftedColumns, len(rep.Columns), s.Drift.DriftShare, s.Drift.DriftedColumns, s.Drift.Columns)
	}
	if len(rep.Columns) == 0 {
		t.Fatalf("JSON report %s has no columns", jsonKey)
	}
	var drifted []string
	for _, c := range rep.Columns {
		if c.Drifted {
			drifted = append(drifted, c.Column)
		}
	}
	if !sameSet(drifted, s.Drift.Drifted) {
		t.Errorf("JSON report drifted columns %v, execution %v", drifted, s.Drift.Drifted)
	}
	html, err := blobs.Get(t.Context(), htmlKey)
	if err != nil {
		t.Fatalf("drift HTML report: %v", err)
	}
	if !strings.Contains(strings.ToLower(string(html[:min(len(html), 200)])), "<!doctype html") {
		t.Errorf("HTML report %s does not start as an HTML document: %.100q", htmlKey, html)
	}
	for _, c := range rep.Columns {
		if !strings.Contains(string(html), c.Column) {
			t.Errorf("HTML report %s does not mention column %s", htmlKey, c.Column)
		}
	}
}

// checkArtifacts checks a trained version's files in S3: the artifact the
// registry points at, its metrics, and validation predictions identical to
// those of the same training on the local executor.
func checkArtifacts(t *testing.T, remote, local blob.Store, version int) {
	t.Helper()
	prefix := fmt.Sprintf("models/%s/v%d/", servedModel, version)
	keys, err := remote.List(t.Context(), prefix)
	if err != nil {
		t.Fatalf("list %s: %v", prefix, err)
	}
	want := []string{prefix + "metrics.json", prefix + "model.json", prefix + "val_predictions.csv"}
	slices.Sort(keys)
	if !slices.Equal(keys, want) {
		t.Errorf("S3 under %s: %v, want %v", prefix, keys, want)
	}
	for _, name := range []string{"model.json", "metrics.json"} {
		data, err := remote.Get(t.Context(), pipeline.ModelKey(servedModel, version, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if len(data) == 0 || !json.Valid(data) {
			t.Errorf("%s%s is not a JSON document (%d bytes)", prefix, name, len(data))
		}
	}
	key := pipeline.ModelKey(servedModel, version, "val_predictions.csv")
	got, err := remote.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	wantPreds, err := local.Get(t.Context(), key)
	if errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("the local executor trained no v%d", version)
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(wantPreds) {
		t.Errorf("%s differs from the local executor's (%d vs %d bytes): training on Lambda is not the same computation", key, len(got), len(wantPreds))
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
