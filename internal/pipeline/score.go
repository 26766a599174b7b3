package pipeline

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/scores"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/training"
)

// Batch scoring: every customer of a stored month scored with a model
// version (the Production one after each run), shard by shard — a Map
// state over the month's shards, each writing its own Parquet file of
// scores (internal/scores) and returning its histogram — then a summary
// written where the dashboard reads it and returned in the run's output.

// ScoreSummaryKey is where the summary of a month's batch scores is
// stored (the dashboard reads the newest month's).
func ScoreSummaryKey(asOf string) string { return "reports/scores/as_of=" + asOf + "/summary.json" }

// ScoreStep is the Score function's handler: it runs one action.
func (p *Pipeline) ScoreStep(ctx context.Context, in ScoreEvent) (any, error) {
	var (
		out any
		err error
	)
	switch in.Action {
	case ScoreActionPlan:
		out, err = p.ScorePlan(ctx, in)
	case ScoreActionShard:
		out, err = p.ScoreShard(ctx, in)
	case ScoreActionSummary:
		out, err = p.ScoreSummarize(ctx, in)
	default:
		err = &InvalidInputError{Msg: fmt.Sprintf("unknown score action %q (want plan, shard or summary)", in.Action)}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (in ScoreEvent) check() error {
	if err := registry.CheckModelName(in.ModelName); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	if _, err := parseAsOf("as_of", in.AsOf); err != nil {
		return err
	}
	if in.Version < 0 {
		return &InvalidInputError{Msg: fmt.Sprintf("version %d must be positive (0: Production)", in.Version)}
	}
	return nil
}

// ScorePlan resolves the model version (Production unless given) and the
// month's shards.
func (p *Pipeline) ScorePlan(ctx context.Context, in ScoreEvent) (ScorePlanOutput, error) {
	out, err := p.scorePlan(ctx, in)
	return out, boundary("score plan", err)
}

func (p *Pipeline) scorePlan(ctx context.Context, in ScoreEvent) (ScorePlanOutput, error) {
	if err := in.check(); err != nil {
		return ScorePlanOutput{}, err
	}
	out := ScorePlanOutput{ModelName: in.ModelName, AsOf: in.AsOf, Shards: []int{}}
	m, err := p.openMonth(ctx, "as_of", in.AsOf)
	if err != nil {
		return out, err
	}
	v, err := p.scoringVersion(ctx, in)
	if errors.Is(err, registry.ErrNoProduction) {
		return out, nil // nothing to score with
	}
	if err != nil {
		return out, err
	}
	out.HasModel, out.Version, out.Rows = true, v.Version, m.Rows
	out.Shards = seq(m.K)
	out.Prefix = scores.Prefix(in.AsOf, in.ModelName, v.Version)
	return out, nil
}

// scoringVersion is the version an event names, or Production.
func (p *Pipeline) scoringVersion(ctx context.Context, in ScoreEvent) (registry.Version, error) {
	if in.Version == 0 {
		v, err := p.Registry.Production(ctx, in.ModelName)
		if err != nil && !errors.Is(err, registry.ErrNoProduction) {
			return v, fmt.Errorf("read production: %w", err)
		}
		return v, err
	}
	v, err := p.Registry.Get(ctx, in.ModelName, in.Version)
	if errors.Is(err, registry.ErrNotFound) {
		return v, &ModelNotFoundError{Msg: fmt.Sprintf("%s v%d is not registered", in.ModelName, in.Version)}
	}
	return v, err
}

// ScoreShard scores every customer of one shard of the month and stores
// them (scores.Key). Scoring is deterministic: a retried item writes the
// same bytes; a file of other bytes (scored before with or without the
// contributions) is replaced.
func (p *Pipeline) ScoreShard(ctx context.Context, in ScoreEvent) (ScoreShardOutput, error) {
	out, err := p.scoreShard(ctx, in)
	return out, boundary("score shard", err)
}

func (p *Pipeline) scoreShard(ctx context.Context, in ScoreEvent) (ScoreShardOutput, error) {
	out := ScoreShardOutput{Shard: in.Shard, Histogram: scores.NewHistogram()}
	if err := in.check(); err != nil {
		return out, err
	}
	if in.Version == 0 {
		return out, &InvalidInputError{Msg: "version is required (the plan's)"}
	}
	m, err := p.openMonth(ctx, "as_of", in.AsOf)
	if err != nil {
		return out, err
	}
	if in.Shard < 0 || in.Shard >= m.K {
		return out, &InvalidInputError{Msg: fmt.Sprintf("shard %d: %s has %d shards", in.Shard, in.AsOf, m.K)}
	}
	v, err := p.scoringVersion(ctx, in)
	if err != nil {
		return out, err
	}
	model, err := p.LoadModel(ctx, v)
	if err != nil {
		return out, err
	}
	month, err := dataset.ReadShard(ctx, p.Blobs, m, in.Shard)
	if err != nil {
		return out, err
	}
	if len(month.Customers) == 0 {
		return out, nil
	}
	rows, err := scoreRows(ctx, model, month.Customers, in.Contributions)
	if err != nil {
		return out, fmt.Errorf("score shard %d of %s: %w", in.Shard, in.AsOf, err)
	}
	meta := scores.Meta{AsOf: month.AsOf, Version: v.Version}
	if in.Contributions {
		meta.Features = make([]string, 0, model.NumFeatures())
		for _, f := range model.Features() {
			meta.Features = append(meta.Features, f.Name)
		}
	}
	var buf bytes.Buffer
	w := scores.NewWriter(&buf, meta)
	if err := w.Write(rows); err != nil {
		return out, err
	}
	if err := w.Close(); err != nil {
		return out, err
	}
	out.Key = scores.Key(in.AsOf, in.ModelName, v.Version, in.Shard)
	if err := p.putReplacing(ctx, out.Key, buf.Bytes()); err != nil {
		return out, fmt.Errorf("store %s: %w", out.Key, err)
	}
	out.Rows = len(rows)
	for _, r := range rows {
		out.Histogram.Add(r.Probability)
		out.Positives += int(r.Prediction)
	}
	return out, nil
}

// scoreRows predicts every customer (and explains it, when asked).
func scoreRows(ctx context.Context, model *gbdt.Model, customers []snapshot.Customer, contributions bool) ([]scores.Row, error) {
	d := training.DatasetOf(customers)
	rows := make([]scores.Row, len(customers))
	if contributions {
		if err := model.PrepareContributions(); err != nil {
			return nil, err
		}
	}
	x := make([]float64, len(d.Cols))
	for i := range customers {
		if i%4096 == 0 && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for j, c := range d.Cols {
			x[j] = c[i]
		}
		r := scores.Row{UserID: customers[i].UserID, Probability: model.PredictProba(x)}
		if r.Probability >= model.Threshold {
			r.Prediction = 1
		}
		if contributions {
			r.Contributions = make([]float64, len(x)+1)
			if err := model.Contributions(x, r.Contributions); err != nil {
				return nil, err
			}
		}
		rows[i] = r
	}
	return rows, nil
}

// putReplacing stores data under key, replacing other bytes there: for
// derived files a later run recomputes (batch scores, their summary).
func (p *Pipeline) putReplacing(ctx context.Context, key string, data []byte) error {
	err := p.putOnce(ctx, key, data)
	if !errors.Is(err, blob.ErrExists) {
		return err
	}
	if err := p.Blobs.Delete(ctx, key); err != nil {
		return err
	}
	return p.Blobs.Put(ctx, key, data)
}

// ScoreSummarize adds up the shards' scores into the month's summary,
// stores it (ScoreSummaryKey) and returns it.
func (p *Pipeline) ScoreSummarize(ctx context.Context, in ScoreEvent) (ScoreSummary, error) {
	out, err := p.scoreSummarize(ctx, in)
	return out, boundary("score summary", err)
}

func (p *Pipeline) scoreSummarize(ctx context.Context, in ScoreEvent) (ScoreSummary, error) {
	if err := in.check(); err != nil {
		return ScoreSummary{}, err
	}
	if in.Version == 0 {
		return ScoreSummary{}, &InvalidInputError{Msg: "version is required (the plan's)"}
	}
	m, err := p.openMonth(ctx, "as_of", in.AsOf)
	if err != nil {
		return ScoreSummary{}, err
	}
	out := ScoreSummary{
		AsOf: in.AsOf, Model: in.ModelName, Version: in.Version, Histogram: scores.NewHistogram(),
		ScoresPrefix: scores.Prefix(in.AsOf, in.ModelName, in.Version), GeneratedAt: p.now(),
	}
	seen := make([]bool, m.K)
	positives := 0
	for _, part := range in.Parts {
		if part.Shard < 0 || part.Shard >= m.K || seen[part.Shard] {
			return out, &InvalidInputError{Msg: fmt.Sprintf("parts: shard %d given twice or out of range (k=%d)", part.Shard, m.K)}
		}
		seen[part.Shard] = true
		if err := out.Histogram.Merge(part.Histogram); err != nil {
			return out, &InvalidInputError{Msg: err.Error()}
		}
		out.Rows += part.Rows
		positives += part.Positives
	}
	if len(in.Parts) != m.K || (!m.Legacy && out.Rows != m.Rows) {
		return out, &InvalidInputError{Msg: fmt.Sprintf("parts: %d shards with %d rows, the month has %d shards and %d customers", len(in.Parts), out.Rows, m.K, m.Rows)}
	}
	out.Positives = &positives
	data, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return out, err
	}
	if err := p.putReplacing(ctx, ScoreSummaryKey(in.AsOf), append(data, '\n')); err != nil {
		return out, fmt.Errorf("store the score summary: %w", err)
	}
	p.progress("score", "scored %d customers of %s with %s v%d: %d predicted to churn", out.Rows, in.AsOf, in.ModelName, in.Version, positives)
	return out, nil
}

// ScoreOptions tune Score.
type ScoreOptions struct {
	// Version is the model version (0: Production).
	Version       int
	Contributions bool
	// Workers bounds the shards scored at once (0: 1).
	Workers    int
	OnProgress func(done, total int)
}

// Score scores every customer of a stored month in this process, through
// the very actions the state machine runs (plan, a shard at a time,
// summary). Without a model to score with it returns a zero summary and
// no error (Version 0).
func (p *Pipeline) Score(ctx context.Context, model, asOf string, opts ScoreOptions) (ScoreSummary, error) {
	plan, err := p.ScorePlan(ctx, ScoreEvent{Action: ScoreActionPlan, ModelName: model, AsOf: asOf, Version: opts.Version})
	if err != nil || !plan.HasModel {
		return ScoreSummary{}, err
	}
	parts := make([]ScoreShardOutput, len(plan.Shards))
	done := 0
	if opts.OnProgress != nil {
		opts.OnProgress(0, len(parts))
	}
	err = forEach(ctx, len(parts), max(opts.Workers, 1), func(ctx context.Context, k int) error {
		var err error
		parts[k], err = p.ScoreShard(ctx, ScoreEvent{Action: ScoreActionShard, ModelName: model, AsOf: asOf, Version: plan.Version, Shard: k, Contributions: opts.Contributions})
		return err
	}, func() {
		done++
		if opts.OnProgress != nil {
			opts.OnProgress(done, len(parts))
		}
	})
	if err != nil {
		return ScoreSummary{}, err
	}
	return p.ScoreSummarize(ctx, ScoreEvent{Action: ScoreActionSummary, ModelName: model, AsOf: asOf, Version: plan.Version, Parts: parts})
}
