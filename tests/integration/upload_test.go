//go:build integration

package integration_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/s3store"
	"github.com/churnops/churnops/internal/scores"
	"github.com/churnops/churnops/internal/synth"
)

// The stack's parameters for months that arrive under incoming/: shards of
// 1,000 customers (the generated months have 3,000: three shards), and a
// training sample of 2,000 (so the ingest stores one, and Train and
// Evaluate read it).
const (
	uploadShardRows = 1000
	uploadRowBudget = 2000
)

var uploadParams = []string{"IngestShardRows=1000", "TrainingRowBudget=2000"}

// TestUploadedMonth drops the month after TestRetrainLoop's last one under
// incoming/as_of=D/ in the bucket, as a producer would — part files, some
// gzipped, the _SUCCESS marker written last — and waits for the execution
// the EventBridge rule starts. The execution must ingest it over three
// shards (Distributed Map states), run the loop on it against the month
// before, and score it; the local executor, on the same months, the same
// incoming files and the very input EventBridge gave, must find the same
// drift, train the same candidate, decide the same, store the same month
// and the same scores. A second delivery of the marker's event is a
// duplicate. Then: the execution's record and the dashboard are in the
// bucket, and /predict serves the new month.
func TestUploadedMonth(t *testing.T) {
	f := shared(t)
	f.mu.Lock()
	retrained := f.retrained
	f.mu.Unlock()
	if retrained == "" {
		t.Skip("TestRetrainLoop did not leave its state: this run goes on from it")
	}
	local := openLocalLoop(t, retrained)
	ctx := t.Context()
	dir := t.TempDir()
	// The next month's features shift (the earlier months are the same
	// bytes: the generator draws month by month): the run retrains.
	drift := maps.Clone(synthDrift)
	drift[len(f.months)] = synth.FeatureShift
	cfg := synth.Config{Users: synthUsers, Months: len(f.months) + 1, Seed: synthSeed, Drift: drift}
	sums, err := synth.Stream(dir, cfg, synth.StreamOptions{Parts: 3, Gzip: true, Incoming: true})
	if err != nil {
		t.Fatal(err)
	}
	next := sums[len(sums)-1]
	asOf := next.AsOf.Format("2006-01-02")
	prefix := "incoming/as_of=" + asOf + "/"
	files := incomingFiles(t, filepath.Join(dir, filepath.FromSlash(prefix)))
	gz, plain := 0, 0
	for _, name := range files {
		if strings.HasSuffix(name, ".gz") {
			gz++
		} else if name != "_SUCCESS" {
			plain++
		}
	}
	if gz < 3 || plain < 3 {
		t.Fatalf("want some gzipped and some plain part files: %v", files)
	}

	// Upload, the marker last.
	blobs := s3store.New(f.s3, f.bucket)
	before := time.Now().Add(-time.Second)
	marker := prefix + "_SUCCESS"
	for _, name := range append(slices.DeleteFunc(slices.Clone(files), func(n string) bool { return n == "_SUCCESS" }), "_SUCCESS") {
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(prefix+name)))
		if err != nil {
			t.Fatal(err)
		}
		if err := blobs.Put(ctx, prefix+name, data); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
	}
	start := time.Now()
	arn := f.awaitExecution(t, before, marker, nil)
	got := f.waitExecution(t, "uploaded "+asOf, arn)
	f.record("execution started by the _SUCCESS marker (ingest 3 shards, loop, scores)", time.Since(start))
	t.Logf("emulator:       %s [%v]", got.describe(), got.Wall)
	if got.Status != "SUCCEEDED" {
		t.Fatalf("the execution the marker started: %s", got.describe())
	}

	// The local executor: the same incoming files in its store, the same input.
	d, err := f.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
	if err != nil {
		t.Fatal(err)
	}
	var in pipeline.ExecutionInput
	if err := json.Unmarshal([]byte(aws.ToString(d.Input)), &in); err != nil {
		t.Fatalf("the rule's input %s: %v", aws.ToString(d.Input), err)
	}
	if in.Incoming == nil || in.Incoming.Key != marker || in.Incoming.Bucket != f.bucket || in.Incoming.ETag == "" ||
		in.ShardRows != uploadShardRows || in.RowBudget != uploadRowBudget || in.ModelName != servedModel {
		t.Errorf("the rule's input: %s", aws.ToString(d.Input))
	}
	for _, name := range files {
		data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(prefix+name)))
		if err := local.state.Blobs.Put(ctx, prefix+name, data); err != nil {
			t.Fatal(err)
		}
	}
	raw := json.RawMessage(aws.ToString(d.Input))
	x, err := local.runner.Run(ctx, "local-uploaded", raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &execution{Name: "local-uploaded", Status: string(x.Status), Error: x.Error, Output: x.Output}
	for _, ev := range x.History {
		if ev.Type == "StateEntered" && ev.Map == nil {
			want.Path = append(want.Path, ev.State)
		}
	}
	t.Logf("local executor: %s", want.describe())
	if want.Status != "SUCCEEDED" {
		t.Fatalf("the local executor on the same input: %s", want.describe())
	}
	if !slices.Equal(got.Path, want.Path) {
		t.Errorf("paths differ:\nemulator %v\nlocal    %v", got.Path, want.Path)
	}
	for _, s := range []string{"PlanIngest", "PartitionFiles", "BuildShards", "CommitIngest", "Drift", "Retrain", "Train", "Evaluate", "PlanScoring", "ScoreShards", "SummarizeScores", "Report", "Done"} {
		if !slices.Contains(got.Path, s) {
			t.Errorf("the execution never entered %s: %v", s, got.Path)
		}
	}
	gs, ws := got.state(t), want.state(t)
	compareStates(t, gs, ws)
	if gs.Ingested == nil || ws.Ingested == nil || gs.Ingested.Shards != 3 || gs.Ingested.Rows != next.Rows ||
		gs.Ingested.Fingerprint != ws.Ingested.Fingerprint {
		t.Errorf("ingested: emulator %+v, local %+v (want %d rows in 3 shards)", gs.Ingested, ws.Ingested, next.Rows)
	}
	if gs.Drift == nil || gs.Drift.CurrentAsOf != asOf || gs.Drift.ReferenceAsOf != f.months[len(f.months)-1].AsOf {
		t.Errorf("drift: %+v, want %s vs the month before", gs.Drift, asOf)
	}
	compareRegistries(t, dynamo.NewRegistry(f.ddb, f.registryTable), local.state.Registry)

	// The stored month: three shards and the training sample.
	m, err := dataset.Open(ctx, blobs, asOf)
	if err != nil || m.K != 3 || m.Sample == nil || m.Sample.Rows != uploadRowBudget || m.DriftSummary == "" {
		t.Errorf("stored month %+v, %v", m, err)
	}

	// The scores: the same summary, the same rows.
	if gs.Scoring == nil || ws.Scoring == nil || gs.Scoring.Rows != next.Rows || gs.Scoring.Version != ws.Scoring.Version ||
		!slices.Equal(gs.Scoring.Histogram.Counts, ws.Scoring.Histogram.Counts) || *gs.Scoring.Positives != *ws.Scoring.Positives {
		t.Errorf("scores: emulator %+v, local %+v", gs.Scoring, ws.Scoring)
	}
	if gs.Scoring != nil {
		for k := range 3 {
			key := scores.Key(asOf, servedModel, gs.Scoring.Version, k)
			r, err := blobs.Get(ctx, key)
			if err != nil {
				t.Fatalf("emulator scores: %v", err)
			}
			l, err := local.state.Blobs.Get(ctx, key)
			if err != nil {
				t.Fatalf("local scores: %v", err)
			}
			_, rrows, err1 := scores.Read(bytes.NewReader(r), int64(len(r)))
			_, lrows, err2 := scores.Read(bytes.NewReader(l), int64(len(l)))
			if err1 != nil || err2 != nil || len(rrows) == 0 || !slices.EqualFunc(rrows, lrows, func(a, b scores.Row) bool {
				return a.UserID == b.UserID && a.Probability == b.Probability && a.Prediction == b.Prediction
			}) {
				t.Errorf("%s: the emulator's scores differ from the local executor's (%v, %v)", key, err1, err2)
			}
		}
	}

	// The Report step: the execution's record, and the dashboard.
	keys, err := execlog.Keys(ctx, blobs)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, k := range keys {
		rec, err := execlog.Read(ctx, blobs, k)
		if err == nil && rec.ExecutionARN == arn {
			found = rec.Outcome == gs.Outcome() && rec.Status == "SUCCEEDED"
		}
	}
	if !found {
		t.Errorf("no record of %s under reports/executions/ (%d records)", arn, len(keys))
	}
	page, err := f.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(f.bucket), Key: aws.String("reports/index.html")})
	if err != nil {
		t.Errorf("the dashboard: %v", err)
	} else {
		b, _ := io.ReadAll(page.Body)
		page.Body.Close()
		if !strings.Contains(string(b), asOf) {
			t.Errorf("the dashboard does not show %s", asOf)
		}
	}

	// /predict serves the month that arrived.
	prod, err := dynamo.NewRegistry(f.ddb, f.registryTable).Production(ctx, servedModel)
	if err != nil {
		t.Fatal(err)
	}
	months, err := synth.Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	mo := month{AsOf: asOf}
	for _, c := range months[len(months)-1].Customers {
		mo.Users = append(mo.Users, c.UserID)
	}
	f.checkPredict(t, prod.Version, mo)

	// The same event again (S3 delivers at least once): a duplicate.
	again := time.Now().Add(-time.Second)
	data, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(marker)))
	if _, err := f.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(f.bucket), Key: aws.String(marker), Body: bytes.NewReader(data)}); err != nil {
		t.Fatal(err)
	}
	dup := f.waitExecution(t, "duplicate", f.awaitExecution(t, again, marker, []string{arn}))
	if dup.Status != "SUCCEEDED" || dup.Path[len(dup.Path)-1] != "DuplicateEvent" || slices.Contains(dup.Path, "PartitionFiles") {
		t.Errorf("the second delivery: %s", dup.describe())
	}
}

// incomingFiles lists a month's files under dir (relative, '/'), after
// gunzipping the parts of two tables so that the month mixes .csv.gz and
// .csv part files.
func incomingFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if strings.HasSuffix(rel, ".gz") && (strings.HasPrefix(rel, "labels/") || strings.HasPrefix(rel, "support_agg_90d/")) {
			zr, err := os.Open(p)
			if err != nil {
				return err
			}
			r, err := gzip.NewReader(zr)
			if err != nil {
				return err
			}
			data, err := io.ReadAll(r)
			zr.Close()
			if err != nil {
				return err
			}
			if err := os.WriteFile(strings.TrimSuffix(p, ".gz"), data, 0o644); err != nil {
				return err
			}
			if err := os.Remove(p); err != nil {
				return err
			}
			rel = strings.TrimSuffix(rel, ".gz")
		}
		files = append(files, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	return files
}

// awaitExecution waits for an execution of the state machine started after
// since whose input names marker (the EventBridge rule names it), other
// than those in skip.
func (f *fixture) awaitExecution(t *testing.T, since time.Time, marker string, skip []string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	for {
		out, err := f.sfn.ListExecutions(ctx, &sfn.ListExecutionsInput{StateMachineArn: aws.String(f.stateMachineArn), MaxResults: 100})
		if err != nil {
			t.Fatalf("ListExecutions: %v", err)
		}
		for _, e := range out.Executions {
			arn := aws.ToString(e.ExecutionArn)
			if e.StartDate == nil || e.StartDate.Before(since) || slices.Contains(skip, arn) || strings.Contains(arn, "/") {
				continue // older, seen, or a Map Run's child
			}
			d, err := f.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: e.ExecutionArn})
			if err == nil && strings.Contains(aws.ToString(d.Input), marker) {
				return arn
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no execution started for %s within a minute: is the EventBridge rule (MonthArrived) deployed and the bucket's EventBridge notifications on?", marker)
		case <-time.After(time.Second):
		}
	}
}
