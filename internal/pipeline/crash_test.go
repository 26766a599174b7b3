package pipeline_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/crashpoint"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// Environment of the crash child: a `churnops ingest` of one month into a
// state directory, run as a separate process so that it can be killed.
const (
	crashChildState = "PIPELINE_CRASH_CHILD_STATE"
	crashChildData  = "PIPELINE_CRASH_CHILD_DATA"
	crashChildAsOf  = "PIPELINE_CRASH_CHILD_AS_OF"
)

// TestCrashChild is the child process of TestIngestCrashLeavesOneMonthOnline;
// it skips unless run as one.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashChildState)
	if dir == "" {
		t.Skip("only runs as the child of TestIngestCrashLeavesOneMonthOnline")
	}
	if err := ingestDir(dir, os.Getenv(crashChildData), os.Getenv(crashChildAsOf)); err != nil {
		t.Fatal(err)
	}
}

// ingestDir is `churnops ingest --state dir --data data --as-of asOf`.
func ingestDir(dir, data, asOf string) error {
	st, err := localstore.Open(dir, localstore.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features, LocalDirs: true}
	_, err = p.Ingest(contextBackground(), pipeline.Incoming{Dir: data, AsOf: asOf}, pipeline.IngestOptions{})
	return err
}

// TestIngestCrashLeavesOneMonthOnline (#13 defect 7): a month of 30,000
// customers is ingested over two older ones, and the process is killed
// right after each of its durable steps in turn (the dataset stored, the
// features file renamed into place, CURRENT switched, the oldest version
// pruned). After every kill the online store serves exactly one month —
// all of the previous one or all of the new one, never a mix — and
// re-running the ingest finishes the job.
func TestIngestCrashLeavesOneMonthOnline(t *testing.T) {
	if testing.Short() {
		t.Skip("ingests a 30,000-customer month a dozen times")
	}
	work := t.TempDir()
	data := filepath.Join(work, "data")
	if _, err := synth.GenerateToDir(data, synth.Config{Users: 30_000, Months: 3, Seed: 13}, synth.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	// months[0] is the one online before, months[1] the one ingested.
	var asOfs []string
	var months []*snapshot.Month
	for i := 1; i <= 2; i++ {
		m, err := snapshot.Load(filepath.Join(data, synth.MonthDir(i)), synth.AsOf(i))
		if err != nil {
			t.Fatal(err)
		}
		months = append(months, m)
		asOfs = append(asOfs, synth.AsOf(i).Format(snapshot.DateLayout))
	}
	base := filepath.Join(work, "base")
	for i := range 2 {
		if err := ingestDir(base, filepath.Join(data, synth.MonthDir(i)), synth.AsOf(i).Format(snapshot.DateLayout)); err != nil {
			t.Fatal(err)
		}
	}
	ingested := filepath.Join(data, synth.MonthDir(2))

	child := func(dir string, env ...string) error {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), append([]string{
			crashChildState + "=" + dir, crashChildData + "=" + ingested, crashChildAsOf + "=" + asOfs[1],
		}, env...)...)
		out, err := cmd.CombinedOutput()
		if err != nil && !killed(err) {
			return errors.New(string(out))
		}
		return err
	}
	trace := filepath.Join(work, "trace")
	traced := filepath.Join(work, "traced")
	copyDir(t, base, traced)
	if err := child(traced, crashpoint.EnvTrace+"="+trace); err != nil {
		t.Fatalf("traced ingest: %v", err)
	}
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	steps := strings.Split(strings.TrimSpace(string(raw)), "\n")
	t.Logf("the ingest has %d durable steps: %q", len(steps), steps)

	for n, step := range steps {
		t.Run(step, func(t *testing.T) {
			dir := filepath.Join(work, "crash", strings.Fields(step)[0])
			copyDir(t, base, dir)
			if err := child(dir, crashpoint.EnvAt+"="+strings.Fields(step)[0]); !killed(err) {
				t.Fatalf("child not killed at step %d: %v", n+1, err)
			}
			served := servedMonth(t, dir, months)
			t.Logf("killed after %q: the online store serves %s", step, asOfs[served])
			assertStateServes(t, dir, months[served], months[1-served])

			if err := ingestDir(dir, ingested, asOfs[1]); err != nil {
				t.Fatalf("re-running the ingest: %v", err)
			}
			assertStateServes(t, dir, months[1], months[0])
		})
	}
}

func killed(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && strings.Contains(exit.Error(), "killed")
}

// servedMonth returns which of months the state's online store serves,
// judging by a customer of both.
func servedMonth(t *testing.T, dir string, months []*snapshot.Month) int {
	t.Helper()
	st, err := localstore.Open(dir, localstore.Options{HoldLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	in1 := map[string]bool{}
	for _, c := range months[1].Customers {
		in1[c.UserID] = true
	}
	for _, c := range months[0].Customers {
		if !in1[c.UserID] {
			continue
		}
		rec, err := st.Features.Get(t.Context(), c.UserID)
		if err != nil {
			t.Fatalf("customer %s of both months: %v", c.UserID, err)
		}
		for i, m := range months {
			if rec.AsOf == m.AsOf.Format(snapshot.DateLayout) {
				return i
			}
		}
		t.Fatalf("customer %s served from as_of %q", c.UserID, rec.AsOf)
	}
	t.Fatal("the months share no customer")
	return 0
}

func assertStateServes(t *testing.T, dir string, m, other *snapshot.Month) {
	t.Helper()
	st, err := localstore.Open(dir, localstore.Options{HoldLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	assertServes(t, st.Features, m, other)
}

// copyDir copies the tree under src to dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}
