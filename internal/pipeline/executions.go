package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/registry"
)

// Execution statuses besides asl's (SUCCEEDED, FAILED, TIMED_OUT, ABORTED,
// PAUSED): an execution answered on Step Functions goes on there.
const StatusRunning = "RUNNING"

// Execution is one execution of the retraining state machine as the CLI
// reports it, whichever backend ran it.
type Execution struct {
	ID     string          `json:"executionArn"`
	Name   string          `json:"name"`
	Status string          `json:"status"` // asl.Status values, or StatusRunning
	Output json.RawMessage `json:"output,omitempty"`
	Error  string          `json:"error,omitempty"`
	Cause  string          `json:"cause,omitempty"`
	// Pending is what a PAUSED execution waits for, when known.
	Pending *Pending `json:"pending,omitempty"`
	// History is the local executor's event history (not kept for Step
	// Functions executions: see the console or GetExecutionHistory).
	History []asl.Event `json:"history,omitempty"`
}

// Pending is a promotion waiting for a person.
type Pending struct {
	Token string `json:"token"`
	registry.ApprovalInfo
	Bar float64 `json:"bar"` // what the candidate beat
}

// LocalStateMachine is the local executor's name for the retraining state
// machine (in execution ARNs).
const LocalStateMachine = "churnops-retrain"

// LocalExecutions runs executions of the retraining state machine on the
// local executor and keeps the paused ones in Approvals until a person
// answers. An approval is consumed only when the run resumed from it has
// durably moved past it (decided and then ended, or paused again), so an
// answer interrupted at any point — Ctrl-C or a kill — can be given again;
// a claim on the approval lets one answer at a time resume the run.
type LocalExecutions struct {
	Pipeline  *Pipeline
	Approvals registry.Approvals
	Observer  asl.Observer
	// Owner names this process in approval claims; Stale reports whether
	// another claim's owner is gone (a killed process), so its claim can be
	// taken over.
	Owner string
	Stale func(registry.ApprovalClaim) bool
}

// Start runs an execution named name (a UUID if empty) to its end or its
// pause. A name identifies one execution: a name an earlier execution used
// is refused up front (its candidate was trained on its own months).
func (l *LocalExecutions) Start(ctx context.Context, name string, in ExecutionInput) (*Execution, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if name != "" {
		if err := l.checkNameUnused(ctx, in.ModelName, asl.ExecutionARN(LocalStateMachine, name)); err != nil {
			return nil, err
		}
	}
	if err := l.AbandonStalePending(ctx, in.ModelName); err != nil {
		return nil, err
	}
	runner, err := l.Pipeline.LocalRunner(l.Observer)
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	exec, err := runner.Run(ctx, name, input)
	if err != nil {
		return report(exec), err
	}
	return l.settle(ctx, exec, nil)
}

// Approve resumes the execution paused on token as approved by by.
func (l *LocalExecutions) Approve(ctx context.Context, token, by string) (*Execution, error) {
	answer, err := json.Marshal(ApprovalAnswer{Approved: true, ApprovedBy: by})
	if err != nil {
		return nil, err
	}
	return l.answer(ctx, token, func(r *asl.Runner, cp *asl.Checkpoint) (*asl.Execution, error) {
		return r.Resume(ctx, cp, answer)
	})
}

// Reject resumes the execution paused on token as refused by by, for
// reason (SendTaskFailure with ApprovalRejected, as on AWS).
func (l *LocalExecutions) Reject(ctx context.Context, token, by, reason string) (*Execution, error) {
	cause, err := json.Marshal(Rejection{Reason: reason, DecidedBy: by})
	if err != nil {
		return nil, err
	}
	return l.answer(ctx, token, func(r *asl.Runner, cp *asl.Checkpoint) (*asl.Execution, error) {
		return r.ResumeFailure(ctx, cp, "ApprovalRejected", string(cause))
	})
}

// answer claims the approval under token, resumes its run and settles it.
// The approval stays stored until the run has moved past it; if the
// resumed run is interrupted, the claim is released so the answer can be
// given again.
func (l *LocalExecutions) answer(ctx context.Context, token string, resume func(*asl.Runner, *asl.Checkpoint) (*asl.Execution, error)) (*Execution, error) {
	ap, err := l.Approvals.Claim(ctx, token, l.Owner, l.Stale)
	if errors.Is(err, registry.ErrApprovalNotFound) {
		// The token a candidate shows, when its execution was interrupted
		// between recording it and storing the pause, stands for the pause
		// its execution stored before: answer that one.
		if stored, ferr := l.storedPauseFor(ctx, token); ferr != nil {
			return nil, ferr
		} else if stored != "" {
			token = stored
			ap, err = l.Approvals.Claim(ctx, token, l.Owner, l.Stale)
		}
	}
	switch {
	case errors.Is(err, registry.ErrApprovalNotFound):
		return nil, fmt.Errorf("no paused execution waits on token %s (see `churnops registry approvals`): %w", token, registry.ErrApprovalNotFound)
	case errors.Is(err, registry.ErrConflict):
		return nil, fmt.Errorf("another churnops process is answering token %s; wait for it to finish: %w", token, err)
	case err != nil:
		return nil, err
	}
	release := func(err error) error {
		if rerr := l.Approvals.Release(context.WithoutCancel(ctx), token, l.Owner); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	var cp asl.Checkpoint
	if err := json.Unmarshal(ap.Checkpoint, &cp); err != nil {
		return nil, release(fmt.Errorf("paused execution %s: corrupt checkpoint: %w", token, err))
	}
	runner, err := l.Pipeline.LocalRunner(l.Observer)
	if err != nil {
		return nil, release(err)
	}
	exec, err := resume(runner, &cp)
	if err != nil {
		// Interrupted (or not resumable): the approval stays, unclaimed. If
		// the run had already decided, answering again finds that decision
		// (Compare recognises its execution's own).
		return report(exec), release(err)
	}
	return l.settle(ctx, exec, &ap)
}

// settle stores what an execution's end or pause means for the approvals,
// with a context that survives an interruption (it is one short write): a
// pause is stored, replacing the approval it was resumed from; an end
// consumes the execution's approvals, and if the execution failed after an
// answer its candidate's pending decision is marked abandoned.
func (l *LocalExecutions) settle(ctx context.Context, exec *asl.Execution, resumed *registry.Approval) (*Execution, error) {
	ctx = context.WithoutCancel(ctx)
	out := report(exec)
	olds, err := l.approvalsOf(ctx, exec.ID)
	if err != nil {
		return out, err
	}
	if exec.Status == asl.StatusPaused {
		pending, cp, err := pendingOf(exec)
		if err != nil {
			return out, err
		}
		if err := l.Approvals.Replace(ctx, olds, pending.Token, cp, pending.ApprovalInfo); err != nil {
			return out, fmt.Errorf("persist paused execution: %w", err)
		}
		out.Pending = pending
		return out, nil
	}
	if resumed != nil && exec.Status != asl.StatusSucceeded {
		why := fmt.Sprintf("execution %s ended %s (%s) after the answer", exec.Name, exec.Status, exec.Error)
		if err := l.Pipeline.AbandonPending(ctx, resumed.Info.Model, resumed.Info.Version, resumed.Token, why); err != nil {
			return out, err
		}
	}
	for _, tok := range olds {
		if err := l.Approvals.Delete(ctx, tok); err != nil && !errors.Is(err, registry.ErrApprovalNotFound) {
			return out, fmt.Errorf("consume approval %s: %w", tok, err)
		}
	}
	return out, nil
}

// approvalsOf lists the tokens of the approvals stored for an execution.
func (l *LocalExecutions) approvalsOf(ctx context.Context, execution string) ([]string, error) {
	aps, err := l.Approvals.List(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ap := range aps {
		if ap.Info.Execution == execution {
			out = append(out, ap.Token)
		}
	}
	return out, nil
}

// pendingOf reads what a paused execution waits for from its checkpoint.
func pendingOf(exec *asl.Execution) (*Pending, []byte, error) {
	cp, err := json.Marshal(exec.Checkpoint)
	if err != nil {
		return nil, nil, err
	}
	var state ExecutionState
	_ = json.Unmarshal(exec.Checkpoint.Input, &state)
	if state.Candidate == nil || state.Production == nil {
		return nil, nil, fmt.Errorf("execution paused at %s before a candidate and its bar were known", exec.Checkpoint.State)
	}
	return &Pending{
		Token: exec.Checkpoint.Token,
		ApprovalInfo: registry.ApprovalInfo{Model: state.ModelName, Version: state.Candidate.Version, CandidateAUC: state.Candidate.ValAUC,
			ProductionAUC: state.Production.ValAUC, Execution: exec.ID},
		Bar: state.Production.Bar,
	}, cp, nil
}

// report is an asl execution as the CLI reports it.
func report(exec *asl.Execution) *Execution {
	if exec == nil {
		return nil
	}
	return &Execution{ID: exec.ID, Name: exec.Name, Status: string(exec.Status), Output: exec.Output,
		Error: exec.Error, Cause: exec.Cause, History: exec.History}
}

// checkNameUnused refuses an execution ID an earlier execution used: its
// candidate (registered under the ID) or its pause (stored under it).
func (l *LocalExecutions) checkNameUnused(ctx context.Context, model, id string) error {
	name := id[strings.LastIndexByte(id, ':')+1:]
	vs, err := l.Pipeline.Registry.List(ctx, model)
	if err != nil {
		return fmt.Errorf("list %s: %w", model, err)
	}
	for _, v := range vs {
		if strings.HasPrefix(v.RunID, id+"#") {
			return &InvalidInputError{Msg: fmt.Sprintf("execution name %q was used before: it trained %s v%d on %s; a name identifies one execution (pick another, or leave it out)", name, v.Model, v.Version, v.AsOf)}
		}
	}
	if olds, err := l.approvalsOf(ctx, id); err != nil || len(olds) > 0 {
		if err != nil {
			return err
		}
		return &InvalidInputError{Msg: fmt.Sprintf("execution %q is paused, waiting for approval %s; answer it with `churnops registry approve|reject`", name, olds[0])}
	}
	return nil
}
