package pipeline_test

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/scores"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
	"github.com/churnops/churnops/internal/training"
)

// scoredState is a state with a month of 2,400 customers in three shards
// and a Production model trained on it.
func scoredState(t *testing.T) (*pipeline.Pipeline, string, *snapshot.Month, registry.Version) {
	t.Helper()
	p, st := newPipeline(t)
	dirs, months := genMonths(t, synth.Config{Users: 2400, Months: 1, Seed: 11})
	asOf := months[0].AsOf.Format(snapshot.DateLayout)
	if _, err := p.Ingest(t.Context(), pipeline.Incoming{Dir: dirs[0], AsOf: asOf}, pipeline.IngestOptions{ShardRows: 800}); err != nil {
		t.Fatal(err)
	}
	out, err := p.Train(t.Context(), pipeline.TrainInput{ModelName: model, AsOf: asOf, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Registry.Get(t.Context(), model, out.Version)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PromoteVersion(t.Context(), model, v.Version, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatal(err)
	}
	return p, asOf, months[0], v
}

// TestScore scores every customer of a three-shard month with Production:
// one Parquet file per shard under scores/as_of=D/model=NAME/v=N/ holding
// exactly the model's probabilities and predictions, and a summary (stored
// where the dashboard reads it) whose histogram counts them all.
func TestScore(t *testing.T) {
	p, asOf, month, v := scoredState(t)
	sum, err := p.Score(t.Context(), model, asOf, pipeline.ScoreOptions{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Rows != len(month.Customers) || sum.Version != v.Version || sum.Histogram.Total() != sum.Rows || sum.Positives == nil ||
		sum.ScoresPrefix != scores.Prefix(asOf, model, v.Version) {
		t.Fatalf("summary %+v", sum)
	}
	artifact, err := p.LoadModel(t.Context(), v)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	d := training.DatasetOf(month.Customers)
	probs, err := artifact.PredictColumns(d.Cols)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range month.Customers {
		want[c.UserID] = probs[i]
	}
	keys, err := p.Blobs.List(t.Context(), sum.ScoresPrefix)
	if err != nil || len(keys) != 3 || keys[0] != scores.Key(asOf, model, v.Version, 0) {
		t.Fatalf("score files %v, %v", keys, err)
	}
	seen, positives := 0, 0
	for _, k := range keys {
		data, err := p.Blobs.Get(t.Context(), k)
		if err != nil {
			t.Fatal(err)
		}
		meta, rows, err := scores.Read(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		if meta.Version != v.Version || meta.AsOf.Format(snapshot.DateLayout) != asOf || meta.Features != nil {
			t.Errorf("%s: meta %+v", k, meta)
		}
		for _, r := range rows {
			p, ok := want[r.UserID]
			if !ok || r.Probability != p || (r.Prediction == 1) != (p >= artifact.Threshold) {
				t.Fatalf("%s: %+v, want probability %v", k, r, p)
			}
			positives += int(r.Prediction)
		}
		seen += len(rows)
	}
	if seen != len(month.Customers) || positives != *sum.Positives {
		t.Errorf("%d rows scored, %d positives; summary %d, %d", seen, positives, sum.Rows, *sum.Positives)
	}
	data, err := p.Blobs.Get(t.Context(), pipeline.ScoreSummaryKey(asOf))
	if err != nil {
		t.Fatal(err)
	}
	var stored pipeline.ScoreSummary
	if err := json.Unmarshal(data, &stored); err != nil || stored.Rows != sum.Rows || !slices.Equal(stored.Histogram.Counts, sum.Histogram.Counts) {
		t.Errorf("stored summary %s, %v", data, err)
	}

	// Again (a later run): same files, the summary replaced.
	if _, err := p.Score(t.Context(), model, asOf, pipeline.ScoreOptions{}); err != nil {
		t.Fatalf("scoring again: %v", err)
	}
}

// TestScoreContributions: with the option, each row carries every
// feature's contribution and the bias, summing to the log-odds.
func TestScoreContributions(t *testing.T) {
	p, asOf, _, v := scoredState(t)
	out, err := p.ScoreShard(t.Context(), pipeline.ScoreEvent{Action: "shard", ModelName: model, AsOf: asOf, Version: v.Version, Shard: 1, Contributions: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := p.Blobs.Get(t.Context(), out.Key)
	if err != nil {
		t.Fatal(err)
	}
	meta, rows, err := scores.Read(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(meta.Features, snapshot.FeatureNames) || len(rows) != out.Rows {
		t.Fatalf("features %v, %d rows", meta.Features, len(rows))
	}
	for _, r := range rows[:50] {
		sum := 0.0
		for _, c := range r.Contributions {
			sum += c
		}
		if logit := math.Log(r.Probability / (1 - r.Probability)); math.Abs(sum-logit) > 1e-9 {
			t.Fatalf("%s: contributions sum to %v, log-odds %v", r.UserID, sum, logit)
		}
	}
}

// TestScoreWithoutProduction: nothing to score with is no error and no
// file; a version that does not exist is a ModelNotFoundError.
func TestScoreWithoutProduction(t *testing.T) {
	p, _ := newPipeline(t)
	asOfs := ingestGenerated(t, p, synth.Config{Users: 300, Months: 1, Seed: 2})
	plan, err := p.ScorePlan(t.Context(), pipeline.ScoreEvent{Action: "plan", ModelName: model, AsOf: asOfs[0]})
	if err != nil || plan.HasModel || len(plan.Shards) != 0 {
		t.Errorf("plan without Production: %+v, %v", plan, err)
	}
	_, err = p.ScorePlan(t.Context(), pipeline.ScoreEvent{Action: "plan", ModelName: model, AsOf: asOfs[0], Version: 4})
	if asl.ErrorName(err) != "ModelNotFoundError" {
		t.Errorf("plan of v4: %v", err)
	}
	if _, err := p.ScorePlan(t.Context(), pipeline.ScoreEvent{Action: "plan", ModelName: model, AsOf: "2024-09-30"}); asl.ErrorName(err) != "SnapshotNotFoundError" {
		t.Errorf("plan of a month not stored: %v", err)
	}
}

// TestScoreSummaryChecksParts: a summary of parts that do not add up to
// the month is refused.
func TestScoreSummaryChecksParts(t *testing.T) {
	p, asOf, _, v := scoredState(t)
	part := func(k, rows int) pipeline.ScoreShardOutput {
		h := scores.NewHistogram()
		for range rows {
			h.Add(0.5)
		}
		return pipeline.ScoreShardOutput{Shard: k, Rows: rows, Histogram: h}
	}
	for name, parts := range map[string][]pipeline.ScoreShardOutput{
		"a shard missing": {part(0, 800), part(1, 800)},
		"a shard twice":   {part(0, 800), part(0, 800), part(1, 800)},
		"rows short":      {part(0, 800), part(1, 800), part(2, 10)},
	} {
		_, err := p.ScoreSummarize(t.Context(), pipeline.ScoreEvent{Action: "summary", ModelName: model, AsOf: asOf, Version: v.Version, Parts: parts})
		if asl.ErrorName(err) != "InvalidInputError" || !strings.Contains(err.Error(), "shard") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := dataset.Open(t.Context(), p.Blobs, asOf); err != nil {
		t.Fatal(err)
	}
}
