package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
)

// cmdScore scores every customer of a stored month with a model version
// (Production by default), shard by shard, through the steps the state
// machine's ScoreShards Map runs: locally, or on AWS (S3 and DynamoDB)
// with --backend aws.
func cmdScore(ctx context.Context, a *app, args []string) error {
	fs := a.flags("score")
	asOf := fs.String("as-of", "", "the stored month to score (YYYY-MM-DD)")
	version := fs.Int("version", 0, "the model version (default: Production)")
	contributions := fs.Bool("contributions", false, "add each feature's contribution to the log-odds (contrib_<feature>, contrib_bias)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "as-of"); err != nil {
		return err
	}
	if _, err := snapshot.ParseAsOf(*asOf); err != nil {
		return usagef("%v", err)
	}
	if *version < 0 {
		return usagef("--version %d: want a version number (default: Production)", *version)
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	start := time.Now()
	prog := a.phaseProgress("score")
	sum, err := a.pipeline(st).Score(ctx, a.model, *asOf, pipeline.ScoreOptions{
		Version: *version, Contributions: *contributions, Workers: ingestWorkers(),
		OnProgress: func(done, total int) { prog("shards", done, total) },
	})
	if err != nil {
		return err
	}
	if sum.Version == 0 {
		return fmt.Errorf("no Production version of %s to score with (train one: churnops run)", a.model)
	}
	pos := 0
	if sum.Positives != nil {
		pos = *sum.Positives
	}
	a.printf("scored %d customers of %s with %s v%d: %d predicted to churn -> %s [%s]\n",
		sum.Rows, sum.AsOf, sum.Model, sum.Version, pos, sum.ScoresPrefix, seconds(time.Since(start)))
	a.printf("churn probability:\n")
	most := 0
	for _, c := range sum.Histogram.Counts {
		most = max(most, c)
	}
	for i, c := range sum.Histogram.Counts {
		bar := 0
		if most > 0 {
			bar = c * 40 / most
		}
		a.printf("  [%.1f, %.1f%s %9d %s\n", sum.Histogram.Edges[i], sum.Histogram.Edges[i+1], closing(i, len(sum.Histogram.Counts)), c, strings.Repeat("█", bar))
	}
	a.printf("summary: %s\n", pipeline.ScoreSummaryKey(sum.AsOf))
	a.refreshDashboard(ctx, st)
	return a.emit(sum)
}

func closing(i, n int) string {
	if i == n-1 {
		return "]"
	}
	return ")"
}
