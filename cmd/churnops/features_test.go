package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The tests below run churnops as a child process where a panic, an exit
// code or a lock held by another process is what they check: the test
// binary re-runs itself with helperEnv set, and TestHelperProcess then
// plays the child's part instead of a test.
const (
	helperEnv  = "CHURNOPS_TEST_HELPER" // "main": run Main; "hold-features": hold the online store like a writer
	helperArgs = "CHURNOPS_TEST_ARGS"   // JSON array of Main's arguments
)

// TestHelperProcess is the child process; it skips in a normal run.
func TestHelperProcess(t *testing.T) {
	switch os.Getenv(helperEnv) {
	case "":
		t.Skip("only runs as a child of the tests in this file")
	case "main":
		var args []string
		if err := json.Unmarshal([]byte(os.Getenv(helperArgs)), &args); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(Main(context.Background(), args, os.Stdout, os.Stderr))
	case "hold-features":
		os.Exit(holdFeatures(os.Getenv(helperArgs)))
	}
}

// holdFeatures holds the state's online features the way a writer does
// (the lock of features.db, the publishers' lock of features/), prints
// "ready" and keeps them until stdin closes.
func holdFeatures(state string) int {
	var files []*os.File
	for _, name := range []string{"features.db", filepath.Join("features", "LOCK")} {
		path := filepath.Join(state, name)
		if _, err := os.Stat(filepath.Dir(path)); err != nil {
			continue
		}
		if name == "features.db" {
			if _, err := os.Stat(path); err != nil {
				continue // the embedded store no longer keeps features there
			}
		}
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		files = append(files, f)
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, f := range files {
		f.Close()
	}
	return 0
}

// child runs `churnops args…` as a child process.
func child(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	raw, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=main", helperArgs+"="+string(raw))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("churnops %s: %v", strings.Join(args, " "), err)
	}
	return code, out.String(), errb.String()
}

// served is a state directory with two generated months ingested and a
// Production model trained on the first, copied afresh for each test.
type served struct {
	data   string   // month_000, month_001
	asOfs  []string // their as_of dates
	users  [][]string
	master string
}

var (
	servedOnce sync.Once
	servedFix  served
	servedErr  error
)

func newServed(t *testing.T) (state string, f served) {
	t.Helper()
	servedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "churnops-served-")
		if err != nil {
			servedErr = err
			return
		}
		f := served{data: filepath.Join(dir, "data"), master: filepath.Join(dir, "state"), asOfs: []string{"2024-01-31", "2024-02-29"}}
		steps := [][]string{
			{"gen", "--out", f.data, "--months", "2", "--users", "1500", "--seed", "21"},
			{"ingest", "--state", f.master, "--data", filepath.Join(f.data, "month_000"), "--as-of", f.asOfs[0]},
			{"ingest", "--state", f.master, "--data", filepath.Join(f.data, "month_001"), "--as-of", f.asOfs[1]},
			{"run", "--state", f.master, "--reference-as-of", f.asOfs[0], "--current-as-of", f.asOfs[1], "--threshold", "1"},
		}
		for _, args := range steps {
			var out, errb bytes.Buffer
			if code := Main(context.Background(), args, &out, &errb); code != 0 {
				servedErr = fmt.Errorf("churnops %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
				return
			}
		}
		for _, m := range []string{"month_000", "month_001"} {
			f.users = append(f.users, readColumnErr(filepath.Join(f.data, m, "users.csv")))
		}
		servedFix = f
	})
	if servedErr != nil {
		t.Fatal(servedErr)
	}
	state = filepath.Join(t.TempDir(), "state")
	copyTree(t, servedFix.master, state)
	return state, servedFix
}

func readColumnErr(path string) []string {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for i, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if i > 0 {
			out = append(out, strings.SplitN(line, ",", 2)[0])
		}
	}
	return out
}

// copyTree copies the tree under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// TestFutureAsOfIsRefused (#13 defect 8): a date after today is refused
// before anything is stored, by ingest and by an execution's input.
func TestFutureAsOfIsRefused(t *testing.T) {
	state, f := newServed(t)
	cases := []struct {
		name string
		args []string
	}{
		{"ingest 2999-12-31", []string{"ingest", "--state", state, "--data", filepath.Join(f.data, "month_001"), "--as-of", "2999-12-31"}},
		{"ingest 2204-01-31", []string{"ingest", "--state", state, "--data", filepath.Join(f.data, "month_001"), "--as-of", "2204-01-31"}},
		{"run --current-as-of 2204-01-31", []string{"run", "--state", state, "--reference-as-of", f.asOfs[0], "--current-as-of", "2204-01-31"}},
		{"run --reference-as-of 2999-12-31", []string{"run", "--state", state, "--reference-as-of", "2999-12-31", "--current-as-of", "latest"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errs := churnops(t, tc.args...)
			if code == 0 || !strings.Contains(errs, "in the future") {
				t.Errorf("exit %d, stderr %q; want a refusal saying the date is in the future", code, errs)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(state, "blobs", "datasets", "as_of=2999-12-31")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused ingest left datasets/as_of=2999-12-31 behind (%v)", err)
	}
}

// TestDamagedFeatureFiles (#13 defects 3 and 4, the online features'
// files): a damaged or empty file is reported by name with what to do,
// exit 1, never a panic and never an empty store; nothing stays locked, so
// re-ingesting the month repairs it.
func TestDamagedFeatureFiles(t *testing.T) {
	cases := []struct {
		name   string
		damage func(t *testing.T, state string) (file string) // returns the base name the error must give
	}{
		{"a part file with a flipped byte", func(t *testing.T, state string) string {
			return rewrite(t, servedPart(t, state), func(b []byte) []byte { b[len(b)/2] ^= 0x5a; return b })
		}},
		{"a part file cut short", func(t *testing.T, state string) string {
			return rewrite(t, servedPart(t, state), func(b []byte) []byte { return b[:len(b)/2] })
		}},
		{"an empty part file", func(t *testing.T, state string) string {
			return rewrite(t, servedPart(t, state), func([]byte) []byte { return nil })
		}},
		{"an empty CURRENT", func(t *testing.T, state string) string {
			return rewrite(t, filepath.Join(state, "features", "CURRENT"), func([]byte) []byte { return nil })
		}},
		{"a garbled CURRENT", func(t *testing.T, state string) string {
			return rewrite(t, filepath.Join(state, "features", "CURRENT"), func(b []byte) []byte { return bytes.Repeat([]byte{0xff}, len(b)) })
		}},
		{"a garbage features.db of the old layout", func(t *testing.T, state string) string {
			os.RemoveAll(filepath.Join(state, "features"))
			return writeFile(t, filepath.Join(state, "features.db"), bytes.Repeat([]byte("not a database "), 500))
		}},
		{"an empty features.db of the old layout", func(t *testing.T, state string) string {
			os.RemoveAll(filepath.Join(state, "features"))
			return writeFile(t, filepath.Join(state, "features.db"), nil)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			state, f := newServed(t)
			file := tc.damage(t, state)
			user := f.users[1][0]
			code, _, errs := child(t, "predict", "--state", state, "--user-id", user)
			if code != 1 || !strings.Contains(errs, file) || !strings.Contains(errs, "churnops ingest") ||
				strings.Contains(errs, "panic") || strings.Contains(errs, "goroutine ") {
				t.Fatalf("predict: exit %d, stderr:\n%s\nwant exit 1 naming %s and saying to re-ingest, no panic", code, errs, file)
			}
			code, _, errs = child(t, "ingest", "--state", state, "--data", filepath.Join(f.data, "month_001"), "--as-of", f.asOfs[1])
			if code != 0 {
				t.Fatalf("re-ingest after the damage: exit %d: %s", code, errs)
			}
			if code, out, errs := child(t, "predict", "--state", state, "--user-id", user); code != 0 || !strings.Contains(out, f.asOfs[1]) {
				t.Fatalf("predict after the re-ingest: exit %d: %s %s", code, out, errs)
			}
		})
	}
}

// servedPart returns the online features file that serves month_001's
// first customer (every part of the served month, if it cannot tell).
func servedPart(t *testing.T, state string) string {
	t.Helper()
	parts, _ := filepath.Glob(filepath.Join(state, "features", "as_of=2024-02-29", "part-*.kv"))
	if len(parts) == 0 {
		t.Fatalf("no part file of the served month under %s/features", state)
	}
	return parts[0]
}

func rewrite(t *testing.T, path string, f func([]byte) []byte) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return writeFile(t, path, f(b))
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return filepath.Base(path)
}

// TestReadersNeverWaitForAWriter (#13 defect 11): while another process
// holds the online store as a writer does, /predict and /ready answer at
// once, and /ready says what /predict can do.
func TestReadersNeverWaitForAWriter(t *testing.T) {
	state, f := newServed(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"=hold-features", helperArgs+"="+state)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("holder: %q, %v", line, err)
	}

	// Far less than the 10 s a reader used to wait for the lock.
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	a := newApp(io.Discard, io.Discard)
	a.state, a.backend, a.model = state, backendLocal, "churn"
	defer a.close()
	st, err := a.openStores(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := a.service(st, st.Features, time.Hour, false, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	for _, req := range []struct {
		method, path, body string
	}{
		{"POST", "/predict", `{"user_id":"` + f.users[1][0] + `"}`},
		{"GET", "/ready", ""},
	} {
		r := httptest.NewRequestWithContext(ctx, req.method, req.path, strings.NewReader(req.body))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		svc.Handler().ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			t.Errorf("%s %s while a writer holds the store: %d %s", req.method, req.path, rec.Code, rec.Body)
		}
	}
}
