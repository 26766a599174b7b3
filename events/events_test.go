package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	lambdaevents "github.com/aws/aws-lambda-go/events"

	"github.com/churnops/churnops/internal/apigw"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/runreport"
	"github.com/churnops/churnops/internal/serve"
)

// decodeStrict decodes the sample file name into v, refusing unknown fields
// and trailing data, and returns the sample's top-level keys.
func decodeStrict(tb testing.TB, name string, v any) []string {
	tb.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		tb.Fatalf("%s: decode into %T: %v", name, v, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		tb.Fatalf("%s: trailing data after the JSON object", name)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return slices.Sorted(maps.Keys(raw))
}

// requiredKeys lists the JSON names of the fields of struct v that are not
// omitempty: the keys every event of that type must spell out.
func requiredKeys(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if tag == "-" || !f.IsExported() || strings.Contains(","+opts+",", ",omitempty,") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		keys = append(keys, name)
	}
	slices.Sort(keys)
	return keys
}

// checkHasKeys fails unless every key of want is in got.
func checkHasKeys(tb testing.TB, name string, got, want []string) {
	tb.Helper()
	for _, k := range want {
		if !slices.Contains(got, k) {
			tb.Errorf("%s: missing key %q (the contract has it; spell it out in the sample)", name, k)
		}
	}
}

func checkDate(tb testing.TB, name, field, s string) {
	tb.Helper()
	if _, err := time.Parse(time.DateOnly, s); err != nil {
		tb.Errorf("%s: %s %q is not YYYY-MM-DD", name, field, s)
	}
}

func nonZero(tb testing.TB, name string, fields map[string]any) {
	tb.Helper()
	for _, field := range slices.Sorted(maps.Keys(fields)) {
		if reflect.ValueOf(fields[field]).IsZero() {
			tb.Errorf("%s: %s is zero; the sample must set it", name, field)
		}
	}
}

// aslPayloads reads the state machine and returns, per Task state, the keys
// of the Lambda payload it sends (".$" suffixes dropped) and the literal
// "action" it sets, if any.
func aslPayloads(tb testing.TB) map[string]aslPayload {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("..", "statemachine", "retrain.asl.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var def struct {
		States map[string]struct {
			Type       string `json:"Type"`
			Parameters struct {
				Payload map[string]any `json:"Payload"`
			} `json:"Parameters"`
		} `json:"States"`
	}
	if err := json.Unmarshal(data, &def); err != nil {
		tb.Fatalf("retrain.asl.json: %v", err)
	}
	out := map[string]aslPayload{}
	for name, st := range def.States {
		if st.Type != "Task" || st.Parameters.Payload == nil {
			continue
		}
		var p aslPayload
		for k, v := range st.Parameters.Payload {
			p.keys = append(p.keys, strings.TrimSuffix(k, ".$"))
			if k == "action" {
				p.action, _ = v.(string)
			}
		}
		slices.Sort(p.keys)
		out[name] = p
	}
	return out
}

type aslPayload struct {
	keys   []string
	action string
}

func TestExecutionInput(t *testing.T) {
	const name = "execution-input.json"
	var in pipeline.ExecutionInput
	keys := decodeStrict(t, name, &in)
	checkHasKeys(t, name, keys, requiredKeys(in))
	nonZero(t, name, map[string]any{
		"model_name": in.ModelName, "reference_as_of": in.ReferenceAsOf, "current_as_of": in.CurrentAsOf,
		"threshold": in.Threshold, "delta": in.Delta, "min_auc": in.MinAUC, "seed": in.Seed,
	})
	checkDate(t, name, "reference_as_of", in.ReferenceAsOf)
	checkDate(t, name, "current_as_of", in.CurrentAsOf)
	if in.ReferenceAsOf >= in.CurrentAsOf {
		t.Errorf("%s: reference_as_of %s must precede current_as_of %s", name, in.ReferenceAsOf, in.CurrentAsOf)
	}
	// The documented defaults, so the sample is also the canonical run.
	want := pipeline.ExecutionInput{
		ModelName: pipeline.DefaultModelName, ReferenceAsOf: in.ReferenceAsOf, CurrentAsOf: in.CurrentAsOf,
		Threshold: pipeline.DefaultThreshold, Delta: pipeline.DefaultDelta, MinAUC: pipeline.DefaultMinAUC,
		Seed: pipeline.DefaultSeed,
	}
	if in != want {
		t.Errorf("%s = %+v, want the pipeline defaults %+v", name, in, want)
	}
}

// TestTaskEvents checks each function sample against its contract type and
// against the payload the state machine's Task state actually sends.
func TestTaskEvents(t *testing.T) {
	asl := aslPayloads(t)
	tests := []struct {
		file    string
		state   string // the Task state in retrain.asl.json that sends this event
		event   any
		check   func(tb testing.TB, name string, v any)
		omitted []string // contract keys this state deliberately leaves out
	}{
		{file: "drift.json", state: "Drift", event: &pipeline.DriftInput{}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.DriftInput)
			nonZero(tb, name, map[string]any{"reference_as_of": in.ReferenceAsOf, "current_as_of": in.CurrentAsOf, "threshold": in.Threshold})
			checkDate(tb, name, "reference_as_of", in.ReferenceAsOf)
			checkDate(tb, name, "current_as_of", in.CurrentAsOf)
		}},
		{file: "train.json", state: "Train", event: &pipeline.TrainInput{}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.TrainInput)
			nonZero(tb, name, map[string]any{"model_name": in.ModelName, "as_of": in.AsOf, "seed": in.Seed, "row_budget": in.RowBudget})
			checkDate(tb, name, "as_of", in.AsOf)
		}},
		{file: "evaluate.json", state: "Evaluate", event: &pipeline.EvaluateInput{}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.EvaluateInput)
			nonZero(tb, name, map[string]any{"model_name": in.ModelName, "as_of": in.AsOf, "delta": in.Delta, "min_auc": in.MinAUC, "row_budget": in.RowBudget})
			checkDate(tb, name, "as_of", in.AsOf)
		}},
		{file: "evaluate-check-production.json", state: "CheckProduction", event: &pipeline.EvaluateInput{}, omitted: []string{"as_of"},
			check: func(tb testing.TB, name string, v any) {
				in := v.(*pipeline.EvaluateInput)
				nonZero(tb, name, map[string]any{"model_name": in.ModelName, "delta": in.Delta, "min_auc": in.MinAUC})
				if in.AsOf != "" {
					tb.Errorf("%s: as_of %q: without as_of Evaluate only reads the registry", name, in.AsOf)
				}
			}},
		{file: "ingest-plan.json", state: "PlanIngest", event: &pipeline.IngestEvent{}, omitted: []string{"index"}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.IngestEvent)
			checkAction(tb, name, in.Action, pipeline.IngestActionPlan)
			if in.Incoming == nil {
				tb.Fatalf("%s: no incoming", name)
			}
			nonZero(tb, name, map[string]any{"incoming.bucket": in.Incoming.Bucket, "incoming.key": in.Incoming.Key, "execution": in.Execution, "started": in.Started, "row_budget": in.RowBudget, "shard_rows": in.ShardRows})
			if !strings.HasPrefix(in.Incoming.Key, "incoming/as_of=") || !strings.HasSuffix(in.Incoming.Key, "/_SUCCESS") {
				tb.Errorf("%s: incoming key %q is not the MonthArrived rule's marker incoming/as_of=*/_SUCCESS", name, in.Incoming.Key)
			}
		}},
		{file: "ingest-commit.json", state: "CommitIngest", event: &pipeline.IngestEvent{}, omitted: []string{"started"}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.IngestEvent)
			checkAction(tb, name, in.Action, pipeline.IngestActionCommit)
			nonZero(tb, name, map[string]any{"as_of": in.AsOf, "attempt": in.Attempt})
			checkDate(tb, name, "as_of", in.AsOf)
		}},
		{file: "ingest-prune.json", state: "PruneFeatures", event: &pipeline.IngestEvent{}, omitted: []string{"started"}, check: func(tb testing.TB, name string, v any) {
			checkAction(tb, name, v.(*pipeline.IngestEvent).Action, pipeline.IngestActionPrune)
		}},
		{file: "score-plan.json", state: "PlanScoring", event: &pipeline.ScoreEvent{}, omitted: []string{"shard"}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.ScoreEvent)
			checkAction(tb, name, in.Action, "plan")
			nonZero(tb, name, map[string]any{"model_name": in.ModelName, "as_of": in.AsOf})
			checkDate(tb, name, "as_of", in.AsOf)
		}},
		{file: "score-summary.json", state: "SummarizeScores", event: &pipeline.ScoreEvent{}, omitted: []string{"shard"}, check: func(tb testing.TB, name string, v any) {
			in := v.(*pipeline.ScoreEvent)
			checkAction(tb, name, in.Action, "summary")
			nonZero(tb, name, map[string]any{"model_name": in.ModelName, "as_of": in.AsOf, "version": in.Version, "parts": in.Parts})
			for _, p := range in.Parts {
				sum := 0
				for _, c := range p.Histogram.Counts {
					sum += c
				}
				if sum != p.Rows || len(p.Histogram.Edges) != len(p.Histogram.Counts)+1 {
					tb.Errorf("%s: shard %d: %d rows but its histogram counts %d (%d edges, %d bins)", name, p.Shard, p.Rows, sum, len(p.Histogram.Edges), len(p.Histogram.Counts))
				}
			}
		}},
		{file: "report.json", state: "Report", event: &runreport.Event{}, check: checkReport(false)},
		{file: "report-failure.json", state: "ReportFailure", event: &runreport.Event{}, check: checkReport(true)},
		{file: "compare-promote.json", state: "Promote", event: &pipeline.CompareInput{}, check: checkCompare(pipeline.ActionPromote)},
		{file: "compare-skip.json", state: "Skip", event: &pipeline.CompareInput{}, check: checkCompare(pipeline.ActionSkip)},
		{file: "compare-request-approval.json", state: "WaitForApproval", event: &pipeline.CompareInput{}, check: checkCompare(pipeline.ActionRequestApproval)},
		{file: "compare-reject.json", state: "Reject", event: &pipeline.CompareInput{}, check: checkCompare(pipeline.ActionReject)},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.state] = true
		t.Run(tt.file, func(t *testing.T) {
			keys := decodeStrict(t, tt.file, tt.event)
			want := slices.DeleteFunc(requiredKeys(tt.event), func(k string) bool { return slices.Contains(tt.omitted, k) })
			checkHasKeys(t, tt.file, keys, want)
			tt.check(t, tt.file, tt.event)
			p, ok := asl[tt.state]
			if !ok {
				t.Fatalf("retrain.asl.json has no Task state %q with a Payload", tt.state)
			}
			if !slices.Equal(keys, p.keys) {
				t.Errorf("%s keys %v, but state %s sends %v", tt.file, keys, tt.state, p.keys)
			}
			if in, ok := tt.event.(*pipeline.CompareInput); ok && in.Action != p.action {
				t.Errorf("%s action %q, but state %s sends %q", tt.file, in.Action, tt.state, p.action)
			}
		})
	}
	// Every Task state that invokes a function has a sample.
	for _, state := range slices.Sorted(maps.Keys(asl)) {
		if !covered[state] {
			t.Errorf("state %s of retrain.asl.json sends %v but has no sample event", state, asl[state].keys)
		}
	}
}

func checkAction(tb testing.TB, name, got, want string) {
	tb.Helper()
	if got != want {
		tb.Errorf("%s: action %q, want %q", name, got, want)
	}
}

// checkReport checks a Report event: the execution, and its state as the
// state machine passes it ($), which names the months; a failure's error
// is the one the Catch put at $.error.
func checkReport(failure bool) func(tb testing.TB, name string, v any) {
	return func(tb testing.TB, name string, v any) {
		tb.Helper()
		in := v.(*runreport.Event)
		nonZero(tb, name, map[string]any{"execution": in.Execution, "name": in.Name, "state": in.State})
		if !strings.HasSuffix(in.Execution, ":"+in.Name) {
			tb.Errorf("%s: execution %q is not named %q", name, in.Execution, in.Name)
		}
		var st struct {
			CurrentAsOf string          `json:"current_as_of"`
			Error       json.RawMessage `json:"error"`
		}
		if err := json.Unmarshal(in.State, &st); err != nil {
			tb.Fatalf("%s: state: %v", name, err)
		}
		checkDate(tb, name, "state.current_as_of", st.CurrentAsOf)
		if failure {
			if in.Error == nil || in.Error.Error == "" || len(st.Error) == 0 {
				tb.Errorf("%s: a failure's report carries the error, in the event and at $.error", name)
			}
		} else if in.Error != nil || len(st.Error) != 0 {
			tb.Errorf("%s: a success's report has no error", name)
		}
	}
}

func checkCompare(action string) func(tb testing.TB, name string, v any) {
	return func(tb testing.TB, name string, v any) {
		tb.Helper()
		in := v.(*pipeline.CompareInput)
		if in.Action != action {
			tb.Errorf("%s: action %q, want %q", name, in.Action, action)
		}
		nonZero(tb, name, map[string]any{
			"model_name": in.ModelName, "candidate_version": in.CandidateVersion, "candidate_auc": in.CandidateAUC,
			"production_version": in.ProductionVersion, "production_auc": in.ProductionAUC,
			"delta": in.Delta, "bar": in.Bar,
		})
		if bar := in.ProductionAUC + in.Delta; !near(in.Bar, bar) {
			tb.Errorf("%s: bar %v, want production_auc + delta = %v", name, in.Bar, bar)
		}
		// The sample must be one the PromotionGate would route to this action.
		beats := in.CandidateAUC > in.Bar
		if wantBeat := action != pipeline.ActionSkip; beats != wantBeat {
			tb.Errorf("%s: candidate_auc %v vs bar %v: PromotionGate would not choose %s", name, in.CandidateAUC, in.Bar, action)
		}
		// Every action records its execution, so a retried Compare finds
		// its own decision.
		nonZero(tb, name, map[string]any{"execution": in.Execution})
		if (in.TaskToken != "") != (action == pipeline.ActionRequestApproval) {
			tb.Errorf("%s: task_token belongs to request_approval only", name)
		}
		if (in.ApprovalError != nil) != (action == pipeline.ActionReject) {
			tb.Errorf("%s: approval_error belongs to reject only", name)
		}
		if (in.Approval != nil) != (action == pipeline.ActionPromote) {
			tb.Errorf("%s: approval (who approved) belongs to promote only", name)
		}
		switch action {
		case pipeline.ActionReject:
			if in.ApprovalError.Error == "" {
				tb.Errorf("%s: approval_error.Error is required for reject", name)
			}
		case pipeline.ActionPromote:
			if in.Approval.ApprovedBy == "" {
				tb.Errorf("%s: the sample promotes an approved candidate: approval.approved_by is its approver", name)
			}
		}
	}
}

func near(a, b float64) bool {
	d := a - b
	return d < 1e-9 && d > -1e-9
}

func TestPredictAPIGatewayV2(t *testing.T) {
	const name = "predict-apigw-v2.json"
	var req lambdaevents.APIGatewayV2HTTPRequest
	decodeStrict(t, name, &req)
	nonZero(t, name, map[string]any{
		"version": req.Version, "routeKey": req.RouteKey, "rawPath": req.RawPath, "headers": req.Headers,
		"requestContext.requestId": req.RequestContext.RequestID, "requestContext.apiId": req.RequestContext.APIID,
		"requestContext.stage": req.RequestContext.Stage, "requestContext.timeEpoch": req.RequestContext.TimeEpoch,
		"body": req.Body,
	})
	if req.Version != "2.0" {
		t.Errorf("%s: version %q, want 2.0 (HTTP API payload format 2.0)", name, req.Version)
	}
	if req.RouteKey != "POST /predict" || req.RequestContext.RouteKey != req.RouteKey {
		t.Errorf("%s: routeKey %q / requestContext.routeKey %q, want POST /predict", name, req.RouteKey, req.RequestContext.RouteKey)
	}
	if h := req.RequestContext.HTTP; h.Method != http.MethodPost || h.Path != "/predict" || req.RawPath != "/predict" {
		t.Errorf("%s: %s %s (rawPath %s), want POST /predict", name, h.Method, h.Path, req.RawPath)
	}
	if req.IsBase64Encoded {
		t.Errorf("%s: isBase64Encoded must be false for a JSON body", name)
	}
	if got, want := req.Headers["content-length"], len(req.Body); got != strconv.Itoa(want) {
		t.Errorf("%s: content-length %q, body is %d bytes", name, got, want)
	}
	checkPredictBody(t, name, req.Body, 0)
	checkThroughAdapter(t, name, "/predict", req.Body, func(tb testing.TB, out []byte) {
		var resp lambdaevents.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != http.StatusOK {
			tb.Errorf("%s: adapter answered %s (%v), want a 200 format 2.0 response", name, out, err)
		}
	})
}

// TestPredictAPIGatewayV1 covers the REST API proxy events template.yaml's
// PredictApi (AWS::Serverless::Api, stage v1) sends: POST /predict and
// POST /predict/details, both AWS_IAM routes, so API Gateway passes the
// signed headers and names the caller in requestContext.identity.
func TestPredictAPIGatewayV1(t *testing.T) {
	for _, tc := range []struct {
		name, path string
		include    serve.Include
	}{
		{"predict-apigw-v1.json", "/predict", 0},
		{"predict-details-apigw-v1.json", "/predict/details", serve.IncludeFeatures | serve.IncludeReasons},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := tc.name
			var req lambdaevents.APIGatewayProxyRequest
			decodeStrict(t, name, &req)
			nonZero(t, name, map[string]any{
				"resource": req.Resource, "path": req.Path, "httpMethod": req.HTTPMethod, "headers": req.Headers,
				"requestContext.requestId": req.RequestContext.RequestID, "requestContext.apiId": req.RequestContext.APIID,
				"requestContext.stage": req.RequestContext.Stage, "body": req.Body,
				"requestContext.identity.userArn":   req.RequestContext.Identity.UserArn,
				"requestContext.identity.accessKey": req.RequestContext.Identity.AccessKey,
			})
			if req.HTTPMethod != http.MethodPost || req.Resource != tc.path || req.Path != tc.path {
				t.Errorf("%s: %s %s (resource %s), want POST %s", name, req.HTTPMethod, req.Path, req.Resource, tc.path)
			}
			if rc := req.RequestContext; rc.HTTPMethod != req.HTTPMethod || rc.ResourcePath != req.Resource || rc.Path != "/"+rc.Stage+req.Path {
				t.Errorf("%s: requestContext (%s %s, path %s, stage %s) disagrees with the request", name, rc.HTTPMethod, rc.ResourcePath, rc.Path, rc.Stage)
			}
			if auth := req.Headers["Authorization"]; !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+req.RequestContext.Identity.AccessKey+"/") {
				t.Errorf("%s: Authorization %q is not a SigV4 signature by the identity's access key", name, auth)
			}
			for k, v := range req.Headers {
				if mv := req.MultiValueHeaders[k]; len(mv) != 1 || mv[0] != v {
					t.Errorf("%s: header %s = %q but multiValueHeaders has %q", name, k, v, mv)
				}
			}
			if req.IsBase64Encoded {
				t.Errorf("%s: isBase64Encoded must be false for a JSON body", name)
			}
			checkPredictBody(t, name, req.Body, tc.include)
			checkThroughAdapter(t, name, tc.path, req.Body, func(tb testing.TB, out []byte) {
				var resp lambdaevents.APIGatewayProxyResponse
				if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != http.StatusOK {
					tb.Errorf("%s: adapter answered %s (%v), want a 200 REST proxy response", name, out, err)
				}
			})
		})
	}
}

// checkPredictBody requires a body the real /predict decoder accepts as a
// single-user request, including what inc names.
func checkPredictBody(tb testing.TB, name, body string, inc serve.Include) {
	tb.Helper()
	r, err := serve.DecodeRequest([]byte(body), 100)
	if err != nil {
		tb.Fatalf("%s: body %s rejected by serve.DecodeRequest: %v", name, body, err)
	}
	if r.Kind != serve.KindSingle || r.UserID != "7590-VHVEG" || r.Include != inc {
		tb.Errorf("%s: body decodes to %+v, want a single request for 7590-VHVEG including %q", name, r, inc)
	}
}

// checkThroughAdapter feeds the sample to the API Gateway adapter the
// Predict function runs, in front of a handler that records the request,
// and requires it to arrive as POST path with the JSON body.
func checkThroughAdapter(tb testing.TB, name, path, body string, checkResp func(tb testing.TB, out []byte)) {
	tb.Helper()
	payload, err := os.ReadFile(name)
	if err != nil {
		tb.Fatal(err)
	}
	var got *http.Request
	var gotBody []byte
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r
		gotBody, _ = io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	out, err := apigw.Handler(h).Invoke(context.Background(), payload)
	if err != nil {
		tb.Fatalf("%s: apigw adapter: %v", name, err)
	}
	if got == nil {
		tb.Fatalf("%s: the adapter never called the handler", name)
	}
	if got.Method != http.MethodPost || got.URL.Path != path {
		tb.Errorf("%s: handler saw %s %s, want POST %s", name, got.Method, got.URL.Path, path)
	}
	if ct := got.Header.Get("Content-Type"); ct != "application/json" {
		tb.Errorf("%s: handler saw Content-Type %q, want application/json", name, ct)
	}
	if string(gotBody) != body {
		tb.Errorf("%s: handler saw body %q, want %q", name, gotBody, body)
	}
	checkResp(tb, out)
}

// TestNoUntestedSamples keeps every JSON file in this directory under test.
func TestNoUntestedSamples(t *testing.T) {
	tested := []string{
		"compare-promote.json", "compare-reject.json", "compare-request-approval.json", "compare-skip.json",
		"drift.json", "evaluate-check-production.json", "evaluate.json", "execution-input.json", "predict-apigw-v1.json", "predict-apigw-v2.json",
		"predict-details-apigw-v1.json", "train.json",
		"ingest-commit.json", "ingest-plan.json", "ingest-prune.json", "report-failure.json", "report.json", "score-plan.json", "score-summary.json",
	}
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	slices.Sort(tested)
	if !slices.Equal(files, tested) {
		t.Errorf("sample files %v, tested %v: add a test for each new sample", files, tested)
	}
}
