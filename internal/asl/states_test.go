package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

func TestWait(t *testing.T) {
	tests := []struct {
		name      string
		wait      string
		input     string
		wantSleep []time.Duration
		wantError string
	}{
		{"Seconds", `"Seconds": 90`, `{}`, []time.Duration{90 * time.Second}, ""},
		{"Seconds 0 does not sleep", `"Seconds": 0`, `{}`, nil, ""},
		{"SecondsPath", `"SecondsPath": "$.retry_after"`, `{"retry_after": 7}`, []time.Duration{7 * time.Second}, ""},
		{"Timestamp in the future", `"Timestamp": "2024-03-31T12:30:00Z"`, `{}`, []time.Duration{30 * time.Minute}, ""},
		{"Timestamp in the past does not sleep", `"Timestamp": "2020-01-01T00:00:00Z"`, `{}`, nil, ""},
		{"TimestampPath with an offset", `"TimestampPath": "$.until"`, `{"until": "2024-03-31T15:00:00+02:00"}`, []time.Duration{time.Hour}, ""},
		{"SecondsPath to a string is States.Runtime", `"SecondsPath": "$.retry_after"`, `{"retry_after": "7"}`, nil, asl.ErrorRuntime},
		{"SecondsPath negative is States.Runtime", `"SecondsPath": "$.retry_after"`, `{"retry_after": -1}`, nil, asl.ErrorRuntime},
		{"TimestampPath missing is States.Runtime", `"TimestampPath": "$.until"`, `{}`, nil, asl.ErrorRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, clock := newRunner(load(t, "wait.asl.json", map[string]string{"Wait": tc.wait}), nil)
			ex := run(t, r, tc.input)
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
				return
			}
			assertStatus(t, ex, asl.StatusSucceeded, "")
			assertJSON(t, ex.Output, tc.input)
			if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tc.wantSleep) {
				t.Errorf("slept %v, want %v", got, tc.wantSleep)
			}
		})
	}
}

func TestWaitAbortsOnCancel(t *testing.T) {
	m := load(t, "wait.asl.json", map[string]string{"Wait": `"Seconds": 3600`})
	r := &asl.Runner{Machine: m} // the real clock: only cancellation ends the wait
	ctx, cancel := context.WithCancel(context.Background())
	r.Observer = func(e asl.Event) {
		if e.Type == asl.EventWaitStarted {
			cancel()
		}
	}
	ex, err := r.Run(ctx, "cancelled", nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if ex == nil || ex.Status != asl.StatusAborted {
		t.Fatalf("execution %+v, want ABORTED", ex)
	}
}

func TestIntrinsicFunctions(t *testing.T) {
	r, _ := newRunner(load(t, "intrinsics.asl.json", nil), nil)
	ex := run(t, r, `{"name": "Ada", "age": 36, "items": [1, 2, 3], "escaped": "{\"foo\": \"bar\", \"n\": [1, 2]}",
		"object": {"a": 1, "b": {"c": 2}}, "override": {"b": "replaced", "d": 4}, "odd key": "v"}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	var out map[string]any
	if err := json.Unmarshal(ex.Output, &out); err != nil {
		t.Fatal(err)
	}
	id, _ := out["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(id) {
		t.Errorf("States.UUID() = %q, want a version 4 UUID", id)
	}
	delete(out, "id")
	got, _ := json.Marshal(out)
	assertJSON(t, got, `{
		"greeting": "Hello, Ada! You are 36 with 3 items.",
		"literalBraces": "{not a placeholder} Ada",
		"parsed": {"foo": "bar", "n": [1, 2]},
		"serialized": "{\"a\":1,\"b\":{\"c\":2}}",
		"array": ["Ada", 1, true, null, "x"],
		"merged": {"a": 1, "b": "replaced", "d": 4},
		"next": 35,
		"count": 3,
		"nested": "[3,\"v\"]",
		"execution": "exec-1",
		"static": "kept"
	}`)
}

func TestIntrinsicFailures(t *testing.T) {
	tests := []struct {
		name, params, input, wantError, wantCause string
	}{
		{"StringToJson of invalid JSON", `{"x.$": "States.StringToJson($.s)"}`, `{"s": "{oops"}`, asl.ErrorIntrinsicFailure, "not valid JSON"},
		{"StringToJson of a number", `{"x.$": "States.StringToJson($.n)"}`, `{"n": 1}`, asl.ErrorIntrinsicFailure, "must be a string"},
		{"ArrayLength of an object", `{"x.$": "States.ArrayLength($)"}`, `{"n": 1}`, asl.ErrorIntrinsicFailure, "must be an array"},
		{"JsonMerge of an array", `{"x.$": "States.JsonMerge($.a, $.b, false)"}`, `{"a": [], "b": {}}`, asl.ErrorIntrinsicFailure, "must be objects"},
		{"MathAdd out of range", `{"x.$": "States.MathAdd($.n, 1)"}`, `{"n": 3000000000}`, asl.ErrorIntrinsicFailure, "integer range"},
		{"Format template from a path", `{"x.$": "States.Format($.t, $.n)"}`, `{"t": "{} and {}", "n": 1}`, asl.ErrorIntrinsicFailure, "2 {} placeholder(s) but 1"},
		{"missing path argument", `{"x.$": "States.Format('{}', $.nope)"}`, `{}`, asl.ErrorRuntime, "$.nope"},
		{"missing Parameters path", `{"x.$": "$.nope"}`, `{"a": 1}`, asl.ErrorRuntime, "The JSONPath '$.nope' specified for the field 'x.$' could not be found in the input '{\"a\":1}'"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			def := `{"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": ` + tc.params + `, "End": true}}}`
			m, err := asl.Parse([]byte(def), nil)
			if err != nil {
				t.Fatal(err)
			}
			r, _ := newRunner(m, nil)
			ex := run(t, r, tc.input)
			assertStatus(t, ex, asl.StatusFailed, tc.wantError)
			if !strings.Contains(ex.Cause, tc.wantCause) {
				t.Errorf("cause %q does not contain %q", ex.Cause, tc.wantCause)
			}
		})
	}
}

func TestContextObject(t *testing.T) {
	m, err := asl.Parse([]byte(`{"StartAt": "Ctx", "States": {"Ctx": {"Type": "Pass", "Parameters": {
		"id.$": "$$.Execution.Id", "name.$": "$$.Execution.Name", "input.$": "$$.Execution.Input.month",
		"state.$": "$$.State.Name", "entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime",
		"machine.$": "$$.StateMachine.Name", "retries.$": "$$.State.RetryCount"}, "End": true}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(m, nil)
	ex, err := r.Run(context.Background(), "2024-03-run", json.RawMessage(`{"month": "2024-03"}`))
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `{
		"id": "arn:aws:states:local:000000000000:execution:retrain:2024-03-run",
		"name": "2024-03-run", "input": "2024-03", "state": "Ctx",
		"entered": "2024-03-31T12:00:00.000Z", "started": "2024-03-31T12:00:00.000Z",
		"machine": "retrain", "retries": 0}`)
	if ex.ID != "arn:aws:states:local:000000000000:execution:retrain:2024-03-run" {
		t.Errorf("Execution.ID = %q", ex.ID)
	}
}

func TestMaxTransitions(t *testing.T) {
	tests := []struct {
		name      string
		goal      int
		max       int
		wantState asl.Status
	}{
		{"a loop that ends within the budget", 10, 0, asl.StatusSucceeded},
		{"an endless loop is stopped", -1, 50, asl.StatusFailed},
		{"the default budget stops it too", -1, 0, asl.StatusFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(load(t, "loop.asl.json", nil), nil)
			r.MaxTransitions = tc.max
			ex := run(t, r, fmt.Sprintf(`{"goal": %d}`, tc.goal))
			if ex.Status != tc.wantState {
				t.Fatalf("status %s (%s), want %s", ex.Status, ex.Cause, tc.wantState)
			}
			if tc.wantState == asl.StatusSucceeded {
				assertJSON(t, ex.Output, `{"n": 10, "goal": 10}`)
				return
			}
			want := tc.max
			if want == 0 {
				want = asl.DefaultMaxTransitions
			}
			if ex.Error != asl.ErrorMaxTransitions || !strings.Contains(ex.Cause, fmt.Sprintf("more than %d state transitions", want)) {
				t.Errorf("error %q cause %q, want %s after %d transitions", ex.Error, ex.Cause, asl.ErrorMaxTransitions, want)
			}
			if got := len(findEvents(ex.History, asl.EventStateEntered)); got != want {
				t.Errorf("%d states entered, want %d", got, want)
			}
		})
	}
}

func TestMachineTimeout(t *testing.T) {
	m, err := asl.Parse([]byte(`{"StartAt": "Nap", "TimeoutSeconds": 60, "States": {
		"Nap": {"Type": "Wait", "Seconds": 120, "Next": "Done"}, "Done": {"Type": "Succeed"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(m, nil)
	ex := run(t, r, `{}`)
	assertStatus(t, ex, asl.StatusTimedOut, asl.ErrorTimeout)
}

func TestObserverSeesTheHistory(t *testing.T) {
	var seen []asl.Event
	r, _ := newRunner(load(t, "io_example.asl.json", nil), asl.Handlers{"HelloFunction": hello})
	r.Observer = func(e asl.Event) { seen = append(seen, e) }
	ex := run(t, r, `{"data": {}, "lambda": {"who": "you"}}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	want := []asl.EventType{asl.EventExecutionStarted, asl.EventStateEntered, asl.EventTaskScheduled,
		asl.EventTaskSucceeded, asl.EventStateExited, asl.EventExecutionSucceeded}
	if got := eventTypes(seen); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("observed %v, want %v", got, want)
	}
	if fmt.Sprint(eventTypes(ex.History)) != fmt.Sprint(want) {
		t.Errorf("history %v differs from what the observer saw", eventTypes(ex.History))
	}
	for i, e := range ex.History {
		if e.ID != i+1 {
			t.Errorf("event %d has ID %d", i, e.ID)
		}
	}
	entered, exited := ex.History[1], ex.History[4]
	if entered.State != "HelloWorld" || entered.StateType != "Task" {
		t.Errorf("StateEntered %+v", entered)
	}
	assertJSON(t, exited.Output, `{"lambdaresult": "Hello, you!"}`)
	assertJSON(t, ex.History[2].Input, `{"who": "you"}`)
	b, err := json.Marshal(ex)
	if err != nil || !strings.Contains(string(b), `"type":"StateExited"`) {
		t.Errorf("Execution does not marshal as the CLI's --json output: %v %s", err, b)
	}
}

func TestTaskTimeoutAbandonsAHandlerThatIgnoresItsContext(t *testing.T) {
	m := load(t, "retry_policy.asl.json", map[string]string{"Retry": `[]`, "CatchErrors": `["States.Timeout"]`})
	release := make(chan struct{})
	defer close(release)
	r, _ := newRunner(m, asl.Handlers{"Work": func(context.Context, json.RawMessage) (json.RawMessage, error) {
		<-release // ignores ctx
		return json.RawMessage(`{}`), nil
	}})
	ex := run(t, r, `{}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `{"error": {"Error": "States.Timeout", "Cause": "Task timed out after 30 seconds"}}`)
}
