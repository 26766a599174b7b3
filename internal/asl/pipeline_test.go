package asl_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

type SnapshotNotFoundError struct{ AsOf string }

func (e *SnapshotNotFoundError) Error() string { return "no snapshot for " + e.AsOf }

// TestPipelineLikeMachine runs the shape of the retraining loop end to
// end: gates, typed errors caught into Fail states, and the approval
// callback, with SAM-style substitutions.
func TestPipelineLikeMachine(t *testing.T) {
	subs := map[string]string{
		"DriftFunctionArn":   "arn:aws:lambda:eu-west-1:123456789012:function:churnops-drift",
		"TrainFunctionArn":   "arn:aws:lambda:eu-west-1:123456789012:function:churnops-train",
		"CompareFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:churnops-compare",
	}
	m := load(t, "pipeline.asl.json", subs)
	type compareIn struct {
		Action  string `json:"action"`
		Version int    `json:"candidate_version"`
		Token   string `json:"task_token"`
	}
	tests := []struct {
		name       string
		input      string
		driftErr   error
		trainErr   error
		share      float64
		wantStatus asl.Status
		wantError  string
		wantCause  string
		wantAction []string // compare actions, in order
		approve    bool
	}{
		{name: "no drift", input: `{"current_as_of": "2024-03-31", "threshold": 0.3}`, share: 0.1,
			wantStatus: asl.StatusSucceeded},
		{name: "first run bootstraps a Production model", input: `{"current_as_of": "2024-03-31", "threshold": 0.02}`, share: 0.1,
			wantStatus: asl.StatusSucceeded, wantAction: []string{"promote"}},
		{name: "candidate below the bar is skipped", input: `{"current_as_of": "2024-03-31", "threshold": 0.02, "production": {"bar": 0.9}}`, share: 0.1,
			wantStatus: asl.StatusSucceeded, wantAction: []string{"skip"}},
		{name: "approval then promotion", input: `{"current_as_of": "2024-03-31", "threshold": 0.02, "require_approval": true}`, share: 0.1,
			approve: true, wantStatus: asl.StatusSucceeded, wantAction: []string{"request_approval", "promote"}},
		{name: "missing snapshot ends in its Fail state", input: `{"current_as_of": "2024-03-31", "threshold": 0.02}`,
			driftErr: &SnapshotNotFoundError{AsOf: "2024-03-31"}, wantStatus: asl.StatusFailed, wantError: "SnapshotNotFoundError",
			wantCause: `{"errorMessage":"no snapshot for 2024-03-31","errorType":"SnapshotNotFoundError"}`},
		{name: "a wrapped error reaches PipelineFailed as wrapError", input: `{"current_as_of": "2024-03-31", "threshold": 0.02}`, share: 0.5,
			trainErr: fmt.Errorf("train: %w", &SnapshotNotFoundError{AsOf: "x"}), wantStatus: asl.StatusFailed, wantError: "wrapError",
			wantCause: `{"errorMessage":"train: no snapshot for x","errorType":"wrapError"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var actions []string
			h := asl.Handlers{
				"churnops-drift": asl.NewHandler(func(context.Context, struct{}) (map[string]float64, error) {
					if tc.driftErr != nil {
						return nil, tc.driftErr
					}
					return map[string]float64{"drift_share": tc.share}, nil
				}),
				"churnops-train": asl.NewHandler(func(context.Context, struct{}) (map[string]any, error) {
					if tc.trainErr != nil {
						return nil, tc.trainErr
					}
					return map[string]any{"version": 7, "metrics": map[string]float64{"val_auc": 0.8}}, nil
				}),
				"churnops-compare": asl.NewHandler(func(_ context.Context, in compareIn) (map[string]string, error) {
					actions = append(actions, in.Action)
					if in.Version != 7 {
						return nil, fmt.Errorf("candidate %d, want 7", in.Version)
					}
					return map[string]string{"decision": in.Action}, nil
				}),
			}
			r, _ := newRunner(m, h)
			ex := run(t, r, tc.input)
			if tc.approve {
				if ex.Status != asl.StatusPaused {
					t.Fatalf("status %s, want PAUSED for approval", ex.Status)
				}
				var err error
				if ex, err = r.Resume(context.Background(), ex.Checkpoint, json.RawMessage(`{"approved": true}`)); err != nil {
					t.Fatal(err)
				}
			}
			if ex.Status != tc.wantStatus || ex.Error != tc.wantError {
				t.Fatalf("status %s error %q (%s), want %s %q", ex.Status, ex.Error, ex.Cause, tc.wantStatus, tc.wantError)
			}
			if tc.wantCause != "" && ex.Cause != tc.wantCause {
				t.Errorf("cause %q, want %q", ex.Cause, tc.wantCause)
			}
			if fmt.Sprint(actions) != fmt.Sprint(tc.wantAction) {
				t.Errorf("compare actions %v, want %v", actions, tc.wantAction)
			}
		})
	}
}
