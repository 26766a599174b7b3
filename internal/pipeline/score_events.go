package pipeline

import (
	"time"

	"github.com/churnops/churnops/internal/scores"
)

// Score actions: batch scoring of a stored month, a Task (plan), a Map
// item per shard (shard) and a Task (summary).
const (
	ScoreActionPlan    = "plan"
	ScoreActionShard   = "shard"
	ScoreActionSummary = "summary"
)

// ScoreEvent is the Score function's event: one action of scoring every
// customer of a month with a model version.
type ScoreEvent struct {
	Action    string `json:"action"`
	ModelName string `json:"model_name"`
	AsOf      string `json:"as_of"`
	// Version is the model version; 0 (plan only) means Production.
	Version int `json:"version,omitempty"`
	// Shard is the shard a shard action scores.
	Shard int `json:"shard"`
	// Contributions adds each feature's contribution to the log-odds
	// (TreeSHAP) to the scores: an option, off by default.
	Contributions bool `json:"contributions,omitempty"`
	// Parts are the shard actions' outputs (summary).
	Parts []ScoreShardOutput `json:"parts,omitempty"`
}

// ScorePlanOutput is what a batch scoring will do: which model version
// scores which month's shards (the Map's items), and where.
type ScorePlanOutput struct {
	ModelName string `json:"model_name"`
	AsOf      string `json:"as_of"`
	// HasModel is false when there is no Production model to score with
	// (a first run whose candidate did not clear the floor): nothing to do.
	HasModel bool   `json:"has_model"`
	Version  int    `json:"version"`
	Rows     int    `json:"rows"`
	Shards   []int  `json:"shards"`
	Prefix   string `json:"prefix"`
}

// ScoreShardOutput is one shard's scores: where they are, how many, and
// their histogram (what the summary adds up).
type ScoreShardOutput struct {
	Shard     int              `json:"shard"`
	Key       string           `json:"key,omitempty"` // empty for a shard without customers
	Rows      int              `json:"rows"`
	Positives int              `json:"positives"`
	Histogram scores.Histogram `json:"histogram"`
}

// ScoreSummary is a month's batch scores summed up: the run's output and
// reports/scores/as_of=D/summary.json, in the shape the dashboard reads
// (dashboard.ScoreSummary).
type ScoreSummary struct {
	AsOf         string           `json:"as_of"`
	Model        string           `json:"model"`
	Version      int              `json:"version"`
	Rows         int              `json:"rows"`
	Positives    *int             `json:"positives,omitempty"`
	Histogram    scores.Histogram `json:"histogram"`
	ScoresPrefix string           `json:"scores_prefix,omitempty"`
	GeneratedAt  time.Time        `json:"generated_at,omitzero"`
}
