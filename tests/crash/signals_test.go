package crash_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// slowUsers makes training take about ten seconds on 2 cores: long enough
// for a signal to arrive mid-training.
const slowUsers = "60000"

// TestSignalsStopLongCommands (#13 defect 10): SIGTERM or SIGINT in the
// middle of a long command (here training, alone and inside a run) stops it
// within a couple of seconds, exit 1, and leaves the state consistent.
func TestSignalsStopLongCommands(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if r := cli(t, filepath.Join(dir, "unused"), nil, "gen", "--out", data, "--months", "1", "--users", slowUsers, "--seed", "3"); r.code != 0 {
		t.Fatalf("gen: %s", r)
	}
	month := filepath.Join(data, "month_000")
	state := filepath.Join(dir, "state")
	for _, asOf := range asOfs[:2] {
		mustCLI(t, state, "ingest", "--data", month, "--as-of", asOf)
	}
	cases := []struct {
		name string
		sig  syscall.Signal
		args []string
	}{
		{"train, SIGTERM", syscall.SIGTERM, []string{"train", "--data", month, "--as-of", asOfs[0], "--out", filepath.Join(dir, "out")}},
		{"run, SIGINT", syscall.SIGINT, []string{"run", "--reference-as-of", asOfs[0], "--current-as-of", asOfs[1]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, slices.Concat(tc.args, []string{"--state", state})...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(1500 * time.Millisecond) // training has begun
			sent := time.Now()
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				<-done
				t.Fatalf("still running 5 s after %s", tc.sig)
			}
			t.Logf("stopped %s after %s", time.Since(sent).Round(time.Millisecond), tc.sig)
			if code := cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(stderr.String(), "context canceled") {
				t.Errorf("exit %d, stderr %q; want exit 1 saying it was interrupted (context canceled)", code, stderr.String())
			}
			// The state is sound (churnops check: registry, artifacts,
			// datasets, approvals; cheaper than inspect on 60,000
			// customers).
			if r := cli(t, state, nil, "check"); r.code != 0 {
				t.Errorf("churnops check after the signal: %s", r)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "out", "model.json")); err == nil {
		t.Error("the interrupted train wrote a model")
	}
}
