package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/scores"
)

// TestIncomingScoreInvoke drives the scale commands: a month in the
// layout it lands in the bucket with (part files, gzip, a _SUCCESS marker)
// ingested into three shards; a run started from the next month's marker,
// as the EventBridge rule starts one, which ingests it, runs the loop and
// scores it, showing each Map's progress; the same marker again refused;
// `score` of another month with a given version; `invoke` of one step.
func TestIncomingScoreInvoke(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "1200", "--seed", "5", "--parts", "2", "--gzip", "--incoming", "--drift", "1:label")
	jan, feb := "2024-01-31", "2024-02-29"
	out := mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, "incoming", "as_of="+jan), "--as-of", jan, "--shard-rows", "400")
	if !strings.Contains(out, "1200 customers") || !strings.Contains(out, "in 3 shard(s)") {
		t.Fatalf("ingest: %s", out)
	}
	// February lands in the state's blobs as it lands in the bucket.
	src := filepath.Join(data, "incoming", "as_of="+feb)
	dst := filepath.Join(state, "blobs", "incoming", "as_of="+feb)
	copyTree(t, src, dst)
	marker := "incoming/as_of=" + feb + "/_SUCCESS"
	if _, err := os.Stat(filepath.Join(state, "blobs", filepath.FromSlash(marker))); err != nil {
		t.Fatalf("no marker: %v", err)
	}
	out = mustRun(t, "run", "--state", state, "--incoming", marker, "--shard-rows", "400", "--threshold", "0")
	for _, want := range []string{
		"execution: ingest " + marker + ", then " + feb + " vs previous",
		"▸ PlanIngest", feb + ": 12 files into 3 shards",
		"… PartitionFiles   12/12 files", "… BuildShards      3/3 shards", "▸ CommitIngest", "stored " + feb + ": 1200 customers in 3 shards",
		"▸ Drift", feb + " vs " + jan, "[BOOTSTRAP] v1 trained on " + jan,
		"… ScoreShards      3/3 shards", "▸ SummarizeScores", "[SCORES] as_of=" + feb,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run --incoming output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "▸ BuildShard ") || strings.Contains(out, "▸ Defaults") {
		t.Errorf("run printed a Map's items or the defaults:\n%s", out)
	}
	if code, _, errs := churnops(t, "run", "--state", state, "--incoming", marker); code == 0 || !strings.Contains(errs, "used") {
		t.Errorf("the same marker again: exit %d, %s", code, errs)
	}
	keys, _ := filepath.Glob(filepath.Join(state, "blobs", "scores", "as_of="+feb, "model=churn", "v=*", "part-*.parquet"))
	if len(keys) != 3 {
		t.Errorf("batch scores of %s: %v", feb, keys)
	}

	out = mustRun(t, "score", "--state", state, "--as-of", jan, "--version", "1")
	if !strings.Contains(out, "scored 1200 customers of "+jan+" with churn v1") || !strings.Contains(out, scores.Prefix(jan, "churn", 1)) {
		t.Errorf("score: %s", out)
	}

	out = mustRun(t, "invoke", "drift", "--state", state, "--event", `{"reference_as_of":"`+jan+`","current_as_of":"`+feb+`","threshold":0.02}`)
	var d struct {
		DriftShare *float64 `json:"drift_share"`
		Columns    int      `json:"columns"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil || d.DriftShare == nil || d.Columns != 15 {
		t.Errorf("invoke drift: %s (%v)", out, err)
	}
	if code, _, errs := churnops(t, "invoke", "train", "--state", state, "--event", `{"model_name":"churn","as_of":"2099-01-31"}`); code != 1 || !strings.Contains(errs, "SnapshotNotFoundError") {
		t.Errorf("invoke train of a month not stored: exit %d %s", code, errs)
	}
}
