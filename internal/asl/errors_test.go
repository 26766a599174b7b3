package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// Error types named like the pipeline's: Step Functions sees the Go type
// name, without package or pointer.
type NoProductionModelError struct{ Model string }

func (e *NoProductionModelError) Error() string { return "no production model for " + e.Model }

type ErrorA struct{}

func (*ErrorA) Error() string { return "a failed" }

type ErrorB struct{}

func (ErrorB) Error() string { return "b failed" }

type ErrorC struct{}

func (*ErrorC) Error() string { return "c failed" }

type named struct{}

func (named) Error() string     { return "rejected by a reviewer" }
func (named) ErrorName() string { return "ApprovalRejected" }

func TestErrorName(t *testing.T) {
	typed := &NoProductionModelError{Model: "churn"}
	tests := []struct {
		err  error
		want string
	}{
		{typed, "NoProductionModelError"},
		{ErrorB{}, "ErrorB"},
		{fmt.Errorf("evaluate: %w", typed), "wrapError"},
		{fmt.Errorf("evaluate: %v", typed), "errorString"},
		{errors.New("boom"), "errorString"},
		{errors.Join(typed, errors.New("x")), "joinError"},
		{context.DeadlineExceeded, "deadlineExceededError"},
		{named{}, "ApprovalRejected"},
		{fmt.Errorf("wrapped: %w", named{}), "wrapError"},
	}
	for _, tc := range tests {
		t.Run(tc.want+"/"+tc.err.Error(), func(t *testing.T) {
			if got := asl.ErrorName(tc.err); got != tc.want {
				t.Errorf("ErrorName(%#v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}

// script is a handler that fails with the given errors in turn, then
// succeeds.
type script struct {
	mu    sync.Mutex
	errs  []error
	calls int
}

func (s *script) handle(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.errs) == 0 {
		return json.RawMessage(`{"ok": true}`), nil
	}
	err := s.errs[0]
	s.errs = s.errs[1:]
	if err == errBlock {
		s.mu.Unlock()
		<-ctx.Done()
		s.mu.Lock()
		return nil, ctx.Err()
	}
	return nil, err
}

// count returns the number of calls so far; a timed-out call may still
// be running in its abandoned goroutine, hence the lock.
func (s *script) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// errBlock makes the script block until its context ends.
var errBlock = errors.New("block")

// TestRetriersAcrossErrors is the ASL specification's complex retry
// scenario: a retrier's attempts are shared by every error it matches,
// and an exhausted retrier hands over to Catch (later retriers are not
// consulted).
func TestRetriersAcrossErrors(t *testing.T) {
	tests := []struct {
		name       string
		errs       []error
		wantSleeps []time.Duration
		wantOutput string
		wantCalls  int
	}{
		{
			name:       "ErrorA ErrorB ErrorC ErrorB: the first retrier is exhausted, Catch goes to Z",
			errs:       []error{&ErrorA{}, ErrorB{}, &ErrorC{}, ErrorB{}},
			wantSleeps: []time.Duration{1 * time.Second, 2 * time.Second, 5 * time.Second},
			wantOutput: `{"Error": "ErrorB", "Cause": "{\"errorMessage\":\"b failed\",\"errorType\":\"ErrorB\"}"}`,
			wantCalls:  4,
		},
		{
			name:       "ErrorA ErrorC ErrorB then success: each retrier backs off on its own count",
			errs:       []error{&ErrorA{}, &ErrorC{}, ErrorB{}},
			wantSleeps: []time.Duration{1 * time.Second, 5 * time.Second, 2 * time.Second},
			wantOutput: `{"ok": true}`,
			wantCalls:  4,
		},
		{
			name:       "an unmatched error goes straight to Catch",
			errs:       []error{errors.New("boom")},
			wantOutput: `{"Error": "errorString", "Cause": "{\"errorMessage\":\"boom\",\"errorType\":\"errorString\"}"}`,
			wantCalls:  1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &script{errs: tc.errs}
			r, clock := newRunner(load(t, "retry.asl.json", nil), asl.Handlers{"X": s.handle})
			ex := run(t, r, `{}`)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			assertJSON(t, ex.Output, tc.wantOutput)
			if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("sleeps %v, want %v", got, tc.wantSleeps)
			}
			if got := s.count(); got != tc.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tc.wantCalls)
			}
			if got := len(findEvents(ex.History, asl.EventStateRetried)); got != len(tc.wantSleeps) {
				t.Errorf("%d StateRetried events, want %d", got, len(tc.wantSleeps))
			}
		})
	}
}

// flaky is a transient error; its lower-case name is what Step Functions
// would see.
type flaky struct{}

func (flaky) Error() string { return "try again" }

func TestRetryPolicies(t *testing.T) {
	s := time.Second
	tests := []struct {
		name        string
		retry       string
		catch       string
		errs        []error
		output      string // the handler's output when the script runs out of errors
		wantSleeps  []time.Duration
		wantCalls   int
		wantStatus  asl.Status
		wantError   string // execution error, or the caught $.error.Error
		wantJitter  bool
		wantHistory []asl.EventType
	}{
		{
			name:  "exponential backoff until MaxAttempts, then Catch",
			retry: `[{"ErrorEquals": ["flaky"], "IntervalSeconds": 2, "MaxAttempts": 3, "BackoffRate": 3}]`, catch: `["States.ALL"]`,
			errs:       []error{flaky{}, flaky{}, flaky{}, flaky{}},
			wantSleeps: []time.Duration{2 * s, 6 * s, 18 * s}, wantCalls: 4, wantStatus: asl.StatusSucceeded, wantError: "flaky",
		},
		{
			name:  "defaults: 1s, BackoffRate 2, 3 attempts",
			retry: `[{"ErrorEquals": ["flaky"]}]`, catch: `["States.ALL"]`,
			errs:       []error{flaky{}, flaky{}, flaky{}, flaky{}},
			wantSleeps: []time.Duration{1 * s, 2 * s, 4 * s}, wantCalls: 4, wantStatus: asl.StatusSucceeded, wantError: "flaky",
		},
		{
			name:  "MaxDelaySeconds caps the interval",
			retry: `[{"ErrorEquals": ["flaky"], "IntervalSeconds": 2, "MaxAttempts": 4, "BackoffRate": 3, "MaxDelaySeconds": 10}]`, catch: `["States.ALL"]`,
			errs:       []error{flaky{}, flaky{}, flaky{}, flaky{}, flaky{}},
			wantSleeps: []time.Duration{2 * s, 6 * s, 10 * s, 10 * s}, wantCalls: 5, wantStatus: asl.StatusSucceeded, wantError: "flaky",
		},
		{
			name:  "recovers after a retry",
			retry: `[{"ErrorEquals": ["flaky"], "IntervalSeconds": 3}]`, catch: `["States.ALL"]`,
			errs:       []error{flaky{}},
			wantSleeps: []time.Duration{3 * s}, wantCalls: 2, wantStatus: asl.StatusSucceeded,
			wantHistory: []asl.EventType{asl.EventExecutionStarted, asl.EventStateEntered, asl.EventTaskScheduled, asl.EventTaskFailed,
				asl.EventStateRetried, asl.EventTaskScheduled, asl.EventTaskSucceeded, asl.EventStateExited, asl.EventExecutionSucceeded},
		},
		{
			name:  "MaxAttempts 0 never retries",
			retry: `[{"ErrorEquals": ["flaky"], "MaxAttempts": 0}]`, catch: `["States.ALL"]`,
			errs: []error{flaky{}}, wantCalls: 1, wantStatus: asl.StatusSucceeded, wantError: "flaky",
		},
		{
			name:  "the first matching retrier decides, even before States.ALL",
			retry: `[{"ErrorEquals": ["flaky"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 5}]`, catch: `["States.ALL"]`,
			errs: []error{flaky{}}, wantCalls: 1, wantStatus: asl.StatusSucceeded, wantError: "flaky",
		},
		{
			name:  "States.ALL retries other errors",
			retry: `[{"ErrorEquals": ["flaky"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 2}]`, catch: `["States.ALL"]`,
			errs:       []error{&ErrorA{}, &ErrorA{}, &ErrorA{}},
			wantSleeps: []time.Duration{1 * s, 2 * s}, wantCalls: 3, wantStatus: asl.StatusSucceeded, wantError: "ErrorA",
		},
		{
			name:  "States.TaskFailed does not match States.Timeout",
			retry: `[{"ErrorEquals": ["States.TaskFailed"]}]`, catch: `["States.Timeout"]`,
			errs: []error{errBlock}, wantCalls: 1, wantStatus: asl.StatusSucceeded, wantError: asl.ErrorTimeout,
		},
		{
			name:  "States.TaskFailed matches handler errors",
			retry: `[{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 1}]`, catch: `["States.TaskFailed"]`,
			errs:       []error{flaky{}, &ErrorA{}},
			wantSleeps: []time.Duration{1 * s}, wantCalls: 2, wantStatus: asl.StatusSucceeded, wantError: "ErrorA",
		},
		{
			name:  "a timeout is retried as States.Timeout",
			retry: `[{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}]`, catch: `["States.ALL"]`,
			errs:       []error{errBlock},
			wantSleeps: []time.Duration{1 * s}, wantCalls: 2, wantStatus: asl.StatusSucceeded,
		},
		{
			name:  "States.ALL neither retries nor catches States.Runtime",
			retry: `[{"ErrorEquals": ["States.ALL"]}]`, catch: `["States.ALL"]`,
			output:    `not json`,
			wantCalls: 1, wantStatus: asl.StatusFailed, wantError: asl.ErrorRuntime,
		},
		{
			name:  "an uncaught error fails the execution with its name",
			retry: `[]`, catch: `["flaky"]`,
			errs: []error{&NoProductionModelError{Model: "churn"}}, wantCalls: 1, wantStatus: asl.StatusFailed, wantError: "NoProductionModelError",
		},
		{
			name:  "FULL jitter draws each delay below the computed backoff",
			retry: `[{"ErrorEquals": ["flaky"], "IntervalSeconds": 10, "MaxAttempts": 3, "JitterStrategy": "FULL"}]`, catch: `["States.ALL"]`,
			errs:       []error{flaky{}, flaky{}, flaky{}},
			wantSleeps: []time.Duration{10 * s, 20 * s, 40 * s}, wantJitter: true, wantCalls: 4, wantStatus: asl.StatusSucceeded,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "retry_policy.asl.json", map[string]string{"Retry": tc.retry, "CatchErrors": tc.catch})
			sc := &script{errs: tc.errs}
			h := sc.handle
			if tc.output != "" {
				h = func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
					sc.mu.Lock()
					defer sc.mu.Unlock()
					sc.calls++
					return json.RawMessage(tc.output), nil
				}
			}
			r, clock := newRunner(m, asl.Handlers{"Work": h})
			ex := run(t, r, `{"job": "train"}`)
			if ex.Status != tc.wantStatus {
				t.Fatalf("status %s (%s: %s), want %s", ex.Status, ex.Error, ex.Cause, tc.wantStatus)
			}
			if tc.wantStatus == asl.StatusFailed && ex.Error != tc.wantError {
				t.Errorf("error %q, want %q", ex.Error, tc.wantError)
			}
			if tc.wantStatus == asl.StatusSucceeded {
				var out struct {
					Job   string `json:"job"`
					Error struct{ Error, Cause string }
				}
				if err := json.Unmarshal(ex.Output, &out); err != nil {
					t.Fatal(err)
				}
				if out.Error.Error != tc.wantError {
					t.Errorf("caught error %q, want %q (output %s)", out.Error.Error, tc.wantError, ex.Output)
				}
				if tc.wantError != "" && out.Job != "train" {
					t.Errorf("Catch ResultPath $.error lost the input: %s", ex.Output)
				}
			}
			sleeps := clock.Sleeps()
			if tc.wantJitter {
				if len(sleeps) != len(tc.wantSleeps) {
					t.Fatalf("sleeps %v, want %d of them", sleeps, len(tc.wantSleeps))
				}
				for i, d := range sleeps {
					if d < 0 || d > tc.wantSleeps[i] || d == tc.wantSleeps[i] {
						t.Errorf("jittered sleep %d = %v, want within [0, %v)", i, d, tc.wantSleeps[i])
					}
				}
			} else if fmt.Sprint(sleeps) != fmt.Sprint(tc.wantSleeps) {
				t.Errorf("sleeps %v, want %v", sleeps, tc.wantSleeps)
			}
			if got := sc.count(); got != tc.wantCalls {
				t.Errorf("handler called %d times, want %d", got, tc.wantCalls)
			}
			if tc.wantHistory != nil {
				if got := eventTypes(ex.History); fmt.Sprint(got) != fmt.Sprint(tc.wantHistory) {
					t.Errorf("history %v\nwant    %v", got, tc.wantHistory)
				}
			}
		})
	}
}

func TestCatchErrorOutput(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		wantError string
		wantCause string
	}{
		{"typed error", &NoProductionModelError{Model: "churn"}, "NoProductionModelError",
			`{"errorMessage":"no production model for churn","errorType":"NoProductionModelError"}`},
		{"wrapped error loses its type, as with aws-lambda-go", fmt.Errorf("evaluate: %w", &NoProductionModelError{Model: "churn"}), "wrapError",
			`{"errorMessage":"evaluate: no production model for churn","errorType":"wrapError"}`},
		{"ErrorName method", named{}, "ApprovalRejected",
			`{"errorMessage":"rejected by a reviewer","errorType":"ApprovalRejected"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "retry_policy.asl.json", map[string]string{"Retry": `[]`, "CatchErrors": `["States.ALL"]`})
			r, _ := newRunner(m, asl.Handlers{"Work": (&script{errs: []error{tc.err}}).handle})
			ex := run(t, r, `{"job": "evaluate"}`)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			want, _ := json.Marshal(map[string]any{"job": "evaluate", "error": map[string]string{"Error": tc.wantError, "Cause": tc.wantCause}})
			assertJSON(t, ex.Output, string(want))
			caught := findEvents(ex.History, asl.EventStateCaught)
			if len(caught) != 1 || caught[0].Next != "Recovered" || caught[0].Error != tc.wantError {
				t.Errorf("StateCaught events %+v, want one to Recovered with %s", caught, tc.wantError)
			}
		})
	}
}

func TestHandlerPanicFailsTheTask(t *testing.T) {
	m := load(t, "retry_policy.asl.json", map[string]string{"Retry": `[]`, "CatchErrors": `["States.ALL"]`})
	r, _ := newRunner(m, asl.Handlers{"Work": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var none []byte
		return json.RawMessage{none[len(in)]}, nil // index out of range: a runtime.Error panic
	}})
	ex := run(t, r, `{}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	var out struct{ Error struct{ Error, Cause string } }
	if err := json.Unmarshal(ex.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.Error.Error != "boundsError" || !strings.Contains(out.Error.Cause, "index out of range") {
		t.Errorf("caught %+v, want the runtime error's type name and message", out.Error)
	}
}

func TestFailState(t *testing.T) {
	tests := []struct {
		name, input          string
		wantError, wantCause string
		wantErrName          string
	}{
		{
			name:      "ErrorPath and an intrinsic CausePath",
			input:     `{"error": {"Error": "NoProductionModelError", "Cause": "no production model"}}`,
			wantError: "NoProductionModelError", wantCause: "no production model (run exec-1)",
		},
		{
			name:      "ErrorPath selecting nothing is States.Runtime",
			input:     `{"oops": 1}`,
			wantError: asl.ErrorRuntime, wantCause: "$.error.Error",
		},
		{
			name:      "ErrorPath selecting a non-string is States.Runtime",
			input:     `{"error": {"Error": 42, "Cause": "x"}}`,
			wantError: asl.ErrorRuntime, wantCause: "must select a string",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(load(t, "fail.asl.json", nil), nil)
			ex := run(t, r, tc.input)
			assertStatus(t, ex, asl.StatusFailed, tc.wantError)
			if !strings.Contains(ex.Cause, tc.wantCause) {
				t.Errorf("cause %q, want it to contain %q", ex.Cause, tc.wantCause)
			}
			last := ex.History[len(ex.History)-1]
			if last.Type != asl.EventExecutionFailed || last.State != "PipelineFailed" || last.Error != ex.Error {
				t.Errorf("last event %+v, want ExecutionFailed at PipelineFailed", last)
			}
		})
	}
}
