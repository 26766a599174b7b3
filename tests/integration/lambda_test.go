//go:build integration

package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// boundaryProbes invoke each retraining function once cold and once warm,
// straight after the deploy, with events that need no data: their timings
// are the cold-start figures, and their results show what the state
// machine's Catch clauses match on — the Go type name of a typed error.
// (PredictFunction's cold start is measured through API Gateway by
// TestRetrainLoop: invoking it here would warm it before a model exists.)
var boundaryProbes = []probe{
	{"DriftFunction", `{"threshold": 0.02}`, "InvalidInputError", "reference_as_of is required"},
	{"TrainFunction", `{"as_of": "2024-01-31", "seed": 42}`, "InvalidInputError", "model_name is required"},
	{"EvaluateFunction", `{"model_name": "boundary-probe", "delta": 0.01, "min_auc": 0.7}`, "", `"has_production":false`},
	{"CompareFunction", `{"action": "promote"}`, "InvalidInputError", "candidate_version are required"},
}

// probe is one boundary probe.
type probe struct {
	function      string // logical ID in template.yaml
	payload       string
	wantErrorType string // "" for success
	wantInPayload string
}

// coldStart is one function's first and second invocation.
type coldStart struct {
	function   string
	cold, warm time.Duration
	results    [2]invokeResult
	err        error
}

type invokeResult struct {
	ErrorType string
	Payload   string
}

// probeColdStarts runs boundaryProbes; TestLambdaBoundary checks the results.
func (f *fixture) probeColdStarts(ctx context.Context) {
	for _, p := range boundaryProbes {
		c := coldStart{function: p.function}
		for i, d := range []*time.Duration{&c.cold, &c.warm} {
			start := time.Now()
			c.results[i], c.err = f.invoke(ctx, f.functions[p.function], p.payload)
			*d = time.Since(start)
			if c.err != nil {
				break
			}
		}
		f.coldStart = append(f.coldStart, c)
	}
}

// invoke calls a function synchronously and returns its result payload and,
// for a function error, its errorType.
func (f *fixture) invoke(ctx context.Context, name, payload string) (invokeResult, error) {
	out, err := f.lambda.Invoke(ctx, &lambda.InvokeInput{FunctionName: aws.String(name), Payload: []byte(payload)})
	if err != nil {
		return invokeResult{}, fmt.Errorf("invoke %s: %w", name, err)
	}
	r := invokeResult{Payload: string(out.Payload)}
	if out.FunctionError != nil {
		var e struct {
			ErrorType string `json:"errorType"`
		}
		if err := json.Unmarshal(out.Payload, &e); err != nil || e.ErrorType == "" {
			return r, fmt.Errorf("invoke %s: function error %q with payload %s", name, aws.ToString(out.FunctionError), out.Payload)
		}
		r.ErrorType = e.ErrorType
	}
	return r, nil
}

// TestLambdaBoundary: the deployed binaries start, answer, and report typed
// errors by their Go type name (not aws-lambda-go's "wrapError"), which is
// what the ASL's Catch clauses and Retry rules match.
func TestLambdaBoundary(t *testing.T) {
	f := shared(t)
	for _, c := range f.coldStart {
		t.Run(c.function, func(t *testing.T) {
			if c.err != nil {
				t.Fatalf("%v", c.err)
			}
			i := slices.IndexFunc(boundaryProbes, func(p probe) bool { return p.function == c.function })
			want := boundaryProbes[i]
			for i, r := range c.results {
				if r.ErrorType != want.wantErrorType {
					t.Errorf("invocation %d: errorType %q, want %q (payload %s)", i+1, r.ErrorType, want.wantErrorType, r.Payload)
				}
				if compact := strings.ReplaceAll(r.Payload, " ", ""); !strings.Contains(compact, strings.ReplaceAll(want.wantInPayload, " ", "")) {
					t.Errorf("invocation %d: payload %s does not contain %s", i+1, r.Payload, want.wantInPayload)
				}
			}
			t.Logf("first invoke %v, second %v", c.cold.Round(time.Millisecond), c.warm.Round(time.Millisecond))
		})
	}
	if len(f.coldStart) != len(boundaryProbes) {
		t.Errorf("%d probes ran, want %d", len(f.coldStart), len(boundaryProbes))
	}
}
