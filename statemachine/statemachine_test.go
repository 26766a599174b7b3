package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

// world is what the fake functions answer: the numbers the gates compare.
type world struct {
	hasProduction bool
	driftShare    float64
	candidateAUC  float64 // every candidate's val_auc
	prodAUC       float64
	failTrain     string            // error type name Train returns, if any
	failIngest    map[string]string // error type name an ingest action returns
}

// fakeErr is a typed error whose name the ASL matches.
type fakeErr struct{ name string }

func (e fakeErr) Error() string     { return e.name + " from a fake function" }
func (e fakeErr) ErrorName() string { return e.name }

// The months the fake CheckProduction resolves "previous" and "latest" to.
const fakePrevious, fakeLatest = "2024-02-29", "2024-03-31"

func resolve(asOf string) string {
	switch asOf {
	case "previous":
		return fakePrevious
	case "latest":
		return fakeLatest
	}
	return asOf
}

// trained and compared record the months the fake Train and Drift were
// given, in order, during the last run; ingested, scored and reported the
// actions of the fake Ingest, Score and Report functions; trainEvents the
// events Train got.
var (
	trained, compared          []string
	ingested, scored, reported *calls
	trainEvents                []map[string]any
)

// run executes the real definition with fake functions and returns the
// execution and the compare actions taken, in order.
func run(t *testing.T, w world, input map[string]any) (*asl.Execution, []string) {
	t.Helper()
	m := machine(t)
	var actions []string
	version := 0
	trained, compared, trainEvents = nil, nil, nil
	ingested, scored, reported = &calls{}, &calls{}, &calls{}
	js := func(v any) json.RawMessage { b, _ := json.Marshal(v); return b }
	h := asl.Handlers{
		"drift": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var ev map[string]any
			_ = json.Unmarshal(in, &ev)
			compared = append(compared, fmt.Sprint(ev["reference_as_of"], " ", ev["current_as_of"]))
			return js(map[string]any{"reference_as_of": ev["reference_as_of"], "current_as_of": ev["current_as_of"],
				"drift_share": w.driftShare, "drifted_columns": 1, "columns": 15, "drifted": []string{"watch_hours_30d"},
				"report_json_key": "r.json", "report_html_key": "r.html"}), nil
		},
		"train": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var ev struct {
				AsOf string `json:"as_of"`
			}
			_ = json.Unmarshal(in, &ev)
			trained = append(trained, ev.AsOf)
			trainEvents = append(trainEvents, decode(in))
			if w.failTrain != "" {
				return nil, fakeErr{w.failTrain}
			}
			version++
			return js(map[string]any{"version": version, "artifact_key": "k", "val_predictions_key": "p",
				"metrics": map[string]any{"val_auc": w.candidateAUC}}), nil
		},
		"evaluate": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var ev struct {
				Delta  float64 `json:"delta"`
				MinAUC float64 `json:"min_auc"`
				Ref    string  `json:"reference_as_of"`
				Cur    string  `json:"current_as_of"`
			}
			_ = json.Unmarshal(in, &ev)
			out := map[string]any{"has_production": false, "version": 0, "val_auc": 0, "bar": ev.MinAUC}
			if w.hasProduction {
				out = map[string]any{"has_production": true, "version": 1, "val_auc": w.prodAUC, "bar": w.prodAUC + ev.Delta}
			}
			if ev.Ref != "" { // CheckProduction resolves the months
				out["reference_as_of"], out["current_as_of"] = resolve(ev.Ref), resolve(ev.Cur)
			}
			return js(out), nil
		},
		"compare": func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var ev struct {
				Action string `json:"action"`
			}
			_ = json.Unmarshal(in, &ev)
			actions = append(actions, ev.Action)
			if ev.Action == "promote" {
				w.hasProduction, w.prodAUC = true, w.candidateAUC
			}
			return js(map[string]any{"action": ev.Action, "outcome": ev.Action}), nil
		},
		"ingest": fakeIngest(ingested, w.failIngest),
		"score":  fakeScore(scored, func() (int, bool) { return 1, w.hasProduction }),
		"report": fakeReport(reported),
	}
	in := map[string]any{"model_name": "churn", "reference_as_of": "2024-01-31", "current_as_of": "2024-02-29",
		"threshold": 0.02, "delta": 0.01, "min_auc": 0.7, "require_approval": false, "seed": 42}
	for k, v := range input {
		if v == nil {
			delete(in, k) // absent from the input, as from EventBridge's
			continue
		}
		in[k] = v
	}
	r := &asl.Runner{Machine: m, Handlers: h}
	exec, err := r.Run(t.Context(), "", js(in))
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if exec.Status == asl.StatusPaused {
		actions = append(actions, "paused")
	}
	return exec, actions
}

func TestGates(t *testing.T) {
	tests := []struct {
		name        string
		w           world
		input       map[string]any
		wantStatus  asl.Status
		wantActions []string
		wantError   string
	}{
		{"drift above threshold, candidate beats prod+delta: promote",
			world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.85, prodAUC: 0.80}, nil,
			asl.StatusSucceeded, []string{"promote"}, ""},
		{"drift above threshold, candidate within delta: skip",
			world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.805, prodAUC: 0.80}, nil,
			asl.StatusSucceeded, []string{"skip"}, ""},
		{"equal AUC is not better: skip",
			world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.80, prodAUC: 0.80}, map[string]any{"delta": 0.0},
			asl.StatusSucceeded, []string{"skip"}, ""},
		{"drift share exactly at threshold retrains",
			world{hasProduction: true, driftShare: 0.02, candidateAUC: 0.9, prodAUC: 0.8}, nil,
			asl.StatusSucceeded, []string{"promote"}, ""},
		{"no drift: no retrain, no compare",
			world{hasProduction: true, driftShare: 0.0, candidateAUC: 0.9, prodAUC: 0.8}, nil,
			asl.StatusSucceeded, nil, ""},
		{"just below threshold: no retrain",
			world{hasProduction: true, driftShare: 0.0199, candidateAUC: 0.9, prodAUC: 0.8}, nil,
			asl.StatusSucceeded, nil, ""},
		{"first run: bootstrap from the reference month, then drift check (no drift)",
			world{driftShare: 0, candidateAUC: 0.8}, nil,
			asl.StatusSucceeded, []string{"promote"}, ""},
		{"first run: bootstrap then drift: candidate equal to new prod skips",
			world{driftShare: 0.5, candidateAUC: 0.8}, nil,
			asl.StatusSucceeded, []string{"promote", "skip"}, ""},
		{"first run below the floor: nothing promoted",
			world{driftShare: 0.5, candidateAUC: 0.6}, nil,
			asl.StatusSucceeded, []string{"skip", "skip"}, ""},
		{"approval required: pauses before promoting",
			world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.85, prodAUC: 0.80}, map[string]any{"require_approval": true},
			asl.StatusPaused, []string{"request_approval", "paused"}, ""},
		{"approval required but skip needs no approval",
			world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.80, prodAUC: 0.80}, map[string]any{"require_approval": true},
			asl.StatusSucceeded, []string{"skip"}, ""},
		{"missing snapshot fails with its own name",
			world{hasProduction: true, driftShare: 0.2, failTrain: "SnapshotNotFoundError"}, nil,
			asl.StatusFailed, nil, "SnapshotNotFoundError"},
		{"any other error fails the execution with the function's error name",
			world{hasProduction: true, driftShare: 0.2, failTrain: "InternalError"}, nil,
			asl.StatusFailed, nil, "InternalError"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			exec, actions := run(t, tc.w, tc.input)
			if exec.Status != tc.wantStatus {
				t.Fatalf("status %s (%s: %s), want %s", exec.Status, exec.Error, exec.Cause, tc.wantStatus)
			}
			if !slices.Equal(actions, tc.wantActions) {
				t.Errorf("actions %v, want %v", actions, tc.wantActions)
			}
			if tc.wantError != "" && exec.Error != tc.wantError {
				t.Errorf("error %q, want %q", exec.Error, tc.wantError)
			}
		})
	}
}

// TestMonthsResolvedOnce (#13 defect 6): the monthly schedule's input
// ("previous", "latest") is resolved by the first state, and every later
// state — the bootstrap's Train on a state with no Production model as well
// as Drift — gets dates, never the symbols.
func TestMonthsResolvedOnce(t *testing.T) {
	schedule := map[string]any{"reference_as_of": "previous", "current_as_of": "latest"}
	for _, tc := range []struct {
		name        string
		w           world
		wantTrained []string
	}{
		{"no Production model: bootstrap on the previous month, then retrain on the latest",
			world{driftShare: 0.5, candidateAUC: 0.8}, []string{fakePrevious, fakeLatest}},
		{"a Production model: retrain on the latest month",
			world{hasProduction: true, driftShare: 0.5, candidateAUC: 0.9, prodAUC: 0.8}, []string{fakeLatest}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec, _ := run(t, tc.w, schedule)
			if exec.Status != asl.StatusSucceeded {
				t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
			}
			if !slices.Equal(trained, tc.wantTrained) {
				t.Errorf("Train got as_of %q, want %q", trained, tc.wantTrained)
			}
			if want := []string{fakePrevious + " " + fakeLatest}; !slices.Equal(compared, want) {
				t.Errorf("Drift got %q, want %q", compared, want)
			}
		})
	}
}

// TestApproval resumes a paused execution as `churnops registry
// approve|reject` does and checks where it goes.
func TestApproval(t *testing.T) {
	for _, tc := range []struct {
		name    string
		approve bool
		want    string
	}{{"approved promotes", true, "promote"}, {"rejected rejects", false, "reject"}} {
		t.Run(tc.name, func(t *testing.T) {
			w := world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.85, prodAUC: 0.80}
			m := machine(t)
			var actions []string
			js := func(s string) json.RawMessage { return json.RawMessage(s) }
			h := asl.Handlers{
				"ingest": fakeIngest(nil, nil), "score": fakeScore(nil, nil), "report": fakeReport(nil),
				"drift": func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return js(fmt.Sprintf(`{"reference_as_of":"a","current_as_of":"b","drift_share":%v,"drifted_columns":3,"columns":15,"drifted":["a","b","c"],"report_json_key":"x","report_html_key":"y"}`, w.driftShare)), nil
				},
				"train": func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return js(fmt.Sprintf(`{"version":2,"artifact_key":"k","val_predictions_key":"p","metrics":{"val_auc":%v}}`, w.candidateAUC)), nil
				},
				"evaluate": func(context.Context, json.RawMessage) (json.RawMessage, error) {
					return js(fmt.Sprintf(`{"has_production":true,"version":1,"val_auc":%v,"bar":%v,"reference_as_of":"a","current_as_of":"b"}`, w.prodAUC, w.prodAUC+0.01)), nil
				},
				"compare": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					var ev map[string]any
					_ = json.Unmarshal(in, &ev)
					actions = append(actions, ev["action"].(string))
					if tok, _ := ev["task_token"].(string); ev["action"] == "request_approval" && tok == "" {
						t.Error("request_approval without a task token")
					}
					return js(`{"outcome":"ok"}`), nil
				},
			}
			r := &asl.Runner{Machine: m, Handlers: h}
			exec, err := r.Run(t.Context(), "x", js(`{"model_name":"churn","reference_as_of":"a","current_as_of":"b","threshold":0.02,"delta":0.01,"min_auc":0.7,"require_approval":true,"seed":1}`))
			if err != nil || exec.Status != asl.StatusPaused {
				t.Fatalf("run: %v, status %v %s %s", err, exec.Status, exec.Error, exec.Cause)
			}
			if exec.Checkpoint.Token == "" {
				t.Fatal("paused without a token")
			}
			if tc.approve {
				exec, err = r.Resume(t.Context(), exec.Checkpoint, js(`{"approved":true}`))
			} else {
				exec, err = r.ResumeFailure(t.Context(), exec.Checkpoint, "ApprovalRejected", "no")
			}
			if err != nil || exec.Status != asl.StatusSucceeded {
				t.Fatalf("resume: %v, status %v %s %s", err, exec.Status, exec.Error, exec.Cause)
			}
			want := []string{"request_approval", tc.want}
			if !slices.Equal(actions, want) {
				t.Errorf("actions %v, want %v", actions, want)
			}
		})
	}
}
