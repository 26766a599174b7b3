package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

type driftIn struct {
	AsOf      string  `json:"as_of"`
	Threshold float64 `json:"threshold"`
}

type driftOut struct {
	DriftShare float64 `json:"drift_share"`
}

func TestLambdaInvokeAndDirectLambda(t *testing.T) {
	tests := []struct {
		name string
		subs map[string]string
		keys [3]string // handler keys for drift, train, notify
	}{
		{
			name: "SAM-style ARNs dispatch by function name",
			subs: map[string]string{
				"DriftFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:churnops-drift",
				"TrainFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:churnops-train:live",
			},
			keys: [3]string{"churnops-drift", "churnops-train", "notify"},
		},
		{
			name: "plain names",
			subs: map[string]string{"DriftFunctionArn": "drift", "TrainFunctionArn": "train"},
			keys: [3]string{"drift", "train", "notify"},
		},
		{
			name: "exact ARNs as keys",
			subs: map[string]string{
				"DriftFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:d",
				"TrainFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:t",
			},
			keys: [3]string{"arn:aws:lambda:eu-west-1:123456789012:function:d", "arn:aws:lambda:eu-west-1:123456789012:function:t",
				"arn:aws:lambda:eu-west-1:123456789012:function:notify"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got driftIn
			var trainIn, notifyIn []string
			h := asl.Handlers{
				tc.keys[0]: asl.NewHandler(func(_ context.Context, in driftIn) (driftOut, error) {
					got = in
					return driftOut{DriftShare: 0.25}, nil
				}),
				tc.keys[1]: record(&trainIn, (&static{out: `{"version": 3}`}).handle),
				tc.keys[2]: record(&notifyIn, (&static{out: `{"sent": true}`}).handle),
			}
			r, _ := newRunner(load(t, "lambda.asl.json", tc.subs), h)
			ex := run(t, r, `{"as_of": "2024-03-31", "notify_function": "`+tc.keys[2]+`"}`)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			if got != (driftIn{AsOf: "2024-03-31", Threshold: 0.02}) {
				t.Errorf("drift received %+v: lambda:invoke must pass Parameters.Payload", got)
			}
			// A direct Lambda ARN receives the effective input itself.
			assertJSON(t, json.RawMessage(trainIn[0]), `{"as_of": "2024-03-31", "share": 0.25}`)
			// FunctionName.$ computed at run time; OutputPath $.Payload unwraps.
			assertJSON(t, json.RawMessage(notifyIn[0]), `{"version": 3}`)
			assertJSON(t, ex.Output, `{"sent": true}`)
			var wrapped map[string]any
			for _, e := range findEvents(ex.History, asl.EventTaskSucceeded) {
				if e.State == "Drift" {
					if err := json.Unmarshal(e.Output, &wrapped); err != nil {
						t.Fatal(err)
					}
				}
			}
			if wrapped["StatusCode"] != 200.0 || wrapped["ExecutedVersion"] != "$LATEST" {
				t.Errorf("lambda:invoke result %v lacks the AWS wrapping", wrapped)
			}
			if p, _ := wrapped["Payload"].(map[string]any); p["drift_share"] != 0.25 {
				t.Errorf("Payload = %v", wrapped["Payload"])
			}
		})
	}
}

func TestMissingHandlers(t *testing.T) {
	m := load(t, "lambda.asl.json", map[string]string{"DriftFunctionArn": "drift", "TrainFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:train"})
	ok := (&static{out: `{}`}).handle
	drift := (&static{out: `{"drift_share": 0.1}`}).handle
	tests := []struct {
		name      string
		handlers  asl.Handlers
		input     string
		wantErr   []string // Go error from Run
		wantError string   // or execution error
	}{
		{
			name:     "static resources are checked before running",
			handlers: asl.Handlers{"drift": drift},
			wantErr:  []string{`state "Train"`, `no handler for resource "arn:aws:lambda:us-east-1:123456789012:function:train"`, `"train"`},
		},
		{
			name:     "every missing handler is reported",
			handlers: asl.Handlers{},
			wantErr:  []string{`state "Drift"`, `"drift"`, `state "Train"`},
		},
		{
			name:      "a FunctionName computed at run time fails like Lambda does",
			handlers:  asl.Handlers{"drift": drift, "train": ok},
			input:     `{"as_of": "x", "notify_function": "nobody"}`,
			wantError: asl.ErrorLambdaResourceNotFound,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(m, tc.handlers)
			input := tc.input
			if input == "" {
				input = `{}`
			}
			ex, err := r.Run(context.Background(), "", json.RawMessage(input))
			if tc.wantErr != nil {
				var mh *asl.MissingHandlerError
				if !errors.As(err, &mh) {
					t.Fatalf("err = %v, want a *MissingHandlerError", err)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error does not mention %s:\n%v", w, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			assertStatus(t, ex, asl.StatusFailed, tc.wantError)
			if !strings.Contains(ex.Cause, "nobody") {
				t.Errorf("cause %q should name the function", ex.Cause)
			}
		})
	}
}

func TestRunRejectsInvalidInput(t *testing.T) {
	r, _ := newRunner(load(t, "parameters_example.asl.json", nil), nil)
	if _, err := r.Run(context.Background(), "", json.RawMessage(`{"unterminated":`)); err == nil {
		t.Fatal("Run accepted invalid JSON input")
	}
	ex, err := r.Run(context.Background(), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	// An empty input is {} as on AWS, so the Parameters path is missing.
	assertStatus(t, ex, asl.StatusFailed, asl.ErrorRuntime)
	if ex.Name == "" {
		t.Error("an unnamed execution should get a generated name")
	}
}
