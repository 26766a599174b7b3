package crash_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
)

const model = "churn"

// view is what a state directory holds, read after the process is gone.
type view struct {
	dir       string
	versions  []registry.Version
	raw       []map[string]any // the versions as stored (fields this harness predates too)
	approvals []registry.Approval
	keys      []string       // blob keys
	datasets  []string       // as_of of each stored dataset, oldest first
	artifacts map[int]string // version -> "" if its artifact is present and intact, else what is wrong
	online    map[string]int // online feature records per as_of
	// newestUsersOnline counts the newest month's customers by the as_of
	// of the online record they are served ("" when they have none).
	newestUsersOnline map[string]int
	prodErr           error // Registry.Production's error other than ErrNoProduction
	prod              *registry.Version
	// months are the visible months verified against their manifests.
	months map[string]storedMonth
}

// inspect reads a state directory.
func inspect(t *testing.T, dir string) *view {
	t.Helper()
	ctx := t.Context()
	st, err := localstore.Open(dir, localstore.Options{})
	if err != nil {
		t.Fatalf("open state %s: %v", dir, err)
	}
	defer st.Close()
	v := &view{dir: dir, artifacts: map[int]string{}}
	if v.versions, err = st.Registry.List(ctx, model); err != nil {
		t.Fatalf("registry list: %v", err)
	}
	for _, ver := range v.versions {
		b, _ := json.Marshal(ver)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		v.raw = append(v.raw, m)
	}
	if v.approvals, err = st.Approvals.List(ctx); err != nil {
		t.Fatalf("approvals list: %v", err)
	}
	if v.keys, err = st.Blobs.List(ctx, ""); err != nil {
		t.Fatalf("blobs list: %v", err)
	}
	// The months ingest made visible: a manifest, or a legacy snapshot.
	if v.datasets, err = dataset.List(ctx, st.Blobs); err != nil {
		t.Fatalf("datasets: %v", err)
	}
	slices.Sort(v.datasets)
	v.months = inspectMonths(t, st, v.datasets)
	for i, ver := range v.versions {
		v.artifacts[ver.Version] = artifactProblem(t, st.Blobs, ver, v.raw[i])
	}
	switch p, err := st.Registry.Production(ctx, model); {
	case err == nil:
		v.prod = &p
	case !errors.Is(err, registry.ErrNoProduction):
		v.prodErr = err
	}
	v.online = onlineAsOfs(t, st)
	if n := len(v.datasets); n > 0 {
		v.newestUsersOnline = newestUsersOnline(t, st, v.datasets[n-1])
	}
	return v
}

// artifactProblem says what is wrong with a version's artifact: missing,
// not a valid model (the artifact's own checksum), or other bytes than the
// SHA-256 the registry recorded; "" if nothing.
func artifactProblem(t *testing.T, blobs *localstore.Blobs, ver registry.Version, raw map[string]any) string {
	data, err := blobs.Get(t.Context(), ver.ArtifactKey)
	if errors.Is(err, blob.ErrNotFound) {
		return "artifact " + ver.ArtifactKey + " is missing"
	}
	if err != nil {
		return "artifact " + ver.ArtifactKey + ": " + err.Error()
	}
	if _, err := gbdt.Unmarshal(data); err != nil {
		return "artifact " + ver.ArtifactKey + " does not load: " + err.Error()
	}
	if want, _ := raw["artifact_sha256"].(string); want != "" {
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != want {
			return fmt.Sprintf("artifact %s has SHA-256 %s, the registry recorded %s", ver.ArtifactKey, got, want)
		}
	}
	return ""
}

// promotable reports whether a stage can still become Production.
func promotable(s registry.Stage) bool {
	return s == registry.StageNone || s == registry.StageArchived || s == registry.StageProduction
}

// invariant is one property of a state directory; check returns the
// violations.
type invariant struct {
	name  string
	check func(v *view) []string
}

// Invariants that hold at every instant, so right after any kill.
var always = []invariant{
	{"at most one Production, and the pointer agrees", func(v *view) []string {
		var out []string
		n := 0
		for _, ver := range v.versions {
			if ver.Stage == registry.StageProduction {
				n++
				if v.prod == nil || v.prod.Version != ver.Version {
					out = append(out, fmt.Sprintf("v%d is Production but the registry's Production is %v", ver.Version, v.prod))
				}
			}
		}
		if n > 1 {
			out = append(out, fmt.Sprintf("%d Production versions", n))
		}
		if v.prodErr != nil {
			out = append(out, "Production: "+v.prodErr.Error())
		}
		return out
	}},
	{"the Production artifact is present and intact", func(v *view) []string {
		if v.prod == nil {
			return nil
		}
		if p := v.artifacts[v.prod.Version]; p != "" {
			return []string{fmt.Sprintf("Production v%d: %s", v.prod.Version, p)}
		}
		return nil
	}},
	{"no version lost: numbers 1..N, no artifact without its version", func(v *view) []string {
		var out []string
		for i, ver := range v.versions {
			if ver.Version != i+1 {
				out = append(out, fmt.Sprintf("List[%d] is v%d", i, ver.Version))
			}
		}
		re := regexp.MustCompile(`^models/` + model + `/v(\d+)/`)
		for _, k := range v.keys {
			if m := re.FindStringSubmatch(k); m != nil {
				if n, _ := strconv.Atoi(m[1]); n > len(v.versions) {
					out = append(out, "blob "+k+" belongs to no registered version")
				}
			}
		}
		return out
	}},
	{"every visible month is whole (its manifest's files, sizes and rows)", func(v *view) []string {
		var out []string
		for asOf, m := range v.months {
			for _, p := range m.problems {
				out = append(out, asOf+": "+p)
			}
		}
		return out
	}},
	{"every registered version's dataset is stored", func(v *view) []string {
		var out []string
		for _, ver := range v.versions {
			if ver.AsOf != "" && !slices.Contains(v.datasets, ver.AsOf) {
				out = append(out, fmt.Sprintf("v%d was trained on %s, which has no stored dataset", ver.Version, ver.AsOf))
			}
		}
		return out
	}},
}

// Invariants that hold once the interrupted command has been run again to
// its end.
var settled = []invariant{
	{"no orphan: every promotable version has its artifact, matching its checksum", func(v *view) []string {
		var out []string
		for _, ver := range v.versions {
			if p := v.artifacts[ver.Version]; p != "" && promotable(ver.Stage) {
				out = append(out, fmt.Sprintf("v%d (%s): %s", ver.Version, ver.Stage, p))
			}
		}
		return out
	}},
	{"approvals never lost: pending decisions and stored approvals match", func(v *view) []string {
		var out []string
		stored := map[string]registry.Approval{}
		for _, ap := range v.approvals {
			stored[ap.Token] = ap
		}
		pending := map[string]int{}
		for _, ver := range v.versions {
			d := ver.Decision
			if d == nil || d.ApprovalToken == "" {
				continue
			}
			pending[d.ApprovalToken] = ver.Version
			if !v.answerable(ver) {
				out = append(out, fmt.Sprintf("v%d waits on approval %.12s…, which no command can answer (not stored)", ver.Version, d.ApprovalToken))
			}
		}
		for tok, ap := range stored {
			if _, ok := pending[tok]; !ok {
				out = append(out, fmt.Sprintf("approval %.12s… (v%d) is stored, but no version waits on it", tok, ap.Info.Version))
			}
		}
		return out
	}},
	{"the online store serves the newest ingested month", func(v *view) []string {
		if len(v.datasets) == 0 {
			return nil
		}
		newest := v.datasets[len(v.datasets)-1]
		var out []string
		for asOf, n := range v.newestUsersOnline {
			if asOf != newest {
				out = append(out, fmt.Sprintf("%d customers of the newest month %s are served features from %s", n, newest, asOf))
			}
		}
		return out
	}},
}

// checkAll reports every violated invariant of invs on v.
func checkAll(t *testing.T, when string, v *view, invs ...[]invariant) {
	t.Helper()
	for _, list := range invs {
		for _, inv := range list {
			for _, p := range inv.check(v) {
				t.Errorf("%s: %s: %s", when, inv.name, p)
			}
		}
	}
}

// answerable reports whether the approval a version waits on can be
// answered: its token is stored, or — the execution was interrupted between
// recording a new token and storing its pause — a pause of its execution
// is, which answering the token resumes.
func (v *view) answerable(ver registry.Version) bool {
	d := ver.Decision
	for _, ap := range v.approvals {
		if ap.Token == d.ApprovalToken || d.Execution != "" && ap.Info.Execution == d.Execution {
			return true
		}
	}
	return false
}

// version returns the version numbered n.
func (v *view) version(n int) *registry.Version {
	for i := range v.versions {
		if v.versions[i].Version == n {
			return &v.versions[i]
		}
	}
	return nil
}

// decided reports whether a version's pending approval was answered and
// recorded: promoted (then perhaps archived), rejected, or any decision
// other than the pending one.
func decided(ver *registry.Version) bool {
	if ver == nil {
		return false
	}
	return ver.Stage != registry.StageNone || ver.Decision != nil && ver.Decision.Outcome != "pending_approval"
}
