package pipeline_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// genMonths writes generated months in the lab's layout and returns their
// directories and months.
func genMonths(t *testing.T, cfg synth.Config) ([]string, []*snapshot.Month) {
	t.Helper()
	dir := t.TempDir()
	run, err := synth.GenerateToDir(dir, cfg, synth.WriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dirs := make([]string, len(run.Months))
	for i := range dirs {
		dirs[i] = filepath.Join(dir, synth.MonthDir(i))
	}
	return dirs, run.Months
}

// step runs one action of the Ingest function as the Lambda runtime does:
// the event as JSON, the result as JSON, the error by its type name.
func step(t *testing.T, p *pipeline.Pipeline, ev string, out any) error {
	t.Helper()
	raw, err := asl.NewHandler(p.IngestStep)(t.Context(), json.RawMessage(ev))
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	return nil
}

// TestIngestActions runs a sharded ingest action by action through the
// function's JSON events, as the state machine's Tasks and Map items do: a
// month of 3,000 customers in three shards, its online features written
// shard by shard and served only once committed, its drift summary the
// whole month's.
func TestIngestActions(t *testing.T) {
	p, st := newPipeline(t)
	dirs, months := genMonths(t, synth.Config{Users: 3000, Months: 1, Seed: 4})
	asOf := months[0].AsOf.Format(snapshot.DateLayout)
	var plan pipeline.IngestPlanOutput
	ev, _ := json.Marshal(pipeline.IngestEvent{Action: "plan", Incoming: &pipeline.Incoming{Dir: dirs[0], AsOf: asOf}, ShardRows: 1000,
		Execution: "arn:aws:states:us-east-1:0:execution:m:x", Started: time.Date(2024, 2, 1, 6, 0, 0, 0, time.UTC)})
	if err := step(t, p, string(ev), &plan); err != nil {
		t.Fatal(err)
	}
	if plan.K != 3 || len(plan.Parts) != 6 || len(plan.Shards) != 3 || plan.Rows != 3000 || !strings.HasPrefix(plan.Attempt, "20240201T060000Z-") {
		t.Fatalf("plan %+v", plan)
	}
	// The same execution's plan again (a retried Task) finds its attempt.
	var again pipeline.IngestPlanOutput
	if err := step(t, p, string(ev), &again); err != nil || again.Attempt != plan.Attempt {
		t.Fatalf("retried plan: %+v, %v", again, err)
	}
	item := func(action string, i int) string {
		b, _ := json.Marshal(map[string]any{"action": action, "as_of": plan.AsOf, "attempt": plan.Attempt, "index": i})
		return string(b)
	}
	for _, i := range plan.Parts {
		if err := step(t, p, item("partition", i), nil); err != nil {
			t.Fatal(err)
		}
	}
	features := 0
	for _, k := range plan.Shards {
		var out pipeline.IngestShardOutput
		if err := step(t, p, item("build", k), &out); err != nil {
			t.Fatal(err)
		}
		features += out.OnlineFeatures
	}
	if features != 3000 {
		t.Errorf("%d online feature records written", features)
	}
	if _, err := st.Features.Current(t.Context()); err == nil {
		t.Error("features served before the commit")
	}
	var done pipeline.IngestOutput
	if err := step(t, p, item("commit", 0), &done); err != nil {
		t.Fatal(err)
	}
	if done.Rows != 3000 || done.Shards != 3 || !done.Published || done.OnlineFeatures != 3000 || done.DatasetKey != dataset.ManifestKey(asOf) {
		t.Errorf("commit %+v", done)
	}
	vs, _ := st.Features.Versions(t.Context())
	if len(vs) != 1 || vs[0].Shards != 3 || !vs[0].Served || vs[0].Records != 3000 {
		t.Errorf("online versions %+v", vs)
	}
	u := months[0].Customers[17]
	rec, err := st.Features.Get(t.Context(), u.UserID)
	if err != nil || rec.AsOf != asOf || !sameFeatures(rec.Features, u.RawFeatures()) {
		t.Errorf("features of %s: %+v, %v", u.UserID, rec, err)
	}
	m, err := dataset.Open(t.Context(), st.Blobs, asOf)
	if err != nil {
		t.Fatal(err)
	}
	data, err := st.Blobs.Get(t.Context(), m.DriftSummary)
	if err != nil {
		t.Fatal(err)
	}
	whole, _ := drift.Summarize(months[0].DriftColumns())
	wantSum, _ := whole.MarshalBinary()
	if string(data) != string(wantSum) {
		t.Error("the stored drift summary is not the whole month's")
	}
	for k := range 3 {
		if got := shard.Of(u.UserID, 3); got == k && m.Shards[k].Rows == 0 {
			t.Errorf("shard %d empty", k)
		}
	}
	if keys, _ := st.Blobs.List(t.Context(), ingest.StagingPrefix); len(keys) != 0 {
		t.Errorf("staging left behind: %v", keys)
	}
}

// TestIngestRefusesBadData: a month with problems in one shard comes back
// as one InvalidInputError naming file, line and column; nothing of it is
// visible afterwards — no dataset, no online features (the shards without
// problems wrote theirs, which the commit removes).
func TestIngestRefusesBadData(t *testing.T) {
	p, st := newPipeline(t)
	dirs, months := genMonths(t, synth.Config{Users: 3000, Months: 1, Seed: 4})
	asOf := months[0].AsOf.Format(snapshot.DateLayout)
	usage := filepath.Join(dirs[0], "usage_agg_30d.csv")
	data, err := os.ReadFile(usage)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	fields := strings.Split(lines[41], ",")
	fields[1] = "lots" // watch_hours_30d on line 42
	lines[41] = strings.Join(fields, ",")
	if err := os.WriteFile(usage, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = p.Ingest(t.Context(), pipeline.Incoming{Dir: dirs[0], AsOf: asOf}, pipeline.IngestOptions{ShardRows: 1000, Workers: 2})
	var invalid *pipeline.InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "usage_agg_30d.csv:42") || !strings.Contains(err.Error(), "watch_hours_30d") {
		t.Fatalf("error %v, want an InvalidInputError naming usage_agg_30d.csv:42 and the column", err)
	}
	if keys, _ := st.Blobs.List(t.Context(), "datasets/"); len(keys) != 0 {
		t.Errorf("a refused month left %v", keys)
	}
	if vs, _ := st.Features.Versions(t.Context()); len(vs) != 0 {
		t.Errorf("a refused month left online features %+v", vs)
	}
}

// TestIngestConflictAndReingest: the same data again is AlreadyIngested
// and rewrites the month's online features (how they are repaired); other
// data for a stored as_of is a ConflictError by name, and the month served
// keeps its features.
func TestIngestConflictAndReingest(t *testing.T) {
	p, st := newPipeline(t)
	dirs, months := genMonths(t, synth.Config{Users: 1200, Months: 1, Seed: 6})
	asOf := months[0].AsOf.Format(snapshot.DateLayout)
	opts := pipeline.IngestOptions{ShardRows: 400}
	first, err := p.Ingest(t.Context(), pipeline.Incoming{Dir: dirs[0], AsOf: asOf}, opts)
	if err != nil || first.Shards != 3 {
		t.Fatalf("ingest: %+v, %v", first, err)
	}
	again, err := p.Ingest(t.Context(), pipeline.Incoming{Dir: dirs[0], AsOf: asOf}, opts)
	if err != nil || !again.AlreadyIngested || again.OnlineFeatures != 1200 || again.Fingerprint != first.Fingerprint {
		t.Fatalf("re-ingest: %+v, %v", again, err)
	}
	// The month again with one label changed.
	other := filepath.Join(t.TempDir(), "other")
	if err := os.CopyFS(other, os.DirFS(dirs[0])); err != nil {
		t.Fatal(err)
	}
	labels := filepath.Join(other, "labels.csv")
	data, err := os.ReadFile(labels)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	if strings.HasSuffix(lines[1], "True") {
		lines[1] = strings.TrimSuffix(lines[1], "True") + "False"
	} else {
		lines[1] = strings.TrimSuffix(lines[1], "False") + "True"
	}
	if err := os.WriteFile(labels, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = p.Ingest(t.Context(), pipeline.Incoming{Dir: other, AsOf: asOf}, opts)
	var conflict *ingest.ConflictError
	if !errors.As(err, &conflict) || asl.ErrorName(err) != "ConflictError" {
		t.Fatalf("other data for %s: %v (%s), want a ConflictError", asOf, err, asl.ErrorName(err))
	}
	u := months[0].Customers[3]
	if rec, err := st.Features.Get(t.Context(), u.UserID); err != nil || !sameFeatures(rec.Features, u.RawFeatures()) {
		t.Errorf("the served month's features changed: %+v, %v", rec, err)
	}
}

// TestIncoming: where an incoming month is, from the marker event or a
// prefix, and what is refused.
func TestIncoming(t *testing.T) {
	p, st := newPipeline(t)
	dirs, months := genMonths(t, synth.Config{Users: 300, Months: 1, Seed: 2})
	asOf := months[0].AsOf.Format(snapshot.DateLayout)
	prefix := "incoming/as_of=" + asOf + "/"
	for _, f := range snapshot.Files() {
		b, err := os.ReadFile(filepath.Join(dirs[0], f))
		if err != nil {
			t.Fatal(err)
		}
		if err := st.Blobs.Put(t.Context(), prefix+f, b); err != nil {
			t.Fatal(err)
		}
	}
	plan := func(in pipeline.Incoming, execution string) (pipeline.IngestPlanOutput, error) {
		return p.IngestPlan(t.Context(), pipeline.IngestEvent{Action: "plan", Incoming: &in, Execution: execution})
	}
	// Before the marker: not ready, by name.
	_, err := plan(pipeline.Incoming{Prefix: prefix}, "")
	if asl.ErrorName(err) != "NotReadyError" {
		t.Fatalf("before the marker: %v (%s)", err, asl.ErrorName(err))
	}
	if err := st.Blobs.Put(t.Context(), prefix+"_SUCCESS", nil); err != nil {
		t.Fatal(err)
	}
	event := pipeline.Incoming{Bucket: "b", Key: prefix + "_SUCCESS", ETag: `"abc"`}
	first, err := plan(event, "exec-1")
	if err != nil || first.AsOf != asOf || first.K != 1 || first.Duplicate != "" {
		t.Fatalf("plan of the marker: %+v, %v", first, err)
	}
	dup, err := plan(event, "exec-2")
	if err != nil || dup.Duplicate != "exec-1" {
		t.Errorf("the same event again: %+v, %v; want a duplicate of exec-1", dup, err)
	}
	if again, err := plan(event, "exec-1"); err != nil || again.Duplicate != "" || again.Attempt != first.Attempt {
		t.Errorf("exec-1's plan retried: %+v, %v", again, err)
	}
	p.LocalDirs = false
	for name, in := range map[string]pipeline.Incoming{
		"not a marker":         {Key: prefix + "users.csv"},
		"a directory":          {Dir: dirs[0], AsOf: asOf},
		"no date":              {Prefix: "incoming/latest/"},
		"nothing":              {},
		"a key and a prefix":   {Key: prefix + "_SUCCESS", Prefix: prefix},
		"a date in the future": {Prefix: "incoming/as_of=2999-12-31/"},
	} {
		if _, err := plan(in, ""); asl.ErrorName(err) != "InvalidInputError" {
			t.Errorf("%s: %v (%s), want an InvalidInputError", name, err, asl.ErrorName(err))
		}
	}
}
