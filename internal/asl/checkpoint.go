package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"
)

// checkpointVersion is bumped when Checkpoint's meaning changes.
const checkpointVersion = 1

// Checkpoint is everything needed to continue an execution paused on a
// .waitForTaskToken task, as JSON the caller persists (a file, a
// registry record) until someone approves or rejects.
type Checkpoint struct {
	Version int `json:"version"`
	// MachineDigest binds the checkpoint to the definition (after
	// substitution) it was taken with.
	MachineDigest string `json:"machineDigest"`
	// Execution identifies the execution and keeps its input and start
	// time for the context object.
	Execution ExecutionInfo `json:"execution"`
	// State is the paused Task state.
	State string `json:"state"`
	// StateEnteredTime is when the state was entered ($$.State.EnteredTime).
	StateEnteredTime time.Time `json:"stateEnteredTime"`
	// Input is the state's raw input, which ResultPath merges into.
	Input json.RawMessage `json:"input"`
	// Parameters is the effective input the resource received.
	Parameters json.RawMessage `json:"parameters"`
	// Token is the task token ($$.Task.Token) to answer.
	Token string `json:"token"`
	// Deadline is when TimeoutSeconds expires; zero without a timeout.
	Deadline time.Time `json:"deadline,omitzero"`
	// RetryCounts are the attempts used per retrier, since a
	// ResumeFailure may still be retried.
	RetryCounts []int `json:"retryCounts"`
	// Transitions counts state transitions so far (MaxTransitions).
	Transitions int `json:"transitions"`
	// History is the execution history up to the pause.
	History []Event `json:"history"`
}

// Resume continues a paused execution as SendTaskSuccess does: output
// becomes the Task's result and goes through its ResultSelector,
// ResultPath and OutputPath. If the Task's TimeoutSeconds has passed, the
// Task fails with States.Timeout instead (through its Retry and Catch),
// as it would have on AWS.
func (r *Runner) Resume(ctx context.Context, cp *Checkpoint, output json.RawMessage) (*Execution, error) {
	v, err := parseJSON(output)
	if err != nil {
		return nil, fmt.Errorf("asl: task output is not valid JSON: %w", err)
	}
	return r.resume(ctx, cp, &taskOutcome{result: v})
}

// ResumeFailure continues a paused execution as SendTaskFailure does: the
// Task fails with errorName and cause, and its Retry (re-invoking the
// resource with a new token) and Catch apply.
func (r *Runner) ResumeFailure(ctx context.Context, cp *Checkpoint, errorName, cause string) (*Execution, error) {
	return r.resume(ctx, cp, &taskOutcome{err: &stateError{Name: errorName, Cause: cause}})
}

// ExecutionARN is the ID ($$.Execution.Id) Run gives the execution named
// name of the state machine named stateMachine, so a caller can find what
// an earlier execution of that name left behind.
func ExecutionARN(stateMachine, name string) string {
	return localARNPrefix + "execution:" + stateMachine + ":" + name
}

// CheckCheckpoint reports why cp cannot be resumed by r (an ErrCheckpoint:
// another definition, another layout, not a callback task), or nil.
func (r *Runner) CheckCheckpoint(cp *Checkpoint) error {
	_, err := r.checkpointState(cp)
	return err
}

// checkpointState returns the paused task state of a resumable cp.
func (r *Runner) checkpointState(cp *Checkpoint) (*state, error) {
	if r.Machine == nil {
		return nil, errors.New("asl: Runner has no Machine")
	}
	if cp == nil {
		return nil, fmt.Errorf("%w: nil checkpoint", ErrCheckpoint)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCheckpoint, cp.Version, checkpointVersion)
	}
	if cp.MachineDigest != r.Machine.digest {
		return nil, fmt.Errorf("%w: taken with another state machine definition", ErrCheckpoint)
	}
	st, ok := r.Machine.states[cp.State]
	if !ok || st.typ != typeTask || !st.res.callback {
		return nil, fmt.Errorf("%w: state %q is not a .waitForTaskToken task", ErrCheckpoint, cp.State)
	}
	if cp.Token == "" || len(cp.RetryCounts) != len(st.retry) {
		return nil, fmt.Errorf("%w: missing token or retry counts", ErrCheckpoint)
	}
	return st, nil
}

func (r *Runner) resume(ctx context.Context, cp *Checkpoint, outcome *taskOutcome) (*Execution, error) {
	st, err := r.checkpointState(cp)
	if err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	raw, err := parseJSON(cp.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: state input: %v", ErrCheckpoint, err)
	}
	in, err := parseJSON(cp.Execution.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: execution input: %v", ErrCheckpoint, err)
	}
	x := r.newRun()
	x.info = cp.Execution
	x.input = in
	x.history = slices.Clone(cp.History)
	x.emit(Event{Type: EventExecutionResumed, State: st.name, StateType: st.typ, Token: cp.Token})
	if err := ctx.Err(); err != nil {
		return x.abort(err)
	}
	if x.machineTimedOut() {
		return x.timedOut(), nil
	}
	if !cp.Deadline.IsZero() && !x.clock.Now().Before(cp.Deadline) {
		outcome = &taskOutcome{err: &stateError{Name: ErrorTimeout, Cause: fmt.Sprintf(
			"the task was not answered within TimeoutSeconds (%d); the output sent is discarded", st.timeoutSeconds)}}
	}
	if outcome.err != nil {
		x.emit(Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: outcome.err.Name, Cause: outcome.err.Cause})
	} else {
		x.emit(Event{Type: EventTaskSucceeded, State: st.name, StateType: st.typ, Resource: st.res.arn, Output: rawJSON(outcome.result)})
	}
	retries := slices.Clone(cp.RetryCounts)
	total := 0
	for _, n := range retries {
		total += n
	}
	rs := &retryState{entered: cp.StateEnteredTime, retries: retries, retryCount: total, pending: outcome}
	return x.loop(ctx, x.topFrame(cp.Transitions), st.name, raw, rs)
}
