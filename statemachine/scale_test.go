package statemachine_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/statemachine"
)

// marker is the input the EventBridge rule gives for a month's _SUCCESS.
func marker(asOf, etag string) map[string]any {
	return map[string]any{"incoming": map[string]any{"bucket": "b", "key": "incoming/as_of=" + asOf + "/_SUCCESS", "etag": etag, "as_of": asOf},
		"reference_as_of": nil, "current_as_of": nil}
}

// TestIngestFirst: a month that arrived is ingested first — plan, every
// file, every shard, commit, prune — and becomes the current month,
// compared with the month before it; then the loop, then the scores.
func TestIngestFirst(t *testing.T) {
	exec, actions := run(t, world{hasProduction: true, driftShare: 0.5, candidateAUC: 0.9, prodAUC: 0.8}, marker(fakeIngested, "e1"))
	if exec.Status != asl.StatusSucceeded {
		t.Fatalf("status %s: %s %s", exec.Status, exec.Error, exec.Cause)
	}
	want := []string{"plan", "partition", "partition", "build", "build", "build", "commit", "prune"}
	if got := ingested.log; !slices.Equal(sortedWithin(got, 1, 3), sortedWithin(want, 1, 3)) || got[0] != "plan" || got[6] != "commit" {
		t.Errorf("ingest actions %v, want %v", got, want)
	}
	for _, ev := range ingested.raw[1:7] {
		if ev["as_of"] != fakeIngested || ev["attempt"] != "20240601T000000Z-0a0b0c0d" {
			t.Errorf("a Map item got %v", ev)
		}
	}
	if plan := ingested.raw[0]; plan["execution"] == nil || plan["started"] == nil || plan["row_budget"] != float64(dataset.DefaultSampleRows) {
		t.Errorf("plan event %v: want the execution, its start and the default row budget", plan)
	}
	if w := []string{fakePrevious + " " + fakeLatest}; slices.Equal(compared, w) {
		t.Errorf("drift compared the symbols' months, not the ingested one")
	}
	if !slices.Equal(compared, []string{fakePrevious + " " + fakeIngested}) {
		t.Errorf("Drift got %q, want %s vs the month before (previous)", compared, fakeIngested)
	}
	if !slices.Equal(trained, []string{fakeIngested}) || trainEvents[0]["row_budget"] != float64(dataset.DefaultSampleRows) {
		t.Errorf("Train got %v (%v)", trained, trainEvents)
	}
	if !slices.Equal(actions, []string{"promote"}) {
		t.Errorf("actions %v", actions)
	}
	if got := scored.log; len(got) != 5 || got[0] != "plan" || got[4] != "summary" || scored.count("shard") != 3 {
		t.Errorf("score actions %v", got)
	}
	if reported.count("success") != 1 || reported.count("failure") != 0 {
		t.Errorf("reports %v", reported.log)
	}
	var out struct {
		CurrentAsOf string `json:"current_as_of"`
		Scoring     struct {
			Rows      int `json:"rows"`
			Positives int `json:"positives"`
			Histogram struct {
				Counts []int `json:"counts"`
			} `json:"histogram"`
		} `json:"scoring"`
	}
	if err := json.Unmarshal(exec.Output, &out); err != nil {
		t.Fatal(err)
	}
	if out.CurrentAsOf != fakeIngested || out.Scoring.Rows != 30 || out.Scoring.Positives != 6 || !slices.Equal(out.Scoring.Histogram.Counts, []int{24, 6}) {
		t.Errorf("output %s", exec.Output)
	}
}

// sortedWithin sorts s[i:j] (Map items finish in any order).
func sortedWithin(s []string, i, j int) []string {
	s = slices.Clone(s)
	if j <= len(s) {
		slices.Sort(s[i:j])
	}
	return s
}

// TestScoredAndReportedAfterEveryPath: whatever was decided — promoted,
// skipped, no drift, bootstrapped, nothing promotable — the run scores the
// current month with Production when there is one, and reports once.
func TestScoredAndReportedAfterEveryPath(t *testing.T) {
	for _, tc := range []struct {
		name    string
		w       world
		scored  bool
		current string
	}{
		{"promoted", world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.85, prodAUC: 0.80}, true, "2024-02-29"},
		{"skipped", world{hasProduction: true, driftShare: 0.2, candidateAUC: 0.80, prodAUC: 0.80}, true, "2024-02-29"},
		{"no drift", world{hasProduction: true, driftShare: 0, prodAUC: 0.8}, true, "2024-02-29"},
		{"bootstrapped", world{driftShare: 0, candidateAUC: 0.8}, true, "2024-02-29"},
		{"nothing promotable", world{driftShare: 0.5, candidateAUC: 0.6}, false, "2024-02-29"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec, _ := run(t, tc.w, nil)
			if exec.Status != asl.StatusSucceeded {
				t.Fatalf("status %s: %s", exec.Status, exec.Error)
			}
			if scored.count("plan") != 1 || (scored.count("shard") == 3) != tc.scored || (scored.count("summary") == 1) != tc.scored {
				t.Errorf("score actions %v, want scores %v", scored.log, tc.scored)
			}
			if scored.count("plan") == 1 && scored.raw[0]["as_of"] != tc.current {
				t.Errorf("scored %v, want the current month %s", scored.raw[0]["as_of"], tc.current)
			}
			if !slices.Equal(reported.log, []string{"success"}) {
				t.Errorf("reports %v", reported.log)
			}
			if ingested.count("plan") != 0 {
				t.Error("ingested without an incoming month")
			}
		})
	}
}

// TestFailuresAreReported: every failure goes through the Report task
// (with the error) before the execution fails with the function's error
// name.
func TestFailuresAreReported(t *testing.T) {
	for _, tc := range []struct {
		name  string
		w     world
		input map[string]any
		want  string
	}{
		{"train fails", world{hasProduction: true, driftShare: 0.2, failTrain: "InternalError"}, nil, "InternalError"},
		{"a missing month", world{hasProduction: true, driftShare: 0.2, failTrain: "SnapshotNotFoundError"}, nil, "SnapshotNotFoundError"},
		{"bad data in the month", world{failIngest: map[string]string{"commit": "InvalidInputError"}}, marker("2024-05-31", "e"), "InvalidInputError"},
		{"not complete yet", world{failIngest: map[string]string{"plan": "NotReadyError"}}, marker("2024-05-31", "e"), "NotReadyError"},
		{"a shard fails", world{failIngest: map[string]string{"build": "InternalError"}}, marker("2024-05-31", "e"), "States.ExceedToleratedFailureThreshold"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			exec, _ := run(t, tc.w, tc.input)
			if exec.Status != asl.StatusFailed || exec.Error != tc.want {
				t.Fatalf("status %s error %q, want FAILED with %q", exec.Status, exec.Error, tc.want)
			}
			if !slices.Equal(reported.log, []string{"failure"}) {
				t.Errorf("reports %v, want one failure", reported.log)
			}
			if ev := reported.raw[0]; fmt.Sprint(ev["error"].(map[string]any)["Error"]) != tc.want || ev["execution"] == nil || ev["state"] == nil {
				t.Errorf("report event %v", ev)
			}
			if tc.input != nil && ingested.count("commit") > 0 && tc.want != "InvalidInputError" {
				t.Errorf("committed after a failed shard: %v", ingested.log)
			}
		})
	}
}

// TestDuplicateEvent: the same S3 event delivered twice starts a second
// execution, which stops after the plan.
func TestDuplicateEvent(t *testing.T) {
	exec, _ := run(t, world{hasProduction: true}, marker("2024-05-31", "dup"))
	if exec.Status != asl.StatusSucceeded || !slices.Equal(ingested.log, []string{"plan"}) || len(trained)+len(compared)+len(scored.log) != 0 {
		t.Errorf("status %s, ingest %v, trained %v, scored %v", exec.Status, ingested.log, trained, scored.log)
	}
}

// TestRowBudget: an input's row budget reaches Train, Evaluate and the
// ingest's plan; without one, dataset.DefaultSampleRows (the Defaults
// state's literal is that constant).
func TestRowBudget(t *testing.T) {
	in := marker("2024-05-31", "e")
	in["row_budget"] = 5000
	run(t, world{hasProduction: true, driftShare: 0.5, candidateAUC: 0.9, prodAUC: 0.8}, in)
	if ingested.raw[0]["row_budget"] != float64(5000) || trainEvents[0]["row_budget"] != float64(5000) {
		t.Errorf("plan %v, train %v", ingested.raw[0], trainEvents[0])
	}
}

// TestMapSubset: every Map state uses only what behaves the same on
// MiniStack, AWS and the local executor: DISTRIBUTED, items from
// ItemsPath, a literal MaxConcurrency, ToleratedFailurePercentage 0, an
// explicit Label, no ResultWriter, ItemBatcher or *Path limits, and no
// $$.Map or $$.Execution inside the processor.
func TestMapSubset(t *testing.T) {
	var def struct {
		States map[string]map[string]any
	}
	if err := json.Unmarshal(statemachine.Retrain, &def); err != nil {
		t.Fatal(err)
	}
	maps := 0
	for name, st := range def.States {
		if st["Type"] != "Map" {
			continue
		}
		maps++
		proc, _ := st["ItemProcessor"].(map[string]any)
		cfg, _ := proc["ProcessorConfig"].(map[string]any)
		if cfg["Mode"] != "DISTRIBUTED" || st["ItemsPath"] == nil || st["Label"] == nil {
			t.Errorf("%s: not a DISTRIBUTED Map over ItemsPath with a Label", name)
		}
		if mc, ok := st["MaxConcurrency"].(float64); !ok || mc < 1 {
			t.Errorf("%s: MaxConcurrency %v, want a literal", name, st["MaxConcurrency"])
		}
		if st["ToleratedFailurePercentage"] != float64(0) {
			t.Errorf("%s: ToleratedFailurePercentage %v, want 0", name, st["ToleratedFailurePercentage"])
		}
		for _, f := range []string{"ResultWriter", "ItemBatcher", "ItemReader", "MaxConcurrencyPath", "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath", "Parameters", "Iterator"} {
			if st[f] != nil {
				t.Errorf("%s: uses %s", name, f)
			}
		}
		inner, _ := json.Marshal(proc)
		if strings.Contains(string(inner), "$$.Map") || strings.Contains(string(inner), "$$.Execution") {
			t.Errorf("%s: the processor reads $$.Map or $$.Execution", name)
		}
	}
	if maps != 3 {
		t.Errorf("%d Map states, want 3 (files, shards, scores)", maps)
	}
}
