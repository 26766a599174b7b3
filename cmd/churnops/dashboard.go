package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/pipeline"
)

// dashboardFile is where the static dashboard is written under the local
// state directory: beside the drift reports it links to, so its relative
// links work opened from the file.
func dashboardFile(st *stores) string { return blobPath(st, "reports/index.html") }

// blobPath is the file of a blob key in the local state directory, as an
// absolute path (printed for a person, who may be elsewhere).
func blobPath(st *stores, key string) string {
	dir, err := filepath.Abs(st.Local.Dir)
	if err != nil {
		dir = st.Local.Dir
	}
	return filepath.Join(dir, "blobs", filepath.FromSlash(key))
}

// target is how commands printed for a person address this state: the
// absolute --state (so they work pasted from another directory), or
// --backend aws, plus --model-name when it is not the default.
func (a *app) target() string {
	var parts []string
	if a.model != pipeline.DefaultModelName {
		parts = append(parts, "--model-name", shellQuote(a.model))
	}
	if a.backend == backendAWS {
		return strings.Join(append(parts, "--backend", "aws"), " ")
	}
	dir, err := filepath.Abs(a.state)
	if err != nil {
		dir = a.state
	}
	return strings.Join(append(parts, "--state", shellQuote(dir)), " ")
}

// dashboardSources are the stores the dashboard reads.
func (a *app) dashboardSources(st *stores) dashboard.Sources {
	return dashboard.Sources{Model: a.model, Registry: st.Registry, Blobs: st.Blobs, Approvals: st.Approvals, Target: a.target()}
}

// afterExecution records a local execution that ended or paused
// (reports/executions/…) and renders the static dashboard again. Neither
// may fail the run: a problem is a warning on stderr. It returns the
// record, nil when none could be made.
func (a *app) afterExecution(ctx context.Context, st *stores, id, name string, history []asl.Event) *execlog.Record {
	if st.Local == nil || len(history) == 0 {
		return nil
	}
	ctx = context.WithoutCancel(ctx) // an aborted run is recorded too
	rec, err := execlog.FromHistory(id, name, history)
	if err != nil {
		fmt.Fprintf(a.stderr, "churnops: execution not recorded: %v\n", err)
		return nil
	}
	if _, err := execlog.Write(ctx, st.Blobs, &rec); err != nil {
		fmt.Fprintf(a.stderr, "churnops: execution not recorded: %v\n", err)
	}
	a.refreshDashboard(ctx, st)
	return &rec
}

// refreshDashboard renders the static dashboard of a local state again
// (after a run or a change to the registry); a failure is a warning.
func (a *app) refreshDashboard(ctx context.Context, st *stores) {
	if st.Local == nil {
		return
	}
	if err := writeDashboard(ctx, a.dashboardSources(st), dashboardFile(st)); err != nil {
		fmt.Fprintf(a.stderr, "churnops: dashboard not updated: %v\n", err)
	}
}

// writeDashboard builds and renders the page into path, atomically: the
// page is the one file under the state's blobs that is replaced, so it is
// written beside the others, not through blob.Store (whose keys are
// written once). The temporary file's name starts with '.', which no blob
// key does, so a listing never sees it.
func writeDashboard(ctx context.Context, src dashboard.Sources, path string) error {
	page, err := dashboard.Build(ctx, src)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := dashboard.Render(&buf, page); err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".index-*.html")
	if err != nil {
		return err
	}
	_, err = f.Write(buf.Bytes())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// printRunFiles says where a local run's drift report and the dashboard
// are.
func (a *app) printRunFiles(st *stores, rec *execlog.Record) {
	if st.Local == nil || rec == nil {
		return
	}
	if s, err := rec.State(); err == nil && s.Drift != nil && s.Drift.ReportHTMLKey != "" {
		a.printf("drift report: %s\n", blobPath(st, s.Drift.ReportHTMLKey))
	}
	a.printf("dashboard:    %s\n", dashboardFile(st))
}

// shellQuote quotes s for a POSIX shell when it needs it, so that a
// printed command can be pasted as is.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@,+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
