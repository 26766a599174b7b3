//go:build browser

package browser_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/churnops/churnops/internal/execlog"
)

var updateDocs = flag.Bool("update-docs", false, "also write the 1280 px screenshot to docs/dashboard.png")

// The demo's story (cmd/churnops demo): four months, three runs.
const demoRuns = 3

func TestDashboard(t *testing.T) {
	browser := chromiumPath(t)
	root := repoRoot(t)
	artifacts := cmpOr(os.Getenv("BROWSER_ARTIFACTS"), filepath.Join(root, "bin", "test-artifacts", "browser"))
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	bin := filepath.Join(work, "churnops")
	run(t, root, "go", "build", "-o", bin, "./cmd/churnops")
	run(t, work, bin, "demo", "--dir", filepath.Join(work, "demo"), "--users", "3000")
	state := filepath.Join(work, "demo", "state")

	// What the page must show, read the way a user would.
	var versions []struct {
		Version int    `json:"version"`
		Stage   string `json:"stage"`
	}
	if err := json.Unmarshal([]byte(run(t, work, bin, "registry", "list", "--json", "--state", state)), &versions); err != nil {
		t.Fatal(err)
	}
	runs := recordedRuns(t, state)
	if len(runs) != demoRuns {
		t.Fatalf("the demo recorded %d executions, want %d", len(runs), demoRuns)
	}

	base := serveState(t, bin, state)
	ctx := newBrowser(t, browser)
	problems := watch(t, ctx)

	t.Run("served page", func(t *testing.T) {
		resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/"))
		if err != nil || resp.Status != 200 {
			t.Fatalf("GET /: %v, status %v", err, status(resp))
		}
		checkPage(t, ctx, versions, runs)
		problems.check(t, "the served page")
		shot(t, ctx, filepath.Join(artifacts, "dashboard-1280.png"))
		if *updateDocs {
			shot(t, ctx, filepath.Join(root, "docs", "dashboard.png"))
		}
	})

	t.Run("tables sort", func(t *testing.T) {
		order := func() []int {
			return eval[[]int](t, ctx, `Array.from(document.querySelectorAll('#registry-table tbody tr')).map(r => +r.dataset.version)`)
		}
		if got := order(); !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) {
			t.Fatalf("registry rows %v, want newest first", got)
		}
		click(t, ctx, `#registry-table thead th:first-child button.sort`)
		if got := order(); !slices.IsSorted(got) {
			t.Errorf("after one click on Version: %v, want ascending", got)
		}
		click(t, ctx, `#registry-table thead th:first-child button.sort`)
		if got := order(); !slices.IsSortedFunc(got, func(a, b int) int { return b - a }) {
			t.Errorf("after two clicks: %v, want descending", got)
		}
		if s := eval[string](t, ctx, `document.querySelector('#registry-table thead th:first-child').getAttribute('aria-sort')`); s != "descending" {
			t.Errorf("aria-sort %q, want descending", s)
		}
	})

	t.Run("keyboard", func(t *testing.T) {
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		if err := chromedp.Do(ctx, chromedp.KeyEvent(kb.Tab)); err != nil {
			t.Fatal(err)
		}
		if got := eval[string](t, ctx, `document.activeElement.className + ' ' + document.activeElement.getAttribute('href')`); got != "skip #main" {
			t.Errorf("first Tab focuses %q, want the skip link", got)
		}
		// Every chart point is a link, so it is reachable with Tab.
		if n := eval[int](t, ctx, `document.querySelectorAll('#drift-chart a.point:not([href])').length`); n != 0 {
			t.Errorf("%d drift points without a link", n)
		}
	})

	t.Run("clicking a month opens its report", func(t *testing.T) {
		for i, r := range runs {
			sel := fmt.Sprintf(`#heatmap thead a.month-link[data-month="%s"]`, r.CurrentAsOf)
			if i == len(runs)-1 { // and one point of the chart
				sel = fmt.Sprintf(`#drift-chart a.point[data-month="%s"]`, r.CurrentAsOf)
			}
			if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/")); err != nil {
				t.Fatal(err)
			}
			openReport(t, ctx, sel, r, base+"/reports/drift/")
			problems.check(t, "the report of "+r.CurrentAsOf)
		}
	})

	t.Run("static file", func(t *testing.T) {
		file := "file://" + filepath.Join(state, "blobs", "reports", "index.html")
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(file)); err != nil {
			t.Fatal(err)
		}
		checkPage(t, ctx, versions, runs)
		problems.check(t, "the static file")
		r := runs[1]
		openReport(t, ctx, fmt.Sprintf(`#heatmap thead a.month-link[data-month="%s"]`, r.CurrentAsOf), r,
			"file://"+filepath.Join(state, "blobs", "reports", "drift")+"/")
		problems.check(t, "a report opened from the static file")
	})

	t.Run("phone width", func(t *testing.T) {
		if err := chromedp.Do(ctx, chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile)); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900))
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 375 {
			// Name the outermost elements that stick out.
			wide := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('body *')).filter(e =>
				e.getBoundingClientRect().right > 376 && e.parentElement.getBoundingClientRect().right <= 376).slice(0, 8).map(e =>
				e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className : '') +
				' right=' + Math.round(e.getBoundingClientRect().right))`)
			t.Errorf("the page is %d px wide at 375 px: something overflows sideways: %v", w, wide)
		}
		problems.check(t, "the page at 375 px")
		shot(t, ctx, filepath.Join(artifacts, "dashboard-375.png"))
	})

	t.Run("without JavaScript", func(t *testing.T) {
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		defer chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: false})
		if _, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/")); err != nil {
			t.Fatal(err)
		}
		// Evaluate still runs (it is DevTools, not the page's scripts).
		if n := eval[int](t, ctx, `document.querySelectorAll('button.sort').length`); n != 0 {
			t.Errorf("%d sort buttons: the page's script ran", n)
		}
		checkPage(t, ctx, versions, runs)
	})
}

// checkPage checks the registry table and the drift chart against what
// the CLI and the execution records say.
func checkPage(t *testing.T, ctx context.Context, versions []struct {
	Version int    `json:"version"`
	Stage   string `json:"stage"`
}, runs []execlog.Record) {
	t.Helper()
	type row struct {
		Version   int    `json:"version"`
		Stage     string `json:"stage"`
		StageText string `json:"text"`
	}
	rows := eval[[]row](t, ctx, `Array.from(document.querySelectorAll('#registry-table tbody tr')).map(r =>
		({version: +r.dataset.version, stage: r.dataset.stage, text: r.cells[1].textContent.trim()}))`)
	got := map[int]string{}
	for _, r := range rows {
		if r.Stage != r.StageText {
			t.Errorf("v%d: stage shown %q, data-stage %q", r.Version, r.StageText, r.Stage)
		}
		got[r.Version] = r.StageText
	}
	if len(rows) != len(versions) {
		t.Errorf("registry table has %d rows, the registry %d versions", len(rows), len(versions))
	}
	for _, v := range versions {
		if got[v.Version] != v.Stage {
			t.Errorf("v%d: the page says %q, the registry %q", v.Version, got[v.Version], v.Stage)
		}
	}
	months := eval[[]string](t, ctx, `Array.from(document.querySelectorAll('#drift-chart .point')).map(p => p.dataset.month)`)
	var want []string
	for _, r := range runs {
		want = append(want, r.CurrentAsOf)
	}
	if !slices.Equal(months, want) {
		t.Errorf("drift chart points %v, want one per run: %v", months, want)
	}
}

// openReport clicks sel and checks that the drift report of r loads from
// under dir.
func openReport(t *testing.T, ctx context.Context, sel string, r execlog.Record, dir string) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	resp, err := chromedp.RunResponse(tctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible))
	if err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
	if resp.Status != 200 && !strings.HasPrefix(dir, "file://") {
		t.Errorf("click %s: status %d", sel, resp.Status)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if want := dir + r.ReferenceAsOf + "_vs_" + r.CurrentAsOf + ".html"; loc != want {
		t.Errorf("click %s opened %s, want %s", sel, loc, want)
	}
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, r.ReferenceAsOf) || !strings.Contains(title, r.CurrentAsOf) {
		t.Errorf("the report's title %q does not name %s and %s", title, r.ReferenceAsOf, r.CurrentAsOf)
	}
}

// problems collects what the browser reports as going wrong: console
// errors, uncaught exceptions, browser log errors (a failed load, a CSP
// violation) and HTTP errors.
type problems struct {
	mu   sync.Mutex
	seen []string
}

func watch(t *testing.T, ctx context.Context) *problems {
	t.Helper()
	p := &problems{}
	err := chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				msg = fmt.Sprintf("console.%s", e.Type)
				for _, a := range e.Args {
					msg += " " + string(a.Value)
				}
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *log.EventEntryAdded:
			if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
				msg = fmt.Sprintf("log %s (%s): %s %s", e.Entry.Level, e.Entry.Source, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventResponseReceived:
			// A browser may ask for /favicon.ico on its own (the drift
			// report names no icon): not a request of the page.
			if e.Response.Status >= 400 && !strings.HasSuffix(e.Response.URL, "/favicon.ico") {
				msg = fmt.Sprintf("HTTP %d %s", e.Response.Status, e.Response.URL)
			}
		case *network.EventLoadingFailed:
			msg = "loading failed: " + e.ErrorText
		}
		if msg != "" {
			p.mu.Lock()
			p.seen = append(p.seen, msg)
			p.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// check fails t with what went wrong since the last check.
func (p *problems) check(t *testing.T, what string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // let late events arrive
	p.mu.Lock()
	seen := p.seen
	p.seen = nil
	p.mu.Unlock()
	for _, s := range seen {
		t.Errorf("%s: %s", what, s)
	}
}

func newBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil { // start the browser
		t.Fatalf("start %s: %v", path, err)
	}
	return ctx
}

// chromiumPath is $CHROMIUM or Debian's /usr/bin/chromium. Without it the
// test skips, or fails on CI.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium (set CHROMIUM, or run scripts/chromium.sh) and CI=true")
	}
	t.Skip("no Chromium: run scripts/chromium.sh (or make test-browser) to install Debian's package")
	return ""
}

// serveState starts `churnops serve` on state and returns its base URL.
func serveState(t *testing.T, bin, state string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--state", state, "--addr", addr, "--access-log=false")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("churnops serve:\n%s", logs.String())
		}
	})
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(base + "/health")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return base
			}
		}
		select {
		case <-done:
			t.Fatalf("churnops serve exited:\n%s", logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("churnops serve did not answer /health in 20s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recordedRuns reads the execution records the demo wrote, oldest first.
func recordedRuns(t *testing.T, state string) []execlog.Record {
	t.Helper()
	dir := filepath.Join(state, "blobs", filepath.FromSlash(execlog.Prefix))
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var recs []execlog.Record
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		r, err := execlog.Decode(e.Name(), data)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	execlog.SortByStart(recs)
	return recs
}

func run(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

func repoRoot(t *testing.T) string {
	t.Helper()
	out := strings.TrimSpace(run(t, ".", "go", "env", "GOMOD"))
	if out == "" || out == os.DevNull {
		t.Fatal("not inside the churnops module")
	}
	return filepath.Dir(out)
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

func click(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel), chromedp.NodeVisible)); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

// shot writes a full-page screenshot.
func shot(t *testing.T, ctx context.Context, path string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d KB)", path, len(png)/1024)
}

func status(r *network.Response) any {
	if r == nil {
		return "none"
	}
	return r.Status
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
