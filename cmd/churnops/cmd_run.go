package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
)

func cmdRun(ctx context.Context, a *app, args []string) error {
	fs := a.flags("run")
	in := pipeline.ExecutionInput{}
	fs.StringVar(&in.ReferenceAsOf, "reference-as-of", "", `reference month as_of (YYYY-MM-DD, or "previous": the month ingested before current)`)
	fs.StringVar(&in.CurrentAsOf, "current-as-of", "", `current month as_of (YYYY-MM-DD, or "latest")`)
	fs.Float64Var(&in.Threshold, "threshold", pipeline.DefaultThreshold, "retrain when drift_share >= threshold")
	fs.Float64Var(&in.Delta, "delta", pipeline.DefaultDelta, "promote when candidate AUC > production AUC + delta")
	fs.Float64Var(&in.MinAUC, "min-auc", pipeline.DefaultMinAUC, "the bar for a first model when there is no Production model")
	fs.BoolVar(&in.RequireApproval, "require-approval", false, "pause before promoting until `churnops registry approve TOKEN`")
	fs.Int64Var(&in.Seed, "seed", pipeline.DefaultSeed, "training seed")
	name := fs.String("name", "", "execution name (default: a UUID)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "reference-as-of", "current-as-of"); err != nil {
		return err
	}
	in.ModelName = a.model
	if err := in.Validate(); err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	if st.AWS != nil {
		return runOnStepFunctions(ctx, a, in, *name)
	}
	_, err = runExecution(ctx, a, st, in, *name)
	a.printRunFiles(st, a.lastRun)
	return err
}

// runOnStepFunctions starts the deployed state machine and waits for it.
func runOnStepFunctions(ctx context.Context, a *app, in pipeline.ExecutionInput, name string) error {
	sf, err := awsbackend.NewStepFunctions(ctx)
	if err != nil {
		return err
	}
	input, err := json.Marshal(in)
	if err != nil {
		return err
	}
	a.printf("starting an execution of the deployed state machine (%s vs %s)…\n", in.CurrentAsOf, in.ReferenceAsOf)
	exec, err := sf.Run(ctx, name, input, 2*time.Second)
	if err != nil {
		return err
	}
	a.printf("execution %s: %s\n", exec.Arn, exec.Status)
	if err := a.emit(exec); err != nil {
		return err
	}
	if exec.Status != "SUCCEEDED" {
		return fmt.Errorf("execution %s: %s: %s", strings.ToLower(exec.Status), exec.Error, exec.Cause)
	}
	printSummary(a, exec.Output)
	return nil
}

// runExecution runs one execution of the retraining state machine on the
// local executor, printing each state as it completes, and handles a pause
// for approval. It returns the execution.
func runExecution(ctx context.Context, a *app, st *stores, in pipeline.ExecutionInput, name string) (*asl.Execution, error) {
	p := a.pipeline(st)
	runner, err := p.LocalRunner(a.observer())
	if err != nil {
		return nil, err
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	a.printf("execution: %s vs %s (threshold=%g delta=%g min_auc=%g model=%s)\n", in.CurrentAsOf, in.ReferenceAsOf, in.Threshold, in.Delta, in.MinAUC, in.ModelName)
	exec, err := runner.Run(ctx, name, input)
	if err == nil {
		err = a.finish(ctx, st, exec)
	}
	if exec != nil {
		a.lastRun = a.afterExecution(ctx, st, exec.ID, exec.Name, exec.History)
	}
	return exec, err
}

// finish reports an execution's end (or pause) and persists a paused one.
func (a *app) finish(ctx context.Context, st *stores, exec *asl.Execution) error {
	switch exec.Status {
	case asl.StatusSucceeded:
		printSummary(a, exec.Output)
		return a.emit(exec)
	case asl.StatusPaused:
		if st.Approvals == nil {
			return errors.New("the execution paused for approval, but this backend keeps no paused local executions; use --backend local or the deployed state machine")
		}
		cp, err := json.Marshal(exec.Checkpoint)
		if err != nil {
			return err
		}
		var state pipeline.ExecutionState
		_ = json.Unmarshal(exec.Checkpoint.Input, &state)
		if state.Candidate == nil || state.Production == nil {
			return fmt.Errorf("execution paused at %s before a candidate and its bar were known", exec.Checkpoint.State)
		}
		info := registry.ApprovalInfo{Model: state.ModelName, Version: state.Candidate.Version, CandidateAUC: state.Candidate.ValAUC, ProductionAUC: state.Production.ValAUC}
		if err := st.Approvals.Put(ctx, exec.Checkpoint.Token, cp, info); err != nil {
			return fmt.Errorf("persist paused execution: %w", err)
		}
		a.printf("[APPROVAL] candidate v%d (auc=%.4f) beats the bar %.4f; waiting for a person.\n", state.Candidate.Version, state.Candidate.ValAUC, state.Production.Bar)
		a.printf("           approve: churnops registry approve %s %s\n           reject:  churnops registry reject %s %s\n", exec.Checkpoint.Token, a.target(), exec.Checkpoint.Token, a.target())
		return a.emit(exec)
	default:
		if err := a.emit(exec); err != nil {
			return err
		}
		return fmt.Errorf("execution %s %s: %s: %s", exec.Name, strings.ToLower(string(exec.Status)), exec.Error, exec.Cause)
	}
}

// observer prints one line per state as the execution goes (not in --json
// mode, where the history is part of the output).
func (a *app) observer() asl.Observer {
	return func(ev asl.Event) {
		if a.json {
			return
		}
		switch ev.Type {
		case asl.EventStateRetried:
			a.printf("  ↻ %-16s retry %d after %s: %s\n", ev.State, ev.Attempt, ev.Delay, ev.Error)
			return
		case asl.EventStateCaught:
			a.printf("  ✗ %-16s %s: %s -> %s\n", ev.State, ev.Error, firstLine(ev.Cause), ev.Next)
			return
		case asl.EventStateExited:
		default:
			return
		}
		var s pipeline.ExecutionState
		_ = json.Unmarshal(ev.Output, &s)
		detail := ""
		switch ev.State {
		case "CheckProduction":
			detail = "no Production model yet: bootstrap from the reference month"
			if b := s.Baseline; b != nil && b.HasProduction {
				detail = fmt.Sprintf("Production is v%d", b.Version)
			}
		case "Drift":
			if d := s.Drift; d != nil {
				detail = strings.TrimSpace(fmt.Sprintf("%s vs %s: drift_share=%.4f (%d/%d columns) %s", d.CurrentAsOf, d.ReferenceAsOf, d.DriftShare, d.DriftedColumns, d.Columns, strings.Join(d.Drifted, " ")))
			}
		case "Train":
			if c := s.Candidate; c != nil {
				m := c.Metrics
				detail = fmt.Sprintf("candidate v%d on %s: val_auc=%.4f f1=%.4f acc=%.4f (%g train rows, %.2fs fit)", c.Version, runAsOf(&s), c.ValAUC, m["val_f1"], m["val_acc"], m["train_rows"], m["train_time_s"])
			}
		case "Evaluate":
			switch p := s.Production; {
			case p == nil:
			case p.HasProduction:
				detail = fmt.Sprintf("Production v%d on the same validation users: val_auc=%.4f, bar=%.4f", p.Version, p.ValAUC, p.Bar)
			default:
				detail = fmt.Sprintf("no Production model: bar is the floor min_auc=%.4f", p.Bar)
			}
		case "Promote", "Skip", "Reject":
			if s.Compare != nil {
				detail = s.Compare.Decision.Outcome
			}
		}
		if ev.StateType == "Choice" {
			detail = "-> " + ev.Next
		}
		a.printf("  ▸ %-16s %7s  %s\n", ev.State, shortDur(ev.Duration), detail)
	}
}

func shortDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// printSummary prints the lab's closing lines for a finished execution.
func printSummary(a *app, output json.RawMessage) {
	var s pipeline.ExecutionState
	if err := json.Unmarshal(output, &s); err != nil {
		return
	}
	if b := s.Bootstrap; b != nil {
		a.printf("[BOOTSTRAP] v%d trained on %s: auc=%.4f vs floor %.4f -> %s\n", b.CandidateVersion, s.ReferenceAsOf, b.CandidateAUC, b.Bar, b.Outcome)
	}
	if s.Result != nil && s.Result.Outcome == "no_drift" {
		share := 0.0
		if s.Drift != nil {
			share = s.Drift.DriftShare
		}
		a.printf("[DECISION] no_drift\n")
		a.printf("[SUMMARY] as_of=%s drift_share=%.4f < threshold=%.4f -> no retrain\n", s.CurrentAsOf, share, s.Threshold)
		return
	}
	if s.Compare == nil {
		return
	}
	d := s.Compare.Decision
	// The registry decision holds the numbers compared before the action.
	prodV, prodAUC := d.Decision.ProductionVersion, d.Decision.ProductionAUC
	a.printf("[COMPARE] candidate_auc=%.4f vs prod_auc=%.4f (delta=%.4f)\n", d.CandidateAUC, prodAUC, d.Delta)
	a.printf("[DECISION] %s\n", d.Outcome)
	a.printf("[SUMMARY] as_of=%s cand_v=%d cand_auc=%.4f prod_v=%d prod_auc=%.4f -> %s\n", runAsOf(&s), d.CandidateVersion, d.CandidateAUC, prodV, prodAUC, d.Outcome)
}

// resumeApproval answers a paused execution (approve or reject) and runs it
// to its end.
func resumeApproval(ctx context.Context, a *app, st *stores, token string, approve bool, reason string) error {
	if st.AWS != nil {
		sf, err := awsbackend.NewStepFunctions(ctx)
		if err != nil {
			return err
		}
		if approve {
			err = sf.Approve(ctx, token)
		} else {
			err = sf.Reject(ctx, token, reason)
		}
		if err == nil {
			a.printf("answered; the execution continues on Step Functions\n")
		}
		return err
	}
	ap, err := st.Approvals.Get(ctx, token)
	if errors.Is(err, registry.ErrApprovalNotFound) {
		return fmt.Errorf("no paused execution waits on token %s (see `churnops registry approvals`)", token)
	}
	if err != nil {
		return err
	}
	var cp asl.Checkpoint
	if err := json.Unmarshal(ap.Checkpoint, &cp); err != nil {
		return fmt.Errorf("paused execution %s: corrupt checkpoint: %w", token, err)
	}
	// Delete first: of two concurrent approvers only one resumes the run.
	if err := st.Approvals.Delete(ctx, token); err != nil {
		return fmt.Errorf("claim approval %s: %w", token, err)
	}
	runner, err := a.pipeline(st).LocalRunner(a.observer())
	if err != nil {
		return err
	}
	var exec *asl.Execution
	if approve {
		a.printf("approved: resuming %s\n", cp.Execution.Name)
		exec, err = runner.Resume(ctx, &cp, json.RawMessage(`{"approved": true}`))
	} else {
		a.printf("rejected: resuming %s\n", cp.Execution.Name)
		exec, err = runner.ResumeFailure(ctx, &cp, "ApprovalRejected", reason)
	}
	if err != nil {
		// Put the approval back so that the person can try again.
		if perr := st.Approvals.Put(ctx, token, ap.Checkpoint, ap.Info); perr != nil {
			return errors.Join(err, perr)
		}
		return err
	}
	err = a.finish(ctx, st, exec)
	a.printRunFiles(st, a.afterExecution(ctx, st, exec.ID, exec.Name, exec.History))
	return err
}

// runAsOf is the month the run trained on, "" before Bootstrap or Retrain.
func runAsOf(s *pipeline.ExecutionState) string {
	if s.Run == nil {
		return ""
	}
	return s.Run.AsOf
}
