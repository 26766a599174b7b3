package localstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
)

// The cross-process tests re-execute this test binary as child processes:
// with childRole set, TestMain runs the child's part instead of the tests.
const (
	childRole   = "LOCALSTORE_TEST_CHILD"    // "race" or "hold"
	childDir    = "LOCALSTORE_TEST_DIR"      // state directory
	childRounds = "LOCALSTORE_TEST_ROUNDS"   // race: register+promote rounds
	childHold   = "LOCALSTORE_TEST_HOLDLOCK" // race: "1" to use HoldLock
	model       = "churn"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(childRole); role != "" {
		if err := runChild(role); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runChild is one other churnops process using the state directory.
//
//   - race: rounds times, register a candidate, read Production and promote
//     the candidate conditioned on it, printing "registered N" and
//     "promoted N" or "conflict N".
//   - hold: open with HoldLock, register one version, print "ready", and
//     keep the lock until stdin closes.
func runChild(role string) error {
	ctx := context.Background()
	opts := localstore.Options{LockTimeout: time.Minute, HoldLock: role == "hold" || os.Getenv(childHold) == "1"}
	s, err := localstore.Open(os.Getenv(childDir), opts)
	if err != nil {
		return err
	}
	defer s.Close()
	switch role {
	case "hold":
		if _, err := s.Registry.Register(ctx, registry.Version{Model: model}); err != nil {
			return err
		}
		fmt.Println("ready")
		_, _ = io.Copy(io.Discard, os.Stdin)
		return s.Close()
	case "race":
		rounds, err := strconv.Atoi(os.Getenv(childRounds))
		if err != nil {
			return err
		}
		for range rounds {
			v, err := s.Registry.Register(ctx, registry.Version{Model: model})
			if err != nil {
				return err
			}
			fmt.Println("registered", v.Version)
			expected := 0
			switch p, err := s.Registry.Production(ctx, model); {
			case err == nil:
				expected = p.Version
			case !errors.Is(err, registry.ErrNoProduction):
				return err
			}
			switch err := s.Registry.Promote(ctx, model, v.Version, expected, registry.Decision{Outcome: registry.OutcomePromoted}); {
			case err == nil:
				fmt.Println("promoted", v.Version)
			case errors.Is(err, registry.ErrConflict):
				fmt.Println("conflict", v.Version)
			default:
				return err
			}
		}
		return s.Close()
	}
	return fmt.Errorf("unknown role %q", role)
}

func child(t *testing.T, role, dir string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0]) // not t.Context(): it ends before cleanups release the holder
	cmd.Env = append(os.Environ(), append([]string{childRole + "=" + role, childDir + "=" + dir}, env...)...)
	cmd.Stderr = &strings.Builder{}
	return cmd
}

// TestProcessesTakeTurns runs several processes that each register
// versions and race to promote them on one state directory, and checks
// that they took turns: no version lost or numbered twice, exactly one
// Production, and every promotion a process saw succeed recorded.
func TestProcessesTakeTurns(t *testing.T) {
	const procs, rounds = 4, 12
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			dir := t.TempDir()
			outs := make([]bytes.Buffer, procs)
			errs := make([]error, procs)
			var wg sync.WaitGroup
			for i := range procs {
				hold := "0"
				if m.opts.HoldLock {
					hold = "1"
				}
				cmd := child(t, "race", dir, childRounds+"="+strconv.Itoa(rounds), childHold+"="+hold)
				cmd.Stdout = &outs[i]
				wg.Go(func() {
					if err := cmd.Run(); err != nil {
						errs[i] = fmt.Errorf("child %d: %w: %s", i, err, cmd.Stderr)
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}

			var registered []int
			promoted := map[int]bool{}
			for _, out := range outs {
				for line := range strings.Lines(out.String()) {
					var word string
					var n int
					if _, err := fmt.Sscanf(line, "%s %d", &word, &n); err != nil {
						t.Fatalf("child output %q: %v", line, err)
					}
					switch word {
					case "registered":
						registered = append(registered, n)
					case "promoted":
						promoted[n] = true
					}
				}
			}
			slices.Sort(registered)
			for i, n := range registered {
				if n != i+1 {
					t.Fatalf("processes registered %v, want 1..%d once each", registered, procs*rounds)
				}
			}
			if len(registered) != procs*rounds || len(promoted) == 0 {
				t.Fatalf("%d registrations and %d promotions, want %d and at least 1", len(registered), len(promoted), procs*rounds)
			}

			s := openState(t, dir, localstore.Options{})
			vs, err := s.Registry.List(t.Context(), model)
			if err != nil {
				t.Fatal(err)
			}
			if len(vs) != procs*rounds {
				t.Fatalf("List: %d versions, want %d", len(vs), procs*rounds)
			}
			production := 0
			for i, v := range vs {
				if v.Version != i+1 {
					t.Errorf("List[%d] is v%d", i, v.Version)
				}
				if v.Stage == registry.StageProduction {
					production++
				}
				// A version was promoted iff a process saw its promotion succeed.
				if wasPromoted := v.Stage == registry.StageProduction || v.Stage == registry.StageArchived; wasPromoted != promoted[v.Version] {
					t.Errorf("v%d is %s, but its promotion was reported %v", v.Version, v.Stage, promoted[v.Version])
				}
			}
			if production != 1 {
				t.Errorf("%d Production versions, want 1", production)
			}
		})
	}
}

// startHolder starts a process that holds the state's lock until the
// returned release function is called.
func startHolder(t *testing.T, dir string) (release func()) {
	t.Helper()
	cmd := child(t, "hold", dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("holder: %q, %v: %s", line, err, cmd.Stderr)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			stdin.Close()
			if err := cmd.Wait(); err != nil {
				t.Errorf("holder: %v: %s", err, cmd.Stderr)
			}
		})
	}
	t.Cleanup(release)
	return release
}

// TestLockedByAnotherProcess checks both outcomes of waiting for another
// process's lock: a clear ErrLocked after the timeout, or success once the
// other process lets go, seeing what it wrote.
func TestLockedByAnotherProcess(t *testing.T) {
	cases := []struct {
		name       string
		timeout    time.Duration
		releaseIn  time.Duration // when the holder lets go; 0: never, during the test
		wantLocked bool
	}{
		{"times out", 300 * time.Millisecond, 0, true},
		{"waits for the other process", 30 * time.Second, 500 * time.Millisecond, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			release := startHolder(t, dir)
			if tc.releaseIn > 0 {
				timer := time.AfterFunc(tc.releaseIn, release)
				defer timer.Stop()
			}
			start := time.Now()
			s, err := localstore.Open(dir, localstore.Options{LockTimeout: tc.timeout})
			waited := time.Since(start)
			if tc.wantLocked {
				if !errors.Is(err, localstore.ErrLocked) || !strings.Contains(err.Error(), "in use by another churnops process") {
					t.Fatalf("Open: err %v, want ErrLocked", err)
				}
				if waited < tc.timeout/2 {
					t.Errorf("gave up after %s, want about %s", waited, tc.timeout)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer s.Close()
			if waited < tc.releaseIn/2 {
				t.Errorf("Open returned after %s, before the holder let go at %s", waited, tc.releaseIn)
			}
			v, err := s.Registry.Register(t.Context(), registry.Version{Model: model})
			if err != nil || v.Version != 2 {
				t.Errorf("Register after the holder: v%d, %v; want v2", v.Version, err)
			}
		})
	}
}

// TestSecondOpenInProcessWaits shows the same within one process (flock
// locks per open file on Linux, BSD and macOS): a second Open waits for the
// first to Close rather than sharing the file unlocked.
func TestSecondOpenInProcessWaits(t *testing.T) {
	ctx := t.Context()
	cases := []struct {
		name    string
		timeout time.Duration
		closeIn time.Duration
		wantErr error
	}{
		{"times out", 200 * time.Millisecond, time.Second, localstore.ErrLocked},
		{"waits for Close", 30 * time.Second, 300 * time.Millisecond, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			first, err := localstore.Open(dir, localstore.Options{HoldLock: true})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := first.Registry.Register(ctx, registry.Version{Model: model}); err != nil {
				t.Fatal(err)
			}
			closed := make(chan error, 1)
			timer := time.AfterFunc(tc.closeIn, func() { closed <- first.Close() })
			defer func() {
				if timer.Stop() {
					closed <- first.Close()
				}
				if err := <-closed; err != nil {
					t.Errorf("first Close: %v", err)
				}
			}()

			start := time.Now()
			second, err := localstore.Open(dir, localstore.Options{LockTimeout: tc.timeout})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("second Open: err %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("second Open: %v", err)
			}
			defer second.Close()
			if waited := time.Since(start); waited < tc.closeIn/2 {
				t.Errorf("second Open returned after %s, before the first closed at %s", waited, tc.closeIn)
			}
			if vs, err := second.Registry.List(ctx, model); err != nil || len(vs) != 1 {
				t.Errorf("second sees %d versions, %v; want the first's 1", len(vs), err)
			}
		})
	}
}

// TestLockWaitHonoursDeadline checks that an operation gives up at its
// context's deadline when that comes before the lock timeout.
func TestLockWaitHonoursDeadline(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{LockTimeout: time.Minute})
	startHolder(t, dir)
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := s.Registry.Production(ctx, model)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Production while locked: err %v, want DeadlineExceeded", err)
	}
	if waited := time.Since(start); waited > 10*time.Second {
		t.Errorf("waited %s, past the context deadline", waited)
	}
}
