package asl_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

// hello is the AWS docs' HelloFunction: "Hello, <who>!".
var hello = asl.NewHandler(func(_ context.Context, in struct {
	Who string `json:"who"`
}) (string, error) {
	return "Hello, " + in.Who + "!", nil
})

// TestInputOutputProcessingOrder replays the AWS documentation's examples
// of InputPath → Parameters → Task → ResultSelector → ResultPath →
// OutputPath with their published inputs and outputs.
func TestInputOutputProcessingOrder(t *testing.T) {
	tests := []struct {
		name        string
		fixture     string
		handlers    func(rec *[]string) asl.Handlers
		input       string
		wantPayload string // what the resource received
		wantOutput  string
	}{
		{
			name:    "InputPath, ResultPath and OutputPath (input-output-example)",
			fixture: "io_example.asl.json",
			handlers: func(rec *[]string) asl.Handlers {
				return asl.Handlers{"HelloFunction": record(rec, hello)}
			},
			input:       `{"comment": "An input comment.", "data": {"val1": 23, "val2": 17}, "extra": "foo", "lambda": {"who": "AWS Step Functions"}}`,
			wantPayload: `{"who": "AWS Step Functions"}`,
			wantOutput:  `{"val1": 23, "val2": 17, "lambdaresult": "Hello, AWS Step Functions!"}`,
		},
		{
			name:       "Parameters with static and .$ fields (Pass)",
			fixture:    "parameters_example.asl.json",
			handlers:   func(*[]string) asl.Handlers { return nil },
			input:      `{"comment": "Example for Parameters.", "product": {"details": {"color": "blue", "size": "small", "material": "cotton"}, "availability": "in stock", "sku": "2317", "cost": "$23"}}`,
			wantOutput: `{"comment": "Selecting what I care about.", "MyDetails": {"size": "small", "exists": "in stock", "StaticValue": "foo"}}`,
		},
		{
			name:    "ResultSelector between the task and ResultPath",
			fixture: "resultselector_example.asl.json",
			handlers: func(rec *[]string) asl.Handlers {
				emr := &static{out: `{"resourceType": "elasticmapreduce", "resource": "createCluster.sync", "output": {"SdkHttpMetadata": {"HttpHeaders": {"Content-Length": "1112", "Content-Type": "application/x-amz-JSON-1.1", "Date": "Mon, 25 Nov 2019 19:41:29 GMT", "x-amzn-RequestId": "1234-5678-9012"}, "HttpStatusCode": 200}, "SdkResponseMetadata": {"RequestId": "1234-5678-9012"}, "ClusterId": "AKIAIOSFODNN7EXAMPLE"}}`}
				// A .sync integration is found under its ARN without the suffix.
				return asl.Handlers{"arn:aws:states:::elasticmapreduce:createCluster": record(rec, emr.handle)}
			},
			input:       `{"comment": "Create a cluster.", "cluster": {"name": "churn"}}`,
			wantPayload: `{"Name": "churn", "ReleaseLabel": "emr-5.34.0"}`,
			wantOutput:  `{"comment": "Create a cluster.", "cluster": {"name": "churn"}, "EMROutput": {"ClusterId": "AKIAIOSFODNN7EXAMPLE", "ResourceType": "elasticmapreduce"}}`,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rec []string
			r, _ := newRunner(load(t, tc.fixture, nil), tc.handlers(&rec))
			ex := run(t, r, tc.input)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			assertJSON(t, ex.Output, tc.wantOutput)
			if tc.wantPayload != "" {
				if len(rec) != 1 {
					t.Fatalf("resource called %d times, want 1", len(rec))
				}
				assertJSON(t, json.RawMessage(rec[0]), tc.wantPayload)
			}
		})
	}
}

// record wraps a handler to record its inputs.
func record(rec *[]string, h asl.Handler) asl.Handler {
	return func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		*rec = append(*rec, string(in))
		return h(ctx, in)
	}
}

// TestResultPathVariants covers the AWS docs' ResultPath page (replace,
// discard, add, update a node) and the null and error cases of the other
// paths.
func TestResultPathVariants(t *testing.T) {
	const docInput = `{"comment": "This is a test", "details": "Default example", "who": "Step Functions"}`
	tests := []struct {
		name                              string
		inputPath, resultPath, outputPath string
		input                             string
		wantPayload                       string
		wantOutput                        string
		wantError                         string
	}{
		{name: "default $ replaces the input", inputPath: `"$"`, resultPath: `"$"`, outputPath: `"$"`, input: docInput,
			wantPayload: docInput, wantOutput: `"Hello, Step Functions!"`},
		{name: "null discards the result", inputPath: `"$"`, resultPath: `null`, outputPath: `"$"`, input: docInput,
			wantOutput: docInput},
		{name: "a new field adds the result", inputPath: `"$"`, resultPath: `"$.taskresult"`, outputPath: `"$"`, input: docInput,
			wantOutput: `{"comment": "This is a test", "details": "Default example", "who": "Step Functions", "taskresult": "Hello, Step Functions!"}`},
		{name: "an existing field is updated", inputPath: `"$"`, resultPath: `"$.details"`, outputPath: `"$"`, input: docInput,
			wantOutput: `{"comment": "This is a test", "details": "Hello, Step Functions!", "who": "Step Functions"}`},
		{name: "missing intermediate objects are created", inputPath: `"$"`, resultPath: `"$.a.b"`, outputPath: `"$.a"`, input: docInput,
			wantOutput: `{"b": "Hello, Step Functions!"}`},
		{name: "ResultPath merges into the raw input, not the InputPath selection", inputPath: `"$.person"`, resultPath: `"$.greeting"`, outputPath: `"$"`,
			input: `{"person": {"who": "Ada"}, "keep": 1}`, wantPayload: `{"who": "Ada"}`,
			wantOutput: `{"person": {"who": "Ada"}, "keep": 1, "greeting": "Hello, Ada!"}`},
		{name: "InputPath null sends {}", inputPath: `null`, resultPath: `null`, outputPath: `"$"`, input: docInput,
			wantPayload: `{}`, wantOutput: docInput},
		{name: "OutputPath null outputs {}", inputPath: `"$"`, resultPath: `"$.r"`, outputPath: `null`, input: docInput,
			wantOutput: `{}`},
		{name: "array index in paths", inputPath: `"$.people[1]"`, resultPath: `"$.people[0]"`, outputPath: `"$['people']"`,
			input: `{"people": [{"who": "Ada"}, {"who": "Grace"}]}`, wantPayload: `{"who": "Grace"}`,
			wantOutput: `["Hello, Grace!", {"who": "Grace"}]`},
		{name: "missing InputPath node is States.Runtime", inputPath: `"$.nobody"`, resultPath: `"$"`, outputPath: `"$"`, input: docInput,
			wantError: asl.ErrorRuntime},
		{name: "missing OutputPath node is States.Runtime", inputPath: `"$"`, resultPath: `"$"`, outputPath: `"$.nothing"`, input: docInput,
			wantError: asl.ErrorRuntime},
		{name: "ResultPath into a string fails to match", inputPath: `"$"`, resultPath: `"$.comment.x"`, outputPath: `"$"`, input: docInput,
			wantError: asl.ErrorResultPathMatchFailure},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "resultpath.asl.json", map[string]string{
				"InputPath": tc.inputPath, "ResultPath": tc.resultPath, "OutputPath": tc.outputPath})
			var rec []string
			r, _ := newRunner(m, asl.Handlers{"HelloFunction": record(&rec, hello)})
			ex := run(t, r, tc.input)
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
				return
			}
			assertStatus(t, ex, asl.StatusSucceeded, "")
			assertJSON(t, ex.Output, tc.wantOutput)
			if tc.wantPayload != "" {
				assertJSON(t, json.RawMessage(rec[0]), tc.wantPayload)
			}
		})
	}
}
