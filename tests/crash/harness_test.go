package crash_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/churnops/churnops/internal/crashpoint"
)

// The CLI and the generated months, made once by TestMain.
var (
	bin    string   // the churnops binary
	months []string // month directories: a reference month, a quiet one, one whose labels shift
)

// asOfs are the months' dates, in order.
var asOfs = []string{"2024-01-31", "2024-02-29", "2024-03-31"}

// users per generated month: small, so that a whole run takes a tenth of a
// second and every kill point of every scenario fits in the time budget.
const users = "600"

func TestMain(m *testing.M) {
	os.Exit(func() int {
		dir, err := os.MkdirTemp("", "churnops-crash-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		if err := setup(dir); err != nil {
			fmt.Fprintln(os.Stderr, "crash harness setup:", err)
			return 1
		}
		defer removeBases()
		return m.Run()
	}())
}

// setup builds the CLI once and generates the months.
func setup(dir string) error {
	bin = filepath.Join(dir, "churnops")
	build := exec.Command("go", "build", "-o", bin, "github.com/churnops/churnops/cmd/churnops")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	data := filepath.Join(dir, "data")
	gen := exec.Command(bin, "gen", "--out", data, "--months", strconv.Itoa(len(asOfs)), "--users", users, "--seed", "5", "--drift", "2:label", "--quiet")
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("gen: %v\n%s", err, out)
	}
	for i := range asOfs {
		months = append(months, filepath.Join(data, fmt.Sprintf("month_%03d", i)))
	}
	return nil
}

// result is how one CLI process ended.
type result struct {
	code           int
	killed         bool // by SIGKILL: the crash point fired
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d (killed %v)\nstdout:\n%s\nstderr:\n%s", r.code, r.killed, r.stdout, r.stderr)
}

// cli runs churnops with args on state directory dir; env adds variables
// (the crash point).
func cli(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, slices.Concat(args, []string{"--state", dir, "--quiet"})...)
	// No other process works on the state: an orphan is marked at once.
	cmd.Env = append(os.Environ(), append([]string{"CHURNOPS_ORPHAN_GRACE=0"}, env...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
		if ws, ok := exit.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.killed = true
		}
	default:
		t.Fatalf("churnops %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustCLI runs churnops and fails the test unless it exits 0.
func mustCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	r := cli(t, dir, nil, args...)
	if r.code != 0 {
		t.Fatalf("churnops %s: %s", strings.Join(args, " "), r)
	}
	return r.stdout
}

// trace runs the command with the crash trace on and returns its durable
// steps, in order.
func trace(t *testing.T, dir string, args []string) ([]string, result) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "trace")
	r := cli(t, dir, []string{crashpoint.EnvTrace + "=" + file}, args...)
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return nil, r
	}
	if err != nil {
		t.Fatal(err)
	}
	var steps []string
	for line := range strings.Lines(string(raw)) {
		_, what, _ := strings.Cut(strings.TrimSpace(line), " ")
		steps = append(steps, what)
	}
	return steps, r
}

// crashAt runs the command and SIGKILLs it right after its k-th durable
// step (1-based).
func crashAt(t *testing.T, dir string, k int, args []string) result {
	t.Helper()
	return cli(t, dir, []string{crashpoint.EnvAt + "=" + strconv.Itoa(k)}, args...)
}

// copyState copies a state directory (regular files and directories only,
// which is all a state directory holds) to a new directory.
func copyState(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "state")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy state %s: %v", src, err)
	}
	return dst
}
