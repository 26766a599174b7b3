package statemachine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/statemachine"
)

// machine parses the definition with each function named by its role.
func machine(t *testing.T) *asl.Machine {
	t.Helper()
	m, err := asl.Parse(statemachine.Retrain, map[string]string{
		statemachine.DriftFunction: "drift", statemachine.TrainFunction: "train",
		statemachine.EvaluateFunction: "evaluate", statemachine.CompareFunction: "compare",
		statemachine.IngestFunction: "ingest", statemachine.ScoreFunction: "score", statemachine.ReportFunction: "report",
	})
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return m
}

// calls records the actions the fake functions were asked for, in order
// (Map items run concurrently: a mutex).
type calls struct {
	mu  sync.Mutex
	log []string
	raw []map[string]any
}

func (c *calls) add(what string, ev map[string]any) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.log = append(c.log, what)
	c.raw = append(c.raw, ev)
}

func (c *calls) count(what string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, l := range c.log {
		if l == what {
			n++
		}
	}
	return n
}

func decode(in json.RawMessage) map[string]any {
	var ev map[string]any
	_ = json.Unmarshal(in, &ev)
	return ev
}

func encode(v any) json.RawMessage { b, _ := json.Marshal(v); return b }

// The month the fake plan ingests when the incoming event names none.
const fakeIngested = "2024-05-31"

// fakeIngest answers the ingest actions: a month of 2 files and 3 shards;
// a marker whose etag is "dup" is a duplicate; failWith fails an action.
func fakeIngest(c *calls, failWith map[string]string) asl.Handler {
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		ev := decode(in)
		action := fmt.Sprint(ev["action"])
		c.add(action, ev)
		if name := failWith[action]; name != "" {
			return nil, fakeErr{name}
		}
		switch action {
		case "plan":
			inc, _ := ev["incoming"].(map[string]any)
			asOf, _ := inc["as_of"].(string)
			if asOf == "" {
				asOf = fakeIngested
			}
			dup := ""
			if inc["etag"] == "dup" {
				dup = "arn:aws:states:us-east-1:0:execution:retrain:first"
			}
			return encode(map[string]any{"as_of": asOf, "attempt": "20240601T000000Z-0a0b0c0d", "k": 3, "parts": []int{0, 1}, "shards": []int{0, 1, 2}, "rows": 30, "duplicate": dup}), nil
		case "partition":
			return encode(map[string]any{"part": ev["index"], "rows": 10}), nil
		case "build":
			return encode(map[string]any{"shard": ev["index"], "rows": 10, "online_features": 10}), nil
		case "commit":
			return encode(map[string]any{"as_of": ev["as_of"], "rows": 30, "shards": 3, "dataset_key": "k", "fingerprint": "f", "already_ingested": false, "online_features": 30, "published": true}), nil
		case "prune":
			return encode(map[string]any{"removed": []string{}}), nil
		}
		return nil, fakeErr{"InvalidInputError"}
	}
}

// fakeScore answers the score actions with Production's version, if any.
func fakeScore(c *calls, production func() (int, bool)) asl.Handler {
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		ev := decode(in)
		action := fmt.Sprint(ev["action"])
		c.add(action, ev)
		hist := map[string]any{"edges": []float64{0, 0.5, 1}, "counts": []int{8, 2}}
		switch action {
		case "plan":
			v, ok := 0, false
			if production != nil {
				v, ok = production()
			}
			return encode(map[string]any{"model_name": ev["model_name"], "as_of": ev["as_of"], "has_model": ok, "version": v, "rows": 30, "shards": []int{0, 1, 2}}), nil
		case "shard":
			return encode(map[string]any{"shard": ev["shard"], "key": "scores/x", "rows": 10, "positives": 2, "histogram": hist}), nil
		case "summary":
			parts, _ := ev["parts"].([]any)
			return encode(map[string]any{"as_of": ev["as_of"], "model": ev["model_name"], "version": ev["version"], "rows": 10 * len(parts), "positives": 2 * len(parts),
				"histogram": map[string]any{"edges": []float64{0, 0.5, 1}, "counts": []int{8 * len(parts), 2 * len(parts)}}, "scores_prefix": "scores/"}), nil
		}
		return nil, fakeErr{"InvalidInputError"}
	}
}

// fakeReport records the reports asked for.
func fakeReport(c *calls) asl.Handler {
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		ev := decode(in)
		what := "success"
		if ev["error"] != nil {
			what = "failure"
		}
		c.add(what, ev)
		return encode(map[string]any{}), nil
	}
}
