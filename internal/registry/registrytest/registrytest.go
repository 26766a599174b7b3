// Package registrytest is the contract suite for registry.Registry and
// registry.Approvals: every implementation (embedded, DynamoDB) runs it from
// its own tests, so they all behave alike, including under concurrency.
//
//	func TestRegistry(t *testing.T) {
//		registrytest.Run(t, func(t *testing.T) registry.Registry { return newTestRegistry(t) })
//	}
//
// Each subtest uses model names and tokens unique to the run, so a store
// shared by several subtests (or a table left over from an earlier run)
// does not disturb the checks.
package registrytest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

// Racers is the number of goroutines the concurrency tests run against one
// store; enough to make lost updates show up, small enough for an emulator.
const Racers = 16

// Run runs the registry.Registry contract against stores made by
// newRegistry; it calls newRegistry once per subtest, with that subtest's t,
// so the store can register its own cleanup.
func Run(t *testing.T, newRegistry func(t *testing.T) registry.Registry) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, r registry.Registry)
	}{
		{"Register numbers versions per model", testNumbering},
		{"Register rejects an empty model name", testRegisterInvalid},
		{"Register defaults the artifact key to models/<name>/v<N>/model.json", testDefaultArtifactKey},
		{"Get and List", testGetList},
		{"Production", testProduction},
		{"Promote archives the previous Production", testPromoteArchives},
		{"Promote conflicts change nothing", testPromoteConflicts},
		{"Promote and Decide on unknown versions", testNotFound},
		{"Decide", testDecide},
		{"Promote rolls back to an Archived version", testRollback},
		{"concurrent promotions of the same observed Production", testConcurrentPromote},
		{"concurrent registrations", testConcurrentRegister},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newRegistry(t)) })
	}
}

var nonce atomic.Int64

// unique returns a name no other subtest or earlier run uses.
func unique(t *testing.T, base string) string {
	t.Helper()
	return fmt.Sprintf("%s-%s-%d", base, strings.NewReplacer("/", ".", " ", "_").Replace(t.Name()),
		time.Now().UnixNano()+nonce.Add(1))
}

// candidate is a version as the Train step would register it: every other
// one with a feature importance (full-precision numbers, a zero), the
// others without, as versions trained before it was recorded.
func candidate(model string, i int) registry.Version {
	v := registry.Version{
		Model:           model,
		ArtifactKey:     fmt.Sprintf("models/%s/candidate-%d/model.json", model, i),
		Metrics:         map[string]float64{"auc": 0.7 + float64(i)/100, "f1": 0.5},
		AsOf:            "2024-01-31",
		DataFingerprint: fmt.Sprintf("sha256:%04d", i),
		ArtifactSHA256:  fmt.Sprintf("%064x", i+1),
		RunID:           fmt.Sprintf("run-%d#retrain", i),
	}
	if i%2 == 1 {
		v.Importance = map[string]float64{"months_active": 0.4123456789012345 + float64(i), "monthly_fee": 1.0 / 3, "skips_7d": 0}
	}
	return v
}

// decision returns a Decision with every field set and a fixed time, so a
// store that drops or rounds a field fails the comparison.
func decision(outcome string, auc float64) registry.Decision {
	return registry.Decision{
		Outcome:           outcome,
		CandidateAUC:      auc,
		ProductionAUC:     0.61,
		ProductionVersion: 7,
		Delta:             0.01,
		Bar:               0.62,
		Reason:            "contract test " + outcome,
		ApprovalToken:     "token-" + outcome,
		DecidedBy:         "arn:aws:iam::123456789012:user/reviewer-" + outcome,
		Execution:         "arn:aws:states:local:000000000000:execution:churnops-retrain:" + outcome,
		DecidedAt:         time.Date(2024, 2, 1, 10, 30, 0, 123456000, time.UTC),
	}
}

func register(t *testing.T, r registry.Registry, model string, n int) []registry.Version {
	t.Helper()
	var out []registry.Version
	for i := range n {
		v, err := r.Register(t.Context(), candidate(model, i))
		if err != nil {
			t.Fatalf("Register %s #%d: %v", model, i, err)
		}
		out = append(out, v)
	}
	return out
}

func promote(t *testing.T, r registry.Registry, model string, version, expected int, d registry.Decision) {
	t.Helper()
	if err := r.Promote(t.Context(), model, version, expected, d); err != nil {
		t.Fatalf("Promote %s v%d (expected Production v%d): %v", model, version, expected, err)
	}
}

func list(t *testing.T, r registry.Registry, model string) []registry.Version {
	t.Helper()
	vs, err := r.List(t.Context(), model)
	if err != nil {
		t.Fatalf("List %s: %v", model, err)
	}
	return vs
}

func get(t *testing.T, r registry.Registry, model string, version int) registry.Version {
	t.Helper()
	v, err := r.Get(t.Context(), model, version)
	if err != nil {
		t.Fatalf("Get %s v%d: %v", model, version, err)
	}
	return v
}

func equalDecision(a, b *registry.Decision) bool {
	if a == nil || b == nil {
		return a == b
	}
	x, y := *a, *b
	if !x.DecidedAt.Equal(y.DecidedAt) {
		return false
	}
	x.DecidedAt, y.DecidedAt = time.Time{}, time.Time{}
	return x == y
}

func equalVersion(a, b registry.Version) bool {
	return a.Model == b.Model && a.Version == b.Version && a.Stage == b.Stage &&
		a.ArtifactKey == b.ArtifactKey && a.AsOf == b.AsOf && a.DataFingerprint == b.DataFingerprint &&
		a.ArtifactSHA256 == b.ArtifactSHA256 && a.RunID == b.RunID &&
		len(a.Metrics) == len(b.Metrics) && mapsEqual(a.Metrics, b.Metrics) &&
		len(a.Importance) == len(b.Importance) && mapsEqual(a.Importance, b.Importance) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt) &&
		equalDecision(a.Decision, b.Decision)
}

func mapsEqual(a, b map[string]float64) bool {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func fmtVersion(v registry.Version) string {
	d := "<nil>"
	if v.Decision != nil {
		d = fmt.Sprintf("%+v", *v.Decision)
	}
	return fmt.Sprintf("{v%d %s artifact=%q sha256=%q metrics=%v importance=%v as_of=%q fp=%q run=%q created=%s updated=%s decision=%s}",
		v.Version, v.Stage, v.ArtifactKey, v.ArtifactSHA256, v.Metrics, v.Importance, v.AsOf, v.DataFingerprint, v.RunID,
		v.CreatedAt.Format(time.RFC3339Nano), v.UpdatedAt.Format(time.RFC3339Nano), d)
}

func assertVersion(t *testing.T, what string, got, want registry.Version) {
	t.Helper()
	if !equalVersion(got, want) {
		t.Errorf("%s:\n got %s\nwant %s", what, fmtVersion(got), fmtVersion(want))
	}
}

// assertUnchanged checks that every version of model is exactly as before.
func assertUnchanged(t *testing.T, r registry.Registry, model string, before []registry.Version) {
	t.Helper()
	after := list(t, r, model)
	if len(after) != len(before) {
		t.Fatalf("List %s: %d versions, want %d", model, len(after), len(before))
	}
	for i := range before {
		assertVersion(t, fmt.Sprintf("v%d after a refused operation", before[i].Version), after[i], before[i])
	}
}

// stages returns the stage of each version, oldest first.
func stages(vs []registry.Version) []registry.Stage {
	out := make([]registry.Stage, len(vs))
	for i, v := range vs {
		out[i] = v.Stage
	}
	return out
}

func testNumbering(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	a, b := unique(t, "a"), unique(t, "b")
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		model string
		want  int
	}{{a, 1}, {a, 2}, {b, 1}, {a, 3}, {b, 2}}
	for i, s := range steps {
		in := candidate(s.model, i)
		// Fields Register must ignore.
		in.Version, in.Stage, in.CreatedAt, in.UpdatedAt = 99, registry.StageProduction, past, past
		got, err := r.Register(ctx, in)
		if err != nil {
			t.Fatalf("Register %s: %v", s.model, err)
		}
		if got.Version != s.want || got.Model != s.model || got.Stage != registry.StageNone {
			t.Errorf("Register #%d: got %s v%d stage %s, want %s v%d stage None", i, got.Model, got.Version, got.Stage, s.model, s.want)
		}
		if !got.CreatedAt.After(past) || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("Register #%d: CreatedAt %s UpdatedAt %s, want now and equal", i, got.CreatedAt, got.UpdatedAt)
		}
		want := in
		want.Version, want.Stage, want.CreatedAt, want.UpdatedAt = s.want, registry.StageNone, got.CreatedAt, got.UpdatedAt
		assertVersion(t, "Register result", got, want)
		assertVersion(t, "Get after Register", get(t, r, s.model, got.Version), got)
	}
}

func testDefaultArtifactKey(t *testing.T, r registry.Registry) {
	model := unique(t, "keys")
	for want := 1; want <= 2; want++ {
		in := candidate(model, want)
		in.ArtifactKey = ""
		got, err := r.Register(t.Context(), in)
		if err != nil {
			t.Fatalf("Register: %v", err)
		}
		if k := registry.ArtifactKey(model, want); got.ArtifactKey != k || get(t, r, model, want).ArtifactKey != k {
			t.Errorf("v%d ArtifactKey %q, want %q", want, got.ArtifactKey, k)
		}
	}
}

func testRegisterInvalid(t *testing.T, r registry.Registry) {
	_, err := r.Register(t.Context(), candidate("", 0))
	if !errors.Is(err, registry.ErrInvalid) {
		t.Fatalf("Register with empty model: err %v, want ErrInvalid", err)
	}
}

func testGetList(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	model, other := unique(t, "churn"), unique(t, "other")
	want := register(t, r, model, 3)
	register(t, r, other, 2)

	got := list(t, r, model)
	if len(got) != len(want) {
		t.Fatalf("List: %d versions, want %d", len(got), len(want))
	}
	for i := range want {
		assertVersion(t, fmt.Sprintf("List[%d]", i), got[i], want[i])
		assertVersion(t, fmt.Sprintf("Get v%d", want[i].Version), get(t, r, model, want[i].Version), want[i])
	}
	if vs := list(t, r, unique(t, "unknown")); len(vs) != 0 {
		t.Errorf("List of an unknown model: %d versions, want none", len(vs))
	}

	missing := []struct {
		name    string
		model   string
		version int
	}{
		{"unknown model", unique(t, "unknown"), 1},
		{"version 0", model, 0},
		{"negative version", model, -1},
		{"version past the last", model, 4},
	}
	for _, tc := range missing {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Get(ctx, tc.model, tc.version)
			if !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("Get %s v%d: err %v, want ErrNotFound", tc.model, tc.version, err)
			}
		})
	}
}

func testProduction(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	model, other := unique(t, "churn"), unique(t, "other")
	if _, err := r.Production(ctx, model); !errors.Is(err, registry.ErrNoProduction) {
		t.Errorf("Production of an unknown model: err %v, want ErrNoProduction", err)
	}
	vs := register(t, r, model, 2)
	register(t, r, other, 1)
	if _, err := r.Production(ctx, model); !errors.Is(err, registry.ErrNoProduction) {
		t.Errorf("Production before any promotion: err %v, want ErrNoProduction", err)
	}

	d := decision(registry.OutcomePromoted, 0.8)
	promote(t, r, model, 2, 0, d)
	prod, err := r.Production(ctx, model)
	if err != nil {
		t.Fatalf("Production: %v", err)
	}
	want := vs[1]
	want.Stage, want.Decision, want.UpdatedAt = registry.StageProduction, &d, prod.UpdatedAt
	assertVersion(t, "Production", prod, want)
	if prod.UpdatedAt.Before(prod.CreatedAt) {
		t.Errorf("UpdatedAt %s before CreatedAt %s", prod.UpdatedAt, prod.CreatedAt)
	}
	assertVersion(t, "Get of the Production version", get(t, r, model, 2), prod)
	assertVersion(t, "the version not promoted", get(t, r, model, 1), vs[0])
	if _, err := r.Production(ctx, other); !errors.Is(err, registry.ErrNoProduction) {
		t.Errorf("Production of another model: err %v, want ErrNoProduction", err)
	}
}

func testPromoteArchives(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	model, other := unique(t, "churn"), unique(t, "other")
	vs := register(t, r, model, 3)
	register(t, r, other, 1)
	promote(t, r, other, 1, 0, decision(registry.OutcomePromoted, 0.7))

	d1, d2 := decision(registry.OutcomePromoted, 0.7), decision(registry.OutcomePromoted, 0.75)
	promote(t, r, model, 1, 0, d1)
	v1 := get(t, r, model, 1)
	promote(t, r, model, 2, 1, d2)

	got := list(t, r, model)
	if want := []registry.Stage{registry.StageArchived, registry.StageProduction, registry.StageNone}; !slices.Equal(stages(got), want) {
		t.Fatalf("stages after two promotions: %v, want %v", stages(got), want)
	}
	wantV1 := v1
	wantV1.Stage, wantV1.UpdatedAt = registry.StageArchived, got[0].UpdatedAt
	assertVersion(t, "archived v1 (keeps its own decision)", got[0], wantV1)
	if got[0].UpdatedAt.Before(v1.UpdatedAt) {
		t.Errorf("archived v1 UpdatedAt %s before its promotion %s", got[0].UpdatedAt, v1.UpdatedAt)
	}
	if !equalDecision(got[1].Decision, &d2) {
		t.Errorf("v2 decision %+v, want %+v", got[1].Decision, d2)
	}
	assertVersion(t, "v3 untouched", got[2], vs[2])
	prod, err := r.Production(ctx, model)
	if err != nil || prod.Version != 2 {
		t.Errorf("Production: v%d, %v; want v2", prod.Version, err)
	}
	if prod, err := r.Production(ctx, other); err != nil || prod.Version != 1 {
		t.Errorf("Production of another model: v%d, %v; want its v1 untouched", prod.Version, err)
	}
}

// setupStages leaves model with v1 Archived, v2 Production, v3 Rejected and
// v4 None, the situation the conflict and Decide tests start from.
func setupStages(t *testing.T, r registry.Registry, model string) {
	t.Helper()
	register(t, r, model, 4)
	promote(t, r, model, 1, 0, decision(registry.OutcomePromoted, 0.7))
	promote(t, r, model, 2, 1, decision(registry.OutcomePromoted, 0.75))
	if err := r.Decide(t.Context(), model, 3, registry.StageRejected, decision(registry.OutcomeRejected, 0.8)); err != nil {
		t.Fatalf("Decide v3 Rejected: %v", err)
	}
	want := []registry.Stage{registry.StageArchived, registry.StageProduction, registry.StageRejected, registry.StageNone}
	if got := stages(list(t, r, model)); !slices.Equal(got, want) {
		t.Fatalf("setup stages %v, want %v", got, want)
	}
}

func testPromoteConflicts(t *testing.T, r registry.Registry) {
	cases := []struct {
		name              string
		noProduction      bool // only v1 in stage None, nothing promoted
		version, expected int
	}{
		{"stale expected: the previous Production", false, 4, 1},
		{"expected none but there is a Production", false, 4, 0},
		{"expected a version never in Production", false, 4, 3},
		{"expected an unknown version", false, 4, 99},
		{"version already Production", false, 2, 2},
		{"version Rejected", false, 3, 2},
		{"expected a Production when there is none", true, 1, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			model := unique(t, "churn")
			if tc.noProduction {
				register(t, r, model, 1)
			} else {
				setupStages(t, r, model)
			}
			before := list(t, r, model)
			err := r.Promote(t.Context(), model, tc.version, tc.expected, decision(registry.OutcomePromoted, 0.99))
			if !errors.Is(err, registry.ErrConflict) {
				t.Errorf("Promote v%d expecting v%d: err %v, want ErrConflict", tc.version, tc.expected, err)
			}
			assertUnchanged(t, r, model, before)
		})
	}
}

func testNotFound(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	model := unique(t, "churn")
	register(t, r, model, 1)
	cases := []struct {
		name    string
		model   string
		version int
	}{
		{"unknown version", model, 2},
		{"unknown model", unique(t, "unknown"), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := list(t, r, model)
			if err := r.Promote(ctx, tc.model, tc.version, 0, decision(registry.OutcomePromoted, 0.9)); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("Promote %s v%d: err %v, want ErrNotFound", tc.model, tc.version, err)
			}
			if err := r.Decide(ctx, tc.model, tc.version, registry.StageNone, decision(registry.OutcomeSkipped, 0.5)); !errors.Is(err, registry.ErrNotFound) {
				t.Errorf("Decide %s v%d: err %v, want ErrNotFound", tc.model, tc.version, err)
			}
			assertUnchanged(t, r, model, before)
			if _, err := r.Production(ctx, tc.model); !errors.Is(err, registry.ErrNoProduction) {
				t.Errorf("Production after refused operations: err %v, want ErrNoProduction", err)
			}
		})
	}
}

func testDecide(t *testing.T, r registry.Registry) {
	cases := []struct {
		name    string
		version int
		stage   registry.Stage
		outcome string
		wantErr error // nil: the decision is recorded
	}{
		{"skip keeps stage None", 4, registry.StageNone, registry.OutcomeSkipped, nil},
		{"refusal moves to Rejected", 4, registry.StageRejected, registry.OutcomeRejected, nil},
		{"to Production is invalid", 4, registry.StageProduction, registry.OutcomePromoted, registry.ErrInvalid},
		{"to Archived is invalid", 4, registry.StageArchived, registry.OutcomeSkipped, registry.ErrInvalid},
		{"to an unknown stage is invalid", 4, registry.Stage("Staging"), registry.OutcomeSkipped, registry.ErrInvalid},
		{"on the Production version", 2, registry.StageNone, registry.OutcomeSkipped, registry.ErrConflict},
		{"on an Archived version", 1, registry.StageRejected, registry.OutcomeRejected, registry.ErrConflict},
		{"on a Rejected version", 3, registry.StageNone, registry.OutcomeSkipped, registry.ErrConflict},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			model := unique(t, "churn")
			setupStages(t, r, model)
			before := list(t, r, model)
			d := decision(tc.outcome, 0.66)
			err := r.Decide(t.Context(), model, tc.version, tc.stage, d)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Errorf("Decide v%d to %s: err %v, want %v", tc.version, tc.stage, err, tc.wantErr)
				}
				assertUnchanged(t, r, model, before)
				return
			}
			if err != nil {
				t.Fatalf("Decide v%d to %s: %v", tc.version, tc.stage, err)
			}
			after := list(t, r, model)
			for i, v := range before {
				if v.Version != tc.version {
					assertVersion(t, fmt.Sprintf("v%d (not decided)", v.Version), after[i], v)
					continue
				}
				want := v
				want.Stage, want.Decision, want.UpdatedAt = tc.stage, &d, after[i].UpdatedAt
				assertVersion(t, "decided version", after[i], want)
				if after[i].UpdatedAt.Before(v.UpdatedAt) {
					t.Errorf("UpdatedAt went back: %s before %s", after[i].UpdatedAt, v.UpdatedAt)
				}
			}
		})
	}
}

func testRollback(t *testing.T, r registry.Registry) {
	model := unique(t, "churn")
	register(t, r, model, 2)
	d1, d2 := decision(registry.OutcomePromoted, 0.7), decision(registry.OutcomePromoted, 0.75)
	promote(t, r, model, 1, 0, d1)
	promote(t, r, model, 2, 1, d2)
	back := decision(registry.OutcomeRolledBack, 0.7)
	promote(t, r, model, 1, 2, back)

	got := list(t, r, model)
	if want := []registry.Stage{registry.StageProduction, registry.StageArchived}; !slices.Equal(stages(got), want) {
		t.Fatalf("stages after rollback %v, want %v", stages(got), want)
	}
	if !equalDecision(got[0].Decision, &back) {
		t.Errorf("rolled-back v1 decision %+v, want %+v", got[0].Decision, back)
	}
	if !equalDecision(got[1].Decision, &d2) {
		t.Errorf("archived v2 decision %+v, want its promotion %+v", got[1].Decision, d2)
	}
	prod, err := r.Production(t.Context(), model)
	if err != nil || prod.Version != 1 {
		t.Errorf("Production after rollback: v%d, %v; want v1", prod.Version, err)
	}
}

func testConcurrentPromote(t *testing.T, r registry.Registry) {
	cases := []struct {
		name      string
		bootstrap bool // no Production yet: every racer expects none
	}{
		{"first run, no Production yet", true},
		{"replacing Production v1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := t.Context()
			model := unique(t, "churn")
			initial, expected := 0, 0
			if !tc.bootstrap {
				register(t, r, model, 1)
				promote(t, r, model, 1, 0, decision(registry.OutcomePromoted, 0.6))
				initial, expected = 1, 1
			}

			var (
				registered, done sync.WaitGroup
				start            = make(chan struct{})
				versions         = make([]int, Racers)
				regErrs          = make([]error, Racers)
				promoteErrs      = make([]error, Racers)
			)
			registered.Add(Racers)
			for i := range Racers {
				done.Go(func() {
					v, err := r.Register(ctx, candidate(model, i))
					versions[i], regErrs[i] = v.Version, err
					registered.Done()
					<-start
					if err == nil {
						promoteErrs[i] = r.Promote(ctx, model, v.Version, expected, decision(registry.OutcomePromoted, 0.7))
					}
				})
			}
			registered.Wait()
			close(start)
			done.Wait()

			winner := 0
			for i := range Racers {
				switch {
				case regErrs[i] != nil:
					t.Errorf("racer %d: Register: %v", i, regErrs[i])
				case promoteErrs[i] == nil:
					if winner != 0 {
						t.Errorf("two promotions succeeded: v%d and v%d", winner, versions[i])
					}
					winner = versions[i]
				case !errors.Is(promoteErrs[i], registry.ErrConflict):
					t.Errorf("racer %d: Promote v%d: err %v, want nil or ErrConflict", i, versions[i], promoteErrs[i])
				}
			}
			if winner == 0 {
				t.Fatal("no promotion succeeded")
			}
			sorted := slices.Sorted(slices.Values(versions))
			for i, v := range sorted {
				if v != initial+1+i {
					t.Fatalf("racers got versions %v, want %d..%d without gaps or duplicates", sorted, initial+1, initial+Racers)
				}
			}

			all := list(t, r, model)
			if len(all) != Racers+initial {
				t.Fatalf("List: %d versions, want %d", len(all), Racers+initial)
			}
			for i, v := range all {
				want := registry.StageNone
				switch {
				case v.Version == winner:
					want = registry.StageProduction
				case v.Version <= initial:
					want = registry.StageArchived
				}
				if v.Version != i+1 || v.Stage != want {
					t.Errorf("List[%d]: v%d %s, want v%d %s", i, v.Version, v.Stage, i+1, want)
				}
				if want == registry.StageNone && v.Decision != nil {
					t.Errorf("losing v%d has a decision %+v", v.Version, *v.Decision)
				}
			}
			if prod, err := r.Production(ctx, model); err != nil || prod.Version != winner {
				t.Errorf("Production: v%d, %v; want the winner v%d", prod.Version, err, winner)
			}
		})
	}
}

func testConcurrentRegister(t *testing.T, r registry.Registry) {
	ctx := t.Context()
	models := []string{unique(t, "a"), unique(t, "b")}
	var wg sync.WaitGroup
	errs := make([]error, Racers*len(models))
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = r.Register(ctx, candidate(models[i%len(models)], i))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("Register: %v", err)
	}
	for _, m := range models {
		vs := list(t, r, m)
		if len(vs) != Racers {
			t.Errorf("%s: %d versions, want %d", m, len(vs), Racers)
		}
		for i, v := range vs {
			if v.Version != i+1 {
				t.Errorf("%s List[%d] is v%d, want v%d (no gaps, no duplicates)", m, i, v.Version, i+1)
			}
		}
	}
}
