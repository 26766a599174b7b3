package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// demoMonths is the generated story: a clean month, a quiet month, a month
// whose features shift (covariate drift: the old model still ranks well, so
// the retrained candidate should not clear the bar), and a month where what
// drives churn changes (concept drift: the retrained candidate wins).
var demoMonths = []struct {
	drift synth.Drift
	note  string
}{
	{synth.None, "reference month"},
	{synth.None, "a quiet month: sampling noise only"},
	{synth.FeatureShift, "features shift (watch hours down, rebuffering and fees up)"},
	{synth.LabelShift, "what drives churn changes (concept drift)"},
}

func cmdDemo(ctx context.Context, a *app, args []string) error {
	fs := a.flags("demo")
	dir := fs.String("dir", "", "working directory for generated data and state (default: a new temporary directory)")
	seed := fs.Int64("seed", 7, "generator seed")
	users := fs.Int("users", synth.DefaultUsers, "customers per month")
	strength := fs.Float64("strength", 1, "drift strength of the drifting months")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "churnops-demo-")
		if err != nil {
			return err
		}
		*dir = d
	} else if entries, err := os.ReadDir(*dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("--dir %s is not empty; the demo starts from nothing and never overwrites (pick a new directory)", *dir)
	}
	start := time.Now()
	dataDir := filepath.Join(*dir, "data")
	a.state = filepath.Join(*dir, "state")

	a.printf("== churnops demo in %s\n\n== 1. generate %d months of %d customers (seed %d)\n", *dir, len(demoMonths), *users, *seed)
	cfg := synth.Config{Users: *users, Months: len(demoMonths), Seed: *seed, Drift: map[int]synth.Drift{}, Strength: *strength}
	for i, m := range demoMonths {
		if m.drift != synth.None {
			cfg.Drift[i] = m.drift
		}
	}
	run, err := synth.GenerateToDir(dataDir, cfg, synth.WriteOptions{})
	if err != nil {
		return err
	}
	asOfs := make([]string, len(run.Months))
	for i, m := range run.Months {
		asOfs[i] = m.AsOf.Format(snapshot.DateLayout)
		a.printf("  %s  as_of=%s  %s\n", synth.MonthDir(i), asOfs[i], demoMonths[i].note)
	}

	a.createsState = true
	st, err := a.openStores(ctx, true)
	if err != nil {
		return err
	}
	p := a.pipeline(st)
	a.printf("\n== 2. ingest: validate, store as Parquet, materialize online features\n")
	for i := range run.Months {
		out, err := p.Ingest(ctx, pipeline.Incoming{Dir: filepath.Join(dataDir, synth.MonthDir(i)), AsOf: asOfs[i]}, pipeline.IngestOptions{Workers: ingestWorkers()})
		if err != nil {
			return err
		}
		a.printf("  %s -> %s (%d rows, %d churners)\n", synth.MonthDir(i), out.DatasetKey, out.Rows, out.Churners)
	}

	var outcomes []string
	for i := 1; i < len(run.Months); i++ {
		a.printf("\n== %d. run the state machine: %s vs %s (%s)\n", i+2, asOfs[i], asOfs[i-1], demoMonths[i].note)
		in := pipeline.ExecutionInput{ModelName: a.model, ReferenceAsOf: asOfs[i-1], CurrentAsOf: asOfs[i],
			Threshold: pipeline.DefaultThreshold, Delta: pipeline.DefaultDelta, MinAUC: pipeline.DefaultMinAUC, Seed: pipeline.DefaultSeed}
		exec, err := runExecution(ctx, a, st, in, fmt.Sprintf("demo-%d", i))
		if err != nil {
			return err
		}
		if exec.Status == string(asl.StatusSucceeded) {
			outcomes = append(outcomes, outcomeOf(exec))
		}
	}

	a.printf("\n== %d. registry\n", len(run.Months)+2)
	if err := printRegistry(ctx, a, st.Registry); err != nil {
		return err
	}
	user := run.Months[len(run.Months)-1].Customers[0].UserID
	a.printf("\n== %d. predict user %s with the Production model and the online features, and why (--include reasons)\n", len(run.Months)+3, user)
	if err := predictOne(ctx, a, st, user, []string{"reasons"}, 0); err != nil {
		return err
	}
	a.printf("\noutcomes: %v  [%s]\n", outcomes, seconds(time.Since(start)))
	a.printf("drift reports: %s\n", filepath.Join(a.state, "blobs", "reports", "drift"))
	a.printf("dashboard: %s (or http://127.0.0.1:8000/ while `churnops serve --state %s` runs)\n", dashboardFile(st), a.state)
	a.printf("next: churnops serve --state %s   then   curl -s localhost:8000/predict -H 'Content-Type: application/json' -d '{\"user_id\":\"%s\"}'\n", a.state, user)
	return nil
}

// outcomeOf reads the decision of a finished execution.
func outcomeOf(exec *pipeline.Execution) string {
	var s pipeline.ExecutionState
	if err := json.Unmarshal(exec.Output, &s); err != nil {
		return "unknown"
	}
	return cmp.Or(s.Outcome(), "unknown")
}
