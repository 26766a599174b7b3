package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/blob"
)

// ScoresPrefix is where batch-scoring summaries are stored.
const ScoresPrefix = "reports/scores/"

// ScoreSummaryKey is where the summary of the batch scores of month asOf
// is stored: reports/scores/as_of=<asOf>/summary.json. Batch scoring
// writes it next to the scores themselves
// (scores/as_of=D/model=NAME/v=N/part-NNNNN.parquet); the dashboard reads
// the newest month's.
func ScoreSummaryKey(asOf string) string {
	return ScoresPrefix + "as_of=" + asOf + "/summary.json"
}

// ScoreSummary is what the dashboard reads of a month's batch scores: how
// many customers were scored, by which model version, and the histogram
// of their churn probabilities.
//
//	{
//	  "as_of": "2024-04-30", "model": "churn", "version": 3,
//	  "rows": 7043, "positives": 1869,
//	  "histogram": {"edges": [0, 0.1, …, 1], "counts": [2210, 903, …]},
//	  "scores_prefix": "scores/as_of=2024-04-30/model=churn/v=3/",
//	  "generated_at": "2024-05-01T06:12:00Z"
//	}
//
// Edges has len(Counts)+1 increasing values; a bin is [lo, hi), the last
// one [lo, hi]. Positives (customers predicted to churn) is optional.
type ScoreSummary struct {
	AsOf         string    `json:"as_of"`
	Model        string    `json:"model"`
	Version      int       `json:"version"`
	Rows         int       `json:"rows"`
	Positives    *int      `json:"positives,omitempty"`
	Histogram    Histogram `json:"histogram"`
	ScoresPrefix string    `json:"scores_prefix,omitempty"`
	GeneratedAt  time.Time `json:"generated_at,omitzero"`
}

// Histogram counts values over bins.
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int     `json:"counts"`
}

// check reports a summary the page cannot draw.
func (s *ScoreSummary) check() error {
	h := s.Histogram
	if len(h.Counts) == 0 || len(h.Edges) != len(h.Counts)+1 {
		return fmt.Errorf("histogram has %d edges for %d counts (want counts+1)", len(h.Edges), len(h.Counts))
	}
	for i := 1; i < len(h.Edges); i++ {
		if !(h.Edges[i] > h.Edges[i-1]) {
			return fmt.Errorf("histogram edges are not increasing at %d", i)
		}
	}
	for _, c := range h.Counts {
		if c < 0 {
			return fmt.Errorf("negative histogram count")
		}
	}
	return nil
}

// latestScores reads the summary of the newest month that has one; nil
// when none does.
func latestScores(ctx context.Context, s blob.Store) (*ScoreSummary, error) {
	keys, err := s.List(ctx, ScoresPrefix+"as_of=")
	if err != nil {
		return nil, fmt.Errorf("list batch score summaries: %w", err)
	}
	latest := ""
	for _, k := range keys {
		asOf, ok := strings.CutPrefix(k, ScoresPrefix+"as_of=")
		if !ok {
			continue
		}
		asOf, ok = strings.CutSuffix(asOf, "/summary.json")
		if ok && !strings.Contains(asOf, "/") && asOf > latest {
			latest = asOf
		}
	}
	if latest == "" {
		return nil, nil
	}
	key := ScoreSummaryKey(latest)
	data, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	var sum ScoreSummary
	if err := json.Unmarshal(data, &sum); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if err := sum.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	if sum.AsOf == "" {
		sum.AsOf = latest
	}
	return &sum, nil
}
