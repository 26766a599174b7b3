package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// approvals records approval requests, as the compare function does.
type approvals struct {
	mu       sync.Mutex
	requests []map[string]any
	fail     error
}

func (a *approvals) handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var req map[string]any
	if err := json.Unmarshal(in, &req); err != nil {
		return nil, err
	}
	a.requests = append(a.requests, req)
	if a.fail != nil {
		return nil, a.fail
	}
	return json.RawMessage(`{"status": "approval requested"}`), nil
}

// pause runs callback.asl.json until it pauses, and round-trips the
// checkpoint through JSON as a caller persisting it would.
func pause(t *testing.T, r *asl.Runner) *asl.Checkpoint {
	t.Helper()
	ex := run(t, r, `{"candidate": {"version": 4, "auc": 0.71}}`)
	if ex.Status != asl.StatusPaused || ex.Checkpoint == nil {
		t.Fatalf("status %s (%s: %s), want PAUSED with a checkpoint", ex.Status, ex.Error, ex.Cause)
	}
	b, err := json.Marshal(ex.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	var cp asl.Checkpoint
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatal(err)
	}
	return &cp
}

func TestCallbackPauseAndResume(t *testing.T) {
	a := &approvals{}
	r, clock := newRunner(load(t, "callback.asl.json", nil), asl.Handlers{"compare": a.handle})
	cp := pause(t, r)

	if len(a.requests) != 1 {
		t.Fatalf("%d approval requests, want 1", len(a.requests))
	}
	req := a.requests[0]
	if req["task_token"] != cp.Token || len(cp.Token) != 64 {
		t.Errorf("handler got token %v, checkpoint has %q (want 64 hex digits)", req["task_token"], cp.Token)
	}
	if req["execution"] != "arn:aws:states:local:000000000000:execution:retrain:exec-1" || req["retry"] != 0.0 {
		t.Errorf("request %v lacks the execution ARN or retry count", req)
	}
	if cp.State != "WaitForApproval" || !cp.Deadline.Equal(clock.Now().Add(604800*time.Second)) {
		t.Errorf("checkpoint state %q deadline %v", cp.State, cp.Deadline)
	}
	assertJSON(t, cp.Input, `{"candidate": {"version": 4, "auc": 0.71}}`)

	clock.Advance(2 * time.Hour) // a reviewer takes their time
	ex, err := r.Resume(context.Background(), cp, json.RawMessage(`{"approved_by": "ada"}`))
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `{"candidate": {"version": 4, "auc": 0.71}, "approval": {"approved_by": "ada"}, "outcome": "promoted"}`)
	types := eventTypes(ex.History)
	if types[0] != asl.EventExecutionStarted || len(findEvents(ex.History, asl.EventExecutionPaused)) != 1 ||
		len(findEvents(ex.History, asl.EventExecutionResumed)) != 1 {
		t.Errorf("history %v should span the pause", types)
	}
	exited := findEvents(ex.History, asl.EventStateExited)[0]
	if exited.State != "WaitForApproval" || exited.Duration != 2*time.Hour {
		t.Errorf("the paused state exited after %v, want 2h", exited.Duration)
	}
}

func TestCallbackFailures(t *testing.T) {
	tests := []struct {
		name        string
		advance     time.Duration
		errName     string
		cause       string
		wantStatus  asl.Status
		wantError   string // execution error, or the caught approval_error.Error
		wantOutcome string
	}{
		{name: "rejection is caught", errName: "ApprovalRejected", cause: "too risky",
			wantStatus: asl.StatusSucceeded, wantError: "ApprovalRejected", wantOutcome: "rejected"},
		{name: "an error nothing catches fails the execution", errName: "Mystery", cause: "?",
			wantStatus: asl.StatusFailed, wantError: "Mystery"},
		{name: "an answer after TimeoutSeconds is a States.Timeout", advance: 8 * 24 * time.Hour,
			wantStatus: asl.StatusSucceeded, wantError: asl.ErrorTimeout, wantOutcome: "rejected"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, clock := newRunner(load(t, "callback.asl.json", nil), asl.Handlers{"compare": (&approvals{}).handle})
			cp := pause(t, r)
			clock.Advance(tc.advance)
			var ex *asl.Execution
			var err error
			if tc.errName != "" {
				ex, err = r.ResumeFailure(context.Background(), cp, tc.errName, tc.cause)
			} else {
				ex, err = r.Resume(context.Background(), cp, json.RawMessage(`{"approved_by": "late"}`))
			}
			if err != nil {
				t.Fatal(err)
			}
			if ex.Status != tc.wantStatus {
				t.Fatalf("status %s (%s), want %s", ex.Status, ex.Error, tc.wantStatus)
			}
			if tc.wantStatus == asl.StatusFailed {
				if ex.Error != tc.wantError || ex.Cause != tc.cause {
					t.Errorf("error %q cause %q, want %q %q", ex.Error, ex.Cause, tc.wantError, tc.cause)
				}
				return
			}
			var out struct {
				Outcome       string
				ApprovalError struct{ Error, Cause string } `json:"approval_error"`
				Approval      any
			}
			if err := json.Unmarshal(ex.Output, &out); err != nil {
				t.Fatal(err)
			}
			if out.Outcome != tc.wantOutcome || out.ApprovalError.Error != tc.wantError || out.Approval != nil {
				t.Errorf("output %s, want outcome %q after %s", ex.Output, tc.wantOutcome, tc.wantError)
			}
			if tc.errName != "" && out.ApprovalError.Cause != tc.cause {
				t.Errorf("SendTaskFailure cause %q, want %q", out.ApprovalError.Cause, tc.cause)
			}
		})
	}
}

func TestCallbackFailureIsRetriedWithANewToken(t *testing.T) {
	a := &approvals{}
	r, clock := newRunner(load(t, "callback.asl.json", nil), asl.Handlers{"compare": a.handle})
	first := pause(t, r)
	ex, err := r.ResumeFailure(context.Background(), first, "Transient", "queue hiccup")
	if err != nil {
		t.Fatal(err)
	}
	if ex.Status != asl.StatusPaused {
		t.Fatalf("status %s, want PAUSED again after the retry", ex.Status)
	}
	second := ex.Checkpoint
	if second.Token == first.Token || fmt.Sprint(second.RetryCounts) != "[1]" {
		t.Errorf("retry reused token %q or counts %v", second.Token, second.RetryCounts)
	}
	if len(a.requests) != 2 || a.requests[1]["task_token"] != second.Token || a.requests[1]["retry"] != 1.0 {
		t.Errorf("requests %v: the retry should send the new token and RetryCount 1", a.requests)
	}
	if fmt.Sprint(clock.Sleeps()) != "[3s]" {
		t.Errorf("slept %v before retrying, want [3s]", clock.Sleeps())
	}
	// The retrier is exhausted now: a second Transient is not retried.
	ex, err = r.ResumeFailure(context.Background(), second, "Transient", "again")
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, ex, asl.StatusFailed, "Transient")
	// The stale first checkpoint can still be answered (the caller owns
	// token bookkeeping), but only with this definition.
	other := load(t, "sqs_callback.asl.json", map[string]string{"QueueUrl": "q"})
	_, err = (&asl.Runner{Machine: other, Handlers: asl.Handlers{"arn:aws:states:::sqs:sendMessage": a.handle}}).Resume(context.Background(), first, json.RawMessage(`{}`))
	if !errors.Is(err, asl.ErrCheckpoint) {
		t.Errorf("resuming on another machine: err = %v, want ErrCheckpoint", err)
	}
}

func TestCallbackHandlerErrorFailsBeforePausing(t *testing.T) {
	a := &approvals{fail: named{}}
	r, _ := newRunner(load(t, "callback.asl.json", nil), asl.Handlers{"compare": a.handle})
	ex := run(t, r, `{"candidate": {}}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `{"candidate": {}, "outcome": "rejected", "approval_error": {"Error": "ApprovalRejected",
		"Cause": "{\"errorMessage\":\"rejected by a reviewer\",\"errorType\":\"ApprovalRejected\"}"}}`)
}

func TestServiceCallback(t *testing.T) {
	var sent []string
	queue := (&static{out: `{"MessageId": "m-1"}`}).handle
	m := load(t, "sqs_callback.asl.json", map[string]string{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/approvals"})
	r, _ := newRunner(m, asl.Handlers{"arn:aws:states:::sqs:sendMessage": record(&sent, queue)})
	ex := run(t, r, `{"question": "promote v4?"}`)
	if ex.Status != asl.StatusPaused {
		t.Fatalf("status %s, want PAUSED", ex.Status)
	}
	want, _ := json.Marshal(map[string]any{"QueueUrl": "https://sqs.eu-west-1.amazonaws.com/123456789012/approvals",
		"MessageBody": map[string]string{"token": ex.Checkpoint.Token, "question": "promote v4?"}})
	assertJSON(t, json.RawMessage(sent[0]), string(want))
	ex, err := r.Resume(context.Background(), ex.Checkpoint, json.RawMessage(`"yes"`))
	if err != nil {
		t.Fatal(err)
	}
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `"yes"`)
}

func TestResumeRejectsBadCheckpoints(t *testing.T) {
	r, _ := newRunner(load(t, "callback.asl.json", nil), asl.Handlers{"compare": (&approvals{}).handle})
	good := pause(t, r)
	tests := []struct {
		name   string
		mutate func(cp *asl.Checkpoint)
		output string
	}{
		{"nil", nil, `{}`},
		{"wrong version", func(cp *asl.Checkpoint) { cp.Version = 99 }, `{}`},
		{"other definition", func(cp *asl.Checkpoint) { cp.MachineDigest = "abc" }, `{}`},
		{"not a callback state", func(cp *asl.Checkpoint) { cp.State = "Promoted" }, `{}`},
		{"no token", func(cp *asl.Checkpoint) { cp.Token = "" }, `{}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var cp *asl.Checkpoint
			if tc.mutate != nil {
				c := *good
				tc.mutate(&c)
				cp = &c
			}
			if _, err := r.Resume(context.Background(), cp, json.RawMessage(tc.output)); !errors.Is(err, asl.ErrCheckpoint) {
				t.Errorf("err = %v, want ErrCheckpoint", err)
			}
		})
	}
	if _, err := r.Resume(context.Background(), good, json.RawMessage(`{not json`)); err == nil {
		t.Error("Resume accepted an invalid JSON output")
	}
}
