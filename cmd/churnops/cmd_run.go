package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/pipeline"
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
	fs.IntVar(&in.RowBudget, "row-budget", dataset.DefaultSampleRows, "customers trained and evaluated on: a sample of the month, the same users month after month")
	fs.BoolVar(&in.Contributions, "contributions", false, "add each feature's contribution to the batch scores")
	fs.IntVar(&in.ShardRows, "shard-rows", 0, fmt.Sprintf("with --incoming: customers per shard (default %d)", ingest.DefaultRowBudget))
	incoming := fs.String("incoming", "", "a month to ingest first, which becomes the current month: a directory, a key prefix (incoming/as_of=D/) or a marker key (incoming/as_of=D/_SUCCESS) in the state's blobs (on AWS, the bucket)")
	asOf := fs.String("as-of", "", "the --incoming month's as_of (default: its as_of=D segment)")
	name := fs.String("name", "", "execution name (default: a UUID; with --incoming, derived from the month and its marker)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *incoming != "" {
		in.Incoming = incomingOf(*incoming, *asOf, a.backend)
	} else if err := required(fs, "reference-as-of", "current-as-of"); err != nil {
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
	if in.Incoming != nil && *name == "" {
		*name = incomingName(ctx, st, in.Incoming, in.CurrentAsOf)
	}
	_, err = runExecution(ctx, a, st, in, *name)
	a.printRunFiles(st, a.lastRun)
	return err
}

// runExecution runs one execution of the retraining state machine on the
// backend, printing each state as it completes (locally), and reports its
// end or its pause for approval.
func runExecution(ctx context.Context, a *app, st *stores, in pipeline.ExecutionInput, name string) (*pipeline.Execution, error) {
	ex, err := a.executions(ctx, st)
	if err != nil {
		return nil, err
	}
	what := fmt.Sprintf("%s vs %s", in.CurrentAsOf, in.ReferenceAsOf)
	if in.Incoming != nil {
		what = fmt.Sprintf("ingest %s, then %s vs %s", incomingString(in.Incoming), in.CurrentAsOf, in.ReferenceAsOf)
	}
	a.printf("execution: %s (threshold=%g delta=%g min_auc=%g model=%s)\n", what, in.Threshold, in.Delta, in.MinAUC, in.ModelName)
	exec, err := ex.Start(ctx, name, in)
	if exec != nil {
		a.lastRun = a.afterExecution(ctx, st, exec.ID, exec.Name, exec.History)
	}
	if err != nil {
		return exec, err
	}
	if err := a.finish(exec); err != nil {
		return exec, err
	}
	a.printReliesOn(ctx, st, exec)
	return exec, nil
}

// printReliesOn prints what each version the execution trained relies on
// most (its recorded feature importance), read from the registry: the
// state machine keeps only the candidate's number and metrics.
func (a *app) printReliesOn(ctx context.Context, st *stores, exec *pipeline.Execution) {
	if a.json {
		return
	}
	var s pipeline.ExecutionState
	if json.Unmarshal(exec.Output, &s) != nil {
		return
	}
	var trained []int
	if s.Bootstrap != nil {
		trained = append(trained, s.Bootstrap.CandidateVersion)
	}
	if s.Candidate != nil && !slices.Contains(trained, s.Candidate.Version) {
		trained = append(trained, s.Candidate.Version)
	}
	for _, n := range trained {
		v, err := st.Registry.Get(ctx, a.model, n)
		if err != nil || len(v.Importance) == 0 {
			continue
		}
		a.printf("[RELIES ON] v%d: %s (mean |contribution| on its validation users; churnops registry show %d)\n", n, reliesOn(v), n)
	}
}

// finish reports an execution's end or pause.
func (a *app) finish(exec *pipeline.Execution) error {
	if len(exec.History) == 0 && exec.ID != "" {
		a.printf("execution %s: %s\n", exec.ID, exec.Status)
	}
	switch exec.Status {
	case string(asl.StatusSucceeded):
		printSummary(a, exec.Output)
	case pipeline.StatusRunning:
		a.printf("answered; the execution goes on on Step Functions (see `churnops registry list`)\n")
	case string(asl.StatusPaused):
		if p := exec.Pending; p != nil {
			a.printf("[APPROVAL] candidate v%d (auc=%.4f) beats the bar %.4f; waiting for a person.\n", p.Version, p.CandidateAUC, p.Bar)
			a.printf("           approve: churnops registry approve %s %s\n           reject:  churnops registry reject %s %s\n", p.Token, a.target(), p.Token, a.target())
		} else {
			a.printf("[APPROVAL] the execution waits for a person: the token is on the candidate (`churnops registry list`)\n")
		}
	default:
		if err := a.emit(exec); err != nil {
			return err
		}
		return fmt.Errorf("execution %s %s: %s: %s", exec.Name, strings.ToLower(exec.Status), exec.Error, exec.Cause)
	}
	return a.emit(exec)
}

// observer prints one line per state as the execution goes (not in --json
// mode, where the history is part of the output). A Map state's items
// are not printed one by one: its progress is ("BuildShards 7/20 shards"),
// at most every few seconds, then its line when it exits.
func (a *app) observer() asl.Observer {
	progress := newThrottle(func(what string, done, total int) {
		a.printf("  … %-16s %d/%d %s\n", what, done, total, mapItems(what))
	})
	return func(ev asl.Event) {
		if a.json {
			return
		}
		if ev.Map != nil {
			switch ev.Type {
			case asl.EventMapRunStarted, asl.EventMapIterationSucceeded, asl.EventMapIterationFailed:
				if ev.Map.Parent == nil && ev.Map.Items > 0 {
					progress.update(ev.Map.State, ev.Map.Succeeded+ev.Map.Failed, ev.Map.Items)
				}
			}
			if ev.State != ev.Map.State {
				return // a state inside an item
			}
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
		if quietStates[ev.State] {
			return
		}
		var s pipeline.ExecutionState
		_ = json.Unmarshal(ev.Output, &s)
		detail := stateDetail(ev.State, &s)
		if ev.StateType == "Choice" {
			detail = "-> " + ev.Next
		}
		a.printf("  ▸ %-16s %7s  %s\n", ev.State, shortDur(ev.Duration), detail)
	}
}

// quietStates are plumbing not worth a line: the input's defaults.
var quietStates = map[string]bool{"Defaults": true, "ApplyDefaults": true}

// mapItems names what a Map state's items are.
func mapItems(state string) string {
	switch {
	case strings.HasSuffix(state, "Files"):
		return "files"
	case strings.HasSuffix(state, "Shards"):
		return "shards"
	}
	return "items"
}

// stateDetail says what a state found, from the state data it left.
func stateDetail(state string, s *pipeline.ExecutionState) string {
	switch state {
	case "PlanIngest":
		if p := s.Ingest; p != nil {
			if p.Duplicate != "" {
				return "a duplicate of " + p.Duplicate
			}
			return fmt.Sprintf("%s: %d files into %d shards", p.AsOf, len(p.Parts), p.K)
		}
	case "CommitIngest":
		if c := s.Ingested; c != nil {
			d := fmt.Sprintf("stored %s: %d customers in %d shards", c.AsOf, c.Rows, c.Shards)
			if c.AlreadyIngested {
				d += " (already ingested: the same data)"
			}
			if c.Published {
				d += fmt.Sprintf("; %d online feature records published", c.OnlineFeatures)
			}
			return d
		}
	case "CheckProduction":
		detail := "no Production model yet: bootstrap from the reference month"
		if b := s.Baseline; b != nil && b.HasProduction {
			detail = fmt.Sprintf("Production is v%d", b.Version)
		}
		if b := s.Baseline; b != nil && b.CurrentAsOf != "" {
			detail += fmt.Sprintf(" (%s vs %s)", b.CurrentAsOf, b.ReferenceAsOf)
		}
		return detail
	case "Drift":
		if d := s.Drift; d != nil {
			return strings.TrimSpace(fmt.Sprintf("%s vs %s: drift_share=%.4f (%d/%d columns) %s", d.CurrentAsOf, d.ReferenceAsOf, d.DriftShare, d.DriftedColumns, d.Columns, strings.Join(d.Drifted, " ")))
		}
	case "Train":
		if c := s.Candidate; c != nil {
			m := c.Metrics
			return fmt.Sprintf("candidate v%d on %s: val_auc=%.4f f1=%.4f acc=%.4f (%g train rows, %.2fs fit)", c.Version, runAsOf(s), c.ValAUC, m["val_f1"], m["val_acc"], m["train_rows"], m["train_time_s"])
		}
	case "Evaluate":
		switch p := s.Production; {
		case p == nil:
		case p.HasProduction:
			return fmt.Sprintf("Production v%d on the same validation users: val_auc=%.4f, bar=%.4f", p.Version, p.ValAUC, p.Bar)
		default:
			return fmt.Sprintf("no Production model: bar is the floor min_auc=%.4f", p.Bar)
		}
	case "Promote", "Skip", "Reject":
		if s.Compare != nil {
			return s.Compare.Decision.Outcome
		}
	case "PlanScoring":
		if sc := s.Scoring; sc != nil && sc.HasModel != nil {
			if !*sc.HasModel {
				return "no Production model: nothing to score"
			}
			return fmt.Sprintf("%s with Production v%d", sc.AsOf, sc.Version)
		}
	case "SummarizeScores":
		if sc := s.Scoring; sc != nil {
			d := fmt.Sprintf("%d customers of %s scored with v%d", sc.Rows, sc.AsOf, sc.Version)
			if sc.Positives != nil {
				d += fmt.Sprintf(": %d predicted to churn", *sc.Positives)
			}
			return d
		}
	}
	return ""
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
		ref := s.ReferenceAsOf
		if s.Baseline != nil && s.Baseline.ReferenceAsOf != "" {
			ref = s.Baseline.ReferenceAsOf // "previous", resolved
		}
		a.printf("[BOOTSTRAP] v%d trained on %s: auc=%.4f vs floor %.4f -> %s\n", b.CandidateVersion, ref, b.CandidateAUC, b.Bar, b.Outcome)
	}
	if s.Result != nil && s.Result.Outcome == "no_drift" {
		share := 0.0
		if s.Drift != nil {
			share = s.Drift.DriftShare
		}
		a.printf("[DECISION] no_drift\n")
		a.printf("[SUMMARY] as_of=%s drift_share=%.4f < threshold=%.4f -> no retrain\n", s.CurrentAsOf, share, s.Threshold)
		printScores(a, &s)
		return
	}
	if s.Compare == nil {
		printScores(a, &s)
		return
	}
	d := s.Compare.Decision
	// The registry decision holds the numbers compared before the action.
	prodV, prodAUC := d.Decision.ProductionVersion, d.Decision.ProductionAUC
	a.printf("[COMPARE] candidate_auc=%.4f vs prod_auc=%.4f (delta=%.4f)\n", d.CandidateAUC, prodAUC, d.Delta)
	a.printf("[DECISION] %s\n", d.Outcome)
	a.printf("[SUMMARY] as_of=%s cand_v=%d cand_auc=%.4f prod_v=%d prod_auc=%.4f -> %s\n", runAsOf(&s), d.CandidateVersion, d.CandidateAUC, prodV, prodAUC, d.Outcome)
	printScores(a, &s)
}

// printScores prints the run's batch scores of the current month.
func printScores(a *app, s *pipeline.ExecutionState) {
	sc := s.Scoring
	if sc == nil || sc.Version == 0 {
		return
	}
	pos := ""
	if sc.Positives != nil {
		pos = fmt.Sprintf(" predicted_churn=%d", *sc.Positives)
	}
	a.printf("[SCORES] as_of=%s model=%s v=%d rows=%d%s -> %s\n", sc.AsOf, sc.Model, sc.Version, sc.Rows, pos, sc.ScoresPrefix)
}

// answerApproval approves or rejects the execution paused on token, as
// the caller, and reports how the resumed execution ends (or pauses again).
func answerApproval(ctx context.Context, a *app, st *stores, token string, approve bool, reason string) error {
	ex, err := a.executions(ctx, st)
	if err != nil {
		return err
	}
	by, err := a.identity(ctx, st)
	if err != nil {
		return err
	}
	var exec *pipeline.Execution
	if approve {
		a.printf("approving as %s…\n", by)
		exec, err = ex.Approve(ctx, token, by)
	} else {
		a.printf("rejecting as %s…\n", by)
		exec, err = ex.Reject(ctx, token, by, reason)
	}
	if err != nil {
		return err
	}
	err = a.finish(exec)
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
