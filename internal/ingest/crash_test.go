package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/crashpoint"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// faultyStore fails the n-th Put or Delete (1-based; 0 never), the way a
// write that never reaches S3 does: nothing is stored.
type faultyStore struct {
	blob.Store
	mu                  sync.Mutex
	puts, deletes       int
	failPut, failDelete int
}

var errInjected = errors.New("injected failure")

func (s *faultyStore) Put(ctx context.Context, key string, data []byte) error {
	s.mu.Lock()
	s.puts++
	fail := s.puts == s.failPut
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("put %s: %w", key, errInjected)
	}
	return s.Store.Put(ctx, key, data)
}

func (s *faultyStore) Delete(ctx context.Context, key string) error {
	s.mu.Lock()
	s.deletes++
	fail := s.deletes == s.failDelete
	s.mu.Unlock()
	if fail {
		return fmt.Errorf("delete %s: %w", key, errInjected)
	}
	return s.Store.Delete(ctx, key)
}

// genMonth writes a generated month and returns its directory and the
// month Load reads from it.
func genMonth(t *testing.T, users int) (string, *snapshot.Month) {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.GenerateToDir(dir, synth.Config{Users: users, Months: 1, Seed: 8}, synth.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	month := filepath.Join(dir, synth.MonthDir(0))
	want, err := snapshot.Load(month, asOf0)
	if err != nil {
		t.Fatal(err)
	}
	return month, want
}

// clock returns a clock that moves one minute per reading, so that
// attempts started one after the other have increasing ids.
func clock() func() time.Time {
	var mu sync.Mutex
	t := time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC)
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		t = t.Add(time.Minute)
		return t
	}
}

// checkOldOrNew checks the invariant after a failure: the month is either
// not visible, or visible and complete and correct.
func checkOldOrNew(t *testing.T, store blob.Store, want *snapshot.Month) (visible bool) {
	t.Helper()
	ctx := context.Background()
	asOfs, err := dataset.List(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	if len(asOfs) == 0 {
		return false
	}
	if len(asOfs) != 1 || asOfs[0] != "2024-01-31" {
		t.Fatalf("visible months %v", asOfs)
	}
	m, err := dataset.Open(ctx, store, "2024-01-31")
	if err != nil {
		t.Fatalf("visible month does not open: %v", err)
	}
	byID := map[string]snapshot.Customer{}
	for _, c := range want.Customers {
		byID[c.UserID] = c
	}
	n := 0
	err = dataset.Each(ctx, store, m, func(k int, s *snapshot.Month) error {
		for _, c := range s.Customers {
			if !sameCustomer(c, byID[c.UserID]) {
				return fmt.Errorf("shard %d: %s differs", k, c.UserID)
			}
			n++
		}
		return nil
	})
	if err != nil || n != len(want.Customers) {
		t.Fatalf("visible month is not the month: %d of %d customers, %v", n, len(want.Customers), err)
	}
	return true
}

// checkClean checks that nothing is left but the month's own keys.
func checkClean(t *testing.T, store blob.Store, k int) {
	t.Helper()
	keys, err := store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	m, err := dataset.Open(context.Background(), store, "2024-01-31")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{dataset.ManifestKey(m.AsOf): true, m.DriftSummary: true}
	for _, s := range m.Shards {
		want[s.Key] = true
	}
	var stray []string
	for _, key := range keys {
		if !want[key] {
			stray = append(stray, key)
		}
	}
	if len(stray) > 0 || len(keys) != k+2 || m.DriftSummary == "" {
		t.Errorf("after the re-run: %d keys, stray %v (want %d parts, the drift summary and the manifest)", len(keys), stray, k)
	}
}

// TestResumeAfterFailedWrite fails each write (and each delete) of an
// ingest in turn: after every failure the month is invisible or complete,
// and running the ingest again finishes it and leaves nothing behind.
func TestResumeAfterFailedWrite(t *testing.T) {
	dir, want := genMonth(t, 600)
	const k = 3
	opts := func(now func() time.Time) ingest.Options {
		return ingest.Options{PlanOptions: ingest.PlanOptions{Shards: k, Now: now}}
	}
	// Count a clean run's writes.
	counter := &faultyStore{Store: newStore(t)}
	if _, err := ingest.Run(context.Background(), ingest.Dir(dir), counter, asOf0, opts(clock())); err != nil {
		t.Fatal(err)
	}
	checkClean(t, counter.Store, k)
	if counter.puts < 20 || counter.deletes < 10 {
		t.Fatalf("only %d puts, %d deletes", counter.puts, counter.deletes)
	}
	for _, what := range []string{"put", "delete"} {
		n := counter.puts
		if what == "delete" {
			n = counter.deletes
		}
		for i := 1; i <= n; i++ {
			t.Run(fmt.Sprintf("%s %d of %d", what, i, n), func(t *testing.T) {
				store := &faultyStore{Store: newStore(t)}
				if what == "put" {
					store.failPut = i
				} else {
					store.failDelete = i
				}
				now := clock()
				_, err := ingest.Run(context.Background(), ingest.Dir(dir), store, asOf0, opts(now))
				if !errors.Is(err, errInjected) {
					t.Fatalf("err %v, want the injected failure", err)
				}
				visible := checkOldOrNew(t, store, want)
				res, err := ingest.Run(context.Background(), ingest.Dir(dir), store.Store, asOf0, opts(now))
				if err != nil {
					t.Fatalf("re-run: %v", err)
				}
				if res.Commit.AlreadyIngested != visible {
					t.Errorf("re-run AlreadyIngested=%v, but the month was visible=%v", res.Commit.AlreadyIngested, visible)
				}
				if !checkOldOrNew(t, store.Store, want) {
					t.Fatal("re-run left the month invisible")
				}
				checkClean(t, store.Store, k)
			})
		}
	}
}

// The crash harness: TestCrashAnywhere runs this test binary as a child
// that ingests a month into a state directory, killed (SIGKILL) right
// after its n-th durable step — each blob linked or unlinked by the
// embedded store — then checks the state and runs the child again.
const (
	envChild = "INGEST_CRASH_CHILD" // the month directory
	envState = "INGEST_CRASH_STATE"
	envStart = "INGEST_CRASH_START" // the child's clock, Unix seconds
)

func TestCrashChild(t *testing.T) {
	month := os.Getenv(envChild)
	if month == "" {
		t.Skip("run by TestCrashAnywhere")
	}
	st, err := localstore.Open(os.Getenv(envState), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start, _ := strconv.ParseInt(os.Getenv(envStart), 10, 64)
	now := func() time.Time { return time.Unix(start, 0).UTC() }
	_, err = ingest.Run(context.Background(), ingest.Dir(month), st.Blobs, asOf0,
		ingest.Options{PlanOptions: ingest.PlanOptions{Shards: 2, Now: now}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestCrashAnywhere(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary once per durable step")
	}
	month, want := genMonth(t, 300)
	child := func(state string, start int64, env ...string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envChild+"="+month, envState+"="+state,
			envStart+"="+strconv.FormatInt(start, 10))
		cmd.Env = append(cmd.Env, env...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}
	// Count the steps of a clean run.
	trace := filepath.Join(t.TempDir(), "trace")
	if err := child(t.TempDir(), 1700000000, crashpoint.EnvTrace+"="+trace); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	steps := strings.Count(string(data), "\n")
	if steps < 15 {
		t.Fatalf("only %d steps traced", steps)
	}
	visibleAfter := 0
	defer func() { t.Logf("%d durable steps; the month was visible after %d of the kills", steps, visibleAfter) }()
	for n := 1; n <= steps; n++ {
		state := t.TempDir()
		err := child(state, 1700000000, crashpoint.EnvAt+"="+strconv.Itoa(n))
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("step %d: the child was not killed: %v", n, err)
		}
		st, err := localstore.Open(state, localstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		visible := checkOldOrNew(t, st.Blobs, want)
		if visible {
			visibleAfter++
		}
		st.Close()
		if err := child(state, 1700000060); err != nil {
			t.Fatalf("step %d (visible=%v): re-run: %v", n, visible, err)
		}
		st, err = localstore.Open(state, localstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !checkOldOrNew(t, st.Blobs, want) {
			t.Errorf("step %d: the re-run left the month invisible", n)
		}
		checkClean(t, st.Blobs, 2)
		st.Close()
	}
}
