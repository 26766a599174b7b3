package runreport_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/runreport"
	"github.com/churnops/churnops/internal/synth"
)

// TestReport runs an execution on the local executor and reports it the
// way the Report task does on AWS — from the history as it stands while
// the execution is in its last state — and checks that the record is the
// one the whole history gives, and that the page is published.
func TestReport(t *testing.T) {
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features}
	months, err := synth.Generate(synth.Config{Users: 600, Months: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	var asOfs []string
	for _, m := range months {
		out, err := pipelinetest.IngestMonth(t.Context(), p, m, t.TempDir(), pipeline.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		asOfs = append(asOfs, out.AsOf)
	}
	r, err := p.LocalRunner(nil)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := json.Marshal(pipeline.ExecutionInput{ModelName: "churn", ReferenceAsOf: asOfs[0], CurrentAsOf: asOfs[1], Threshold: 0.02, Delta: 0.01, MinAUC: 0.7, Seed: 1})
	exec, err := r.Run(t.Context(), "june", in)
	if err != nil || exec.Status != asl.StatusSucceeded {
		t.Fatalf("run: %v %s", err, exec.Status)
	}
	// What GetExecutionHistory shows while Report runs: up to its entry.
	i := slices.IndexFunc(exec.History, func(e asl.Event) bool { return e.State == "Report" && e.Type == asl.EventStateEntered })
	if i < 0 {
		t.Fatal("the execution never entered Report")
	}
	sofar := exec.History[:i+1]
	published := map[string][]byte{}
	rep := &runreport.Reporter{
		History:  func(context.Context, string) ([]asl.Event, error) { return sofar, nil },
		Blobs:    st.Blobs,
		Publish:  func(_ context.Context, key string, page []byte) error { published[key] = page; return nil },
		Registry: st.Registry, Model: "churn",
		Now: func() time.Time { return exec.History[len(exec.History)-1].Timestamp },
	}
	out, err := rep.Report(t.Context(), runreport.Event{Execution: exec.ID, Name: "june", State: exec.History[i].Input})
	if err != nil {
		t.Fatal(err)
	}
	want, err := execlog.FromHistory(exec.ID, "june", exec.History)
	if err != nil {
		t.Fatal(err)
	}
	got, err := execlog.Read(t.Context(), st.Blobs, out.Record)
	if err != nil {
		t.Fatal(err)
	}
	if got.Outcome != want.Outcome || got.Status != want.Status || len(got.States) != len(want.States)-1 || out.Outcome != want.Outcome {
		t.Errorf("record %+v, want %+v (its path up to Report)", got, want)
	}
	if page := string(published[runreport.DashboardKey]); !strings.Contains(page, "june") || !strings.Contains(page, "--backend aws") {
		t.Errorf("published page %.200q…", page)
	}
	// A failure: the record says so, with the error.
	fail, err := rep.Report(t.Context(), runreport.Event{Execution: exec.ID + "-2", Name: "july", State: exec.History[i].Input,
		Error: &struct {
			Error string `json:"Error"`
			Cause string `json:"Cause"`
		}{"InternalError", "boom"}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := execlog.Read(t.Context(), st.Blobs, fail.Record)
	if err != nil || rec.Error != "InternalError" || rec.Status != string(asl.StatusFailed) {
		t.Errorf("failed record %+v, %v", rec, err)
	}
}
