package crash_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/registry"
)

// scenario is one command under test, on a state prepared for it.
type scenario struct {
	name string
	// base names the prepared state (see bases) the command starts from.
	base string
	// args is the command, given the prepared state (some name a token).
	args func(t *testing.T, base string) []string
	// rerun: run the command again after the kill, to its end. Commands
	// that are one request (promote V, rollback) are not: their second
	// run is another request.
	rerun bool
	// rerunOK accepts the re-run (of args) on the killed state; nil
	// requires exit 0.
	rerunOK func(r result, killed *view, args []string) error
	// afterKill are checks of this command right after a kill, besides
	// the invariants that always hold.
	afterKill []invariant
}

func runArgs(extra ...string) func(*testing.T, string) []string {
	return func(*testing.T, string) []string {
		return append([]string{"run", "--reference-as-of", asOfs[0], "--current-as-of", asOfs[1], "--threshold", "0"}, extra...)
	}
}

func fixed(args ...string) func(*testing.T, string) []string {
	return func(*testing.T, string) []string { return args }
}

// answer is `registry approve|reject TOKEN` for the one paused execution of
// the base state.
func answer(verb string) func(*testing.T, string) []string {
	return func(t *testing.T, base string) []string {
		v := inspect(t, base)
		if len(v.approvals) != 1 {
			t.Fatalf("base state holds %d approvals, want 1", len(v.approvals))
		}
		return []string{"registry", verb, v.approvals[0].Token}
	}
}

// answered accepts a re-run of approve/reject that finds the token gone,
// as long as the decision it stood for is recorded (the kill came after
// the resumed run had decided and consumed it).
func answered(r result, killed *view, args []string) error {
	if r.code == 0 {
		return nil
	}
	token := args[len(args)-1]
	for _, ap := range killed.approvals {
		if ap.Token == token {
			return fmt.Errorf("re-run failed on a token that was still stored: %s", r)
		}
	}
	if strings.Contains(r.stderr, "no paused execution") {
		return nil
	}
	return fmt.Errorf("re-run failed: %s", r)
}

// approvalKept: until the resumed run has durably decided, the approval
// can be answered again.
var approvalKept = invariant{"the approval is kept until its run has decided", func(v *view) []string {
	var out []string
	for _, ver := range v.versions {
		if d := ver.Decision; d != nil && d.ApprovalToken != "" && !v.answerable(ver) && !decided(&ver) {
			out = append(out, fmt.Sprintf("v%d still waits on approval %.12s…, but the approval is gone", ver.Version, d.ApprovalToken))
		}
	}
	return out
}}

var scenarios = []scenario{
	{name: "ingest", base: "one month", args: fixed("ingest", "--data", "MONTH1", "--as-of", asOfs[1]), rerun: true},
	{name: "run", base: "two months", args: runArgs(), rerun: true},
	{name: "run --require-approval", base: "two months", args: runArgs("--require-approval"), rerun: true},
	{name: "approve", base: "paused", args: answer("approve"), rerun: true, rerunOK: answered, afterKill: []invariant{approvalKept}},
	{name: "reject", base: "paused", args: answer("reject"), rerun: true, rerunOK: answered, afterKill: []invariant{approvalKept}},
	{name: "promote", base: "rolled forward", args: fixed("registry", "promote", "1")},
	{name: "rollback", base: "rolled forward", args: fixed("registry", "rollback")},
}

// bases builds each prepared state once; scenarios copy it.
var bases = map[string]func(t *testing.T, dir string){
	"one month":  func(t *testing.T, dir string) { ingest(t, dir, 1) },
	"two months": func(t *testing.T, dir string) { ingest(t, dir, 2) },
	"paused": func(t *testing.T, dir string) {
		ingest(t, dir, 2)
		mustCLI(t, dir, runArgs("--require-approval")(t, dir)...)
	},
	// v2 Production over an Archived v1: rollback brings v1 back.
	"rolled forward": func(t *testing.T, dir string) {
		ingest(t, dir, 2)
		mustCLI(t, dir, runArgs()(t, dir)...)
		promoteTo(t, dir, 2)
	},
}

func ingest(t *testing.T, dir string, n int) {
	t.Helper()
	for i := range n {
		mustCLI(t, dir, "ingest", "--data", months[i], "--as-of", asOfs[i])
	}
}

// promoteTo makes version n Production unless it is already.
func promoteTo(t *testing.T, dir string, n int) {
	t.Helper()
	if v := inspect(t, dir); v.prod != nil && v.prod.Version == n {
		return
	}
	mustCLI(t, dir, "registry", "promote", fmt.Sprint(n))
}

var (
	baseMu   sync.Mutex
	baseDirs = map[string]string{}
)

// removeBases removes the prepared states (TestMain, after the tests).
func removeBases() {
	for _, dir := range baseDirs {
		os.RemoveAll(filepath.Dir(dir))
	}
}

// settledOnline are the pluggable online-store invariants that hold after
// a re-run.
func settledOnline() []invariant {
	if onlineCheck("online-expiry") {
		return []invariant{onlyNewest}
	}
	return nil
}

// baseState returns the prepared state name, building it on first use.
func baseState(t *testing.T, name string) string {
	t.Helper()
	baseMu.Lock()
	defer baseMu.Unlock()
	if dir, ok := baseDirs[name]; ok {
		return dir
	}
	dir, err := os.MkdirTemp("", "churnops-crash-base-")
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(dir, "state")
	bases[name](t, dir)
	baseDirs[name] = dir
	return dir
}

// TestCrashPoints runs each scenario's command once to count its durable
// steps, then once per step, killed right after it; it checks the
// invariants on the killed state, re-runs the command, and checks them
// again with those that hold once the command has finished.
func TestCrashPoints(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			crashEveryStep(t, sc, nil)
		})
	}
}

// crashEveryStep is the harness loop for one scenario; extra are more
// invariants to check right after each kill.
func crashEveryStep(t *testing.T, sc scenario, extra []invariant) {
	base := baseState(t, sc.base)
	args := sc.args(t, base)
	for i, a := range args {
		if a == "MONTH1" {
			args[i] = months[1]
		}
	}
	steps, r := trace(t, copyState(t, base), args)
	if r.code != 0 || len(steps) == 0 {
		t.Fatalf("churnops %s without a crash: %d durable steps, %s", strings.Join(args, " "), len(steps), r)
	}
	t.Logf("churnops %s: %d durable steps", strings.Join(args, " "), len(steps))
	for k := 1; k <= len(steps); k++ {
		t.Run(fmt.Sprintf("kill after %d %s", k, steps[k-1]), func(t *testing.T) {
			t.Parallel()
			dir := copyState(t, base)
			if r := crashAt(t, dir, k, args); !r.killed {
				t.Fatalf("not killed after step %d: %s", k, r)
			}
			killed := inspect(t, dir)
			checkAll(t, "after the kill", killed, always, sc.afterKill, extra)
			probeOrphans(t, dir, killed)
			if !sc.rerun {
				return
			}
			r := cli(t, dir, nil, args...)
			ok := sc.rerunOK
			if ok == nil {
				ok = func(r result, _ *view, _ []string) error {
					if r.code != 0 {
						return fmt.Errorf("re-run failed: %s", r)
					}
					return nil
				}
			}
			if err := ok(r, killed, args); err != nil {
				t.Error(err)
			}
			checkAll(t, "after the re-run", inspect(t, dir), always, settled, settledOnline())
			// churnops check agrees: nothing left to report.
			if r := cli(t, dir, nil, "check"); r.code != 0 {
				t.Errorf("churnops check after the re-run: %s", r)
			}
		})
	}
}

// probeOrphans tries to promote every version whose artifact is missing or
// damaged: each attempt must be refused and leave Production as it was.
func probeOrphans(t *testing.T, dir string, v *view) {
	t.Helper()
	for _, ver := range v.versions {
		if v.artifacts[ver.Version] == "" || ver.Stage == registry.StageProduction {
			continue
		}
		r := cli(t, dir, nil, "registry", "promote", fmt.Sprint(ver.Version))
		if r.code == 0 {
			t.Errorf("registry promote %d accepted a version whose %s", ver.Version, v.artifacts[ver.Version])
		}
		after := inspect(t, dir)
		if fmt.Sprint(prodVersion(after)) != fmt.Sprint(prodVersion(v)) {
			t.Errorf("a refused promotion of v%d moved Production from v%d to v%d", ver.Version, prodVersion(v), prodVersion(after))
		}
	}
}

func prodVersion(v *view) int {
	if v.prod == nil {
		return 0
	}
	return v.prod.Version
}

// TestPromotionVerifiesTheArtifact: a version whose artifact is missing or
// altered is never made Production, by hand or by a rollback.
func TestPromotionVerifiesTheArtifact(t *testing.T) {
	// damage changes v1's artifact file, given v2's.
	damage := []struct {
		name string
		do   func(v1, v2 string) error
	}{
		{"missing", func(v1, _ string) error { return os.Remove(v1) }},
		{"corrupt", func(v1, _ string) error {
			data, err := os.ReadFile(v1)
			if err != nil {
				return err
			}
			data[len(data)/2] ^= 1
			return replace(v1, data)
		}},
		// A valid model, but not the one registered: only the SHA-256 the
		// registry recorded tells.
		{"another model", func(v1, v2 string) error {
			data, err := os.ReadFile(v2)
			if err != nil {
				return err
			}
			return replace(v1, data)
		}},
	}
	commands := [][]string{{"registry", "promote", "1"}, {"registry", "rollback"}}
	for _, d := range damage {
		for _, args := range commands {
			t.Run(d.name+"/"+strings.Join(args, " "), func(t *testing.T) {
				dir := copyState(t, baseState(t, "rolled forward"))
				v := inspect(t, dir)
				path := func(n int) string { return filepath.Join(dir, "blobs", filepath.FromSlash(v.version(n).ArtifactKey)) }
				if err := d.do(path(1), path(2)); err != nil {
					t.Fatal(err)
				}
				r := cli(t, dir, nil, args...)
				if r.code == 0 {
					t.Errorf("churnops %s made v1 Production with its artifact %s:\n%s", strings.Join(args, " "), d.name, r)
				}
				if v := inspect(t, dir); prodVersion(v) != 2 {
					t.Errorf("Production is v%d after a refused promotion, want v2", prodVersion(v))
				}
			})
		}
	}
}

// replace gives path new contents (a new file: blobs are hard links).
func replace(path string, data []byte) error {
	if err := os.Remove(path); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
