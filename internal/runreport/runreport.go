// Package runreport is the state machine's last step on AWS: it records
// the execution (internal/execlog: reports/executions/<start>_<name>.json)
// and renders the dashboard again (internal/dashboard: reports/index.html
// in the bucket), what the CLI does after a local run. It runs inside the
// execution it reports, so it ends the history it reads the way the
// execution is about to end (execlog.FinishAt).
//
// It lives apart from internal/pipeline, which execlog and the dashboard
// import.
package runreport

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/registry"
)

// DashboardKey is where the rendered dashboard is stored.
const DashboardKey = "reports/index.html"

// Event is the Report task's input (statemachine/retrain.asl.json):
// the execution, its whole state data, and the error a Catch stored when
// it is about to fail.
type Event struct {
	Execution string          `json:"execution"`
	Name      string          `json:"name"`
	State     json.RawMessage `json:"state"`
	Error     *struct {
		Error string `json:"Error"`
		Cause string `json:"Cause"`
	} `json:"error,omitempty"`
}

// Output is what the report wrote.
type Output struct {
	Record    string `json:"record"`    // the execution record's key
	Dashboard string `json:"dashboard"` // DashboardKey
	Outcome   string `json:"outcome"`
}

// Reporter writes the records and the page.
type Reporter struct {
	// History reads the execution's event history so far.
	History func(ctx context.Context, executionArn string) ([]asl.Event, error)
	Blobs   blob.Store
	// Publish writes the page, replacing the previous one (the blob store
	// writes each key once).
	Publish  func(ctx context.Context, key string, page []byte) error
	Registry registry.Registry
	Model    string
	Now      func() time.Time
}

// Report records the execution and renders the dashboard.
func (r *Reporter) Report(ctx context.Context, ev Event) (Output, error) {
	if ev.Execution == "" || ev.Name == "" {
		return Output{}, fmt.Errorf("runreport: execution and name are required")
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	hist, err := r.History(ctx, ev.Execution)
	if err != nil {
		return Output{}, err
	}
	errName, cause := "", ""
	if ev.Error != nil {
		errName, cause = ev.Error.Error, ev.Error.Cause
	}
	hist = execlog.FinishAt(hist, now().UTC(), ev.State, errName, cause)
	rec, err := execlog.FromHistory(ev.Execution, ev.Name, hist)
	if err != nil {
		return Output{}, fmt.Errorf("runreport: record %s: %w", ev.Name, err)
	}
	key, err := execlog.Write(ctx, r.Blobs, &rec)
	if err != nil {
		return Output{}, fmt.Errorf("runreport: record %s: %w", ev.Name, err)
	}
	page, err := dashboard.Build(ctx, dashboard.Sources{Model: r.Model, Registry: r.Registry, Blobs: r.Blobs, Target: "--backend aws", Now: now})
	if err != nil {
		return Output{}, fmt.Errorf("runreport: dashboard: %w", err)
	}
	var buf bytes.Buffer
	if err := dashboard.Render(&buf, page); err != nil {
		return Output{}, fmt.Errorf("runreport: dashboard: %w", err)
	}
	if err := r.Publish(ctx, DashboardKey, buf.Bytes()); err != nil {
		return Output{}, fmt.Errorf("runreport: dashboard: %w", err)
	}
	return Output{Record: key, Dashboard: DashboardKey, Outcome: rec.Outcome}, nil
}
