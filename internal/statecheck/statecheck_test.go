package statecheck_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/statecheck"
	"github.com/churnops/churnops/internal/synth"
)

const model = "churn"

// world is a state after a run that bootstrapped v1 (Production) and
// paused on v2's approval, with its checker.
type world struct {
	st    *localstore.State
	p     *pipeline.Pipeline
	c     *statecheck.Checker
	asOfs []string
	token string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features, OrphanGrace: -1}
	months, err := synth.Generate(synth.Config{Users: 800, Months: 3, Seed: 5, Drift: map[int]synth.Drift{2: synth.LabelShift}})
	if err != nil {
		t.Fatal(err)
	}
	w := &world{st: st, p: p}
	for _, m := range months {
		out, err := pipelinetest.IngestMonth(t.Context(), p, m, t.TempDir(), pipeline.IngestOptions{})
		if err != nil {
			t.Fatal(err)
		}
		w.asOfs = append(w.asOfs, out.AsOf)
	}
	l := &pipeline.LocalExecutions{Pipeline: p, Approvals: st.Approvals, Owner: "me:1:x", Stale: func(registry.ApprovalClaim) bool { return false }}
	in := pipeline.ExecutionInput{ModelName: model, ReferenceAsOf: w.asOfs[0], CurrentAsOf: w.asOfs[1], Threshold: 0, Delta: 0.01, MinAUC: 0.5, Seed: 1}
	if exec, err := l.Start(t.Context(), "", in); err != nil || exec.Status != string(asl.StatusSucceeded) {
		t.Fatalf("first run: %v", err)
	}
	in.ReferenceAsOf, in.CurrentAsOf, in.RequireApproval, in.Delta = w.asOfs[1], w.asOfs[2], true, 0
	exec, err := l.Start(t.Context(), "", in)
	if err != nil || exec.Pending == nil {
		t.Fatalf("second run did not pause for approval: %v", err)
	}
	w.token = exec.Pending.Token
	w.c = &statecheck.Checker{Pipeline: p, Models: []string{model}, Approvals: st.Approvals,
		Stale: func(c registry.ApprovalClaim) bool { return c.Owner == "dead:1:x" }}
	return w
}

// check runs the checker and returns "check subject: problem" lines.
func (w *world) check(t *testing.T) ([]statecheck.Finding, []string) {
	t.Helper()
	fs, err := w.c.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range fs {
		lines = append(lines, f.Check+" "+f.Subject+": "+f.Problem)
	}
	return fs, lines
}

func (w *world) version(t *testing.T, n int) registry.Version {
	t.Helper()
	v, err := w.st.Registry.Get(t.Context(), model, n)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name       string
		damage     func(t *testing.T, w *world)
		want       string // in the one finding's line
		repairable bool
		after      func(t *testing.T, w *world) // after the repair
	}{
		{"a candidate without its artifact", func(t *testing.T, w *world) {
			v := w.version(t, 3)
			if v.Stage != registry.StageNone {
				t.Fatalf("v3 is %s", v.Stage)
			}
			// v3 waits for approval: it is v4, registered without files.
			if _, err := w.st.Registry.Register(t.Context(), registry.Version{Model: model, AsOf: w.asOfs[2]}); err != nil {
				t.Fatal(err)
			}
		}, "churn v4 (None): model not found", true, func(t *testing.T, w *world) {
			if v := w.version(t, 4); v.Stage != registry.StageRejected || v.Decision.Outcome != registry.OutcomeOrphaned {
				t.Errorf("v4 after the repair: %s %+v", v.Stage, v.Decision)
			}
		}},
		{"Production's artifact swapped", func(t *testing.T, w *world) {
			prod, _ := w.st.Registry.Production(t.Context(), model)
			other := w.version(t, 3)
			data, _ := w.st.Blobs.Get(t.Context(), other.ArtifactKey)
			if err := w.st.Blobs.Delete(t.Context(), prod.ArtifactKey); err != nil {
				t.Fatal(err)
			}
			if err := w.st.Blobs.Put(t.Context(), prod.ArtifactKey, data); err != nil {
				t.Fatal(err)
			}
		}, "(Production): invalid artifact", false, nil},
		{"a dataset gone", func(t *testing.T, w *world) {
			if err := w.st.Blobs.Delete(t.Context(), dataset.ManifestKey(w.asOfs[0])); err != nil {
				t.Fatal(err)
			}
		}, "no month is stored", false, nil},
		{"files of a version the registry lost", func(t *testing.T, w *world) {
			if err := w.st.Blobs.Put(t.Context(), "models/churn/v9/model.json", []byte("{}")); err != nil {
				t.Fatal(err)
			}
		}, "models/churn/v9/model.json: belongs to v9", false, nil},
		{"an approval whose checkpoint cannot be resumed", func(t *testing.T, w *world) {
			ap, _ := w.st.Approvals.Get(t.Context(), w.token)
			var cp map[string]any
			_ = json.Unmarshal(ap.Checkpoint, &cp)
			cp["machineDigest"] = "an older definition"
			raw, _ := json.Marshal(cp)
			if err := w.st.Approvals.Replace(t.Context(), []string{w.token}, "tok-2", raw, ap.Info); err != nil {
				t.Fatal(err)
			}
		}, "cannot be resumed", true, func(t *testing.T, w *world) {
			if aps, _ := w.st.Approvals.List(t.Context()); len(aps) != 0 {
				t.Errorf("%d approvals left", len(aps))
			}
			if v := w.version(t, 3); v.Decision.Outcome != registry.OutcomeAbandoned {
				t.Errorf("v3 after the repair: %+v", v.Decision)
			}
		}},
		{"a claim left by a killed answer", func(t *testing.T, w *world) {
			if _, err := w.st.Approvals.Claim(t.Context(), w.token, "dead:1:x", nil); err != nil {
				t.Fatal(err)
			}
		}, "a process that is gone", true, func(t *testing.T, w *world) {
			if ap, _ := w.st.Approvals.Get(t.Context(), w.token); ap.Claim != nil {
				t.Errorf("claim %+v left", ap.Claim)
			}
		}},
		{"a pending approval no command can answer", func(t *testing.T, w *world) {
			if err := w.st.Approvals.Delete(t.Context(), w.token); err != nil {
				t.Fatal(err)
			}
		}, "which no command can answer", true, func(t *testing.T, w *world) {
			if v := w.version(t, 3); v.Decision.Outcome != registry.OutcomeAbandoned || v.Decision.ApprovalToken != "" {
				t.Errorf("v3 after the repair: %+v", v.Decision)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if _, lines := w.check(t); len(lines) != 0 {
				t.Fatalf("a sound state: %q", lines)
			}
			tc.damage(t, w)
			fs, lines := w.check(t)
			if len(lines) != 1 || !strings.Contains(lines[0], tc.want) {
				t.Fatalf("findings %q, want one with %q", lines, tc.want)
			}
			if got := fs[0].Repair != ""; got != tc.repairable {
				t.Errorf("repairable %v (%q), want %v", got, fs[0].Repair, tc.repairable)
			}
			if !tc.repairable && fs[0].Advice == "" {
				t.Error("an unrepairable finding without advice")
			}
			if err := statecheck.Repair(t.Context(), fs); err != nil {
				t.Fatalf("Repair: %v", err)
			}
			if fs[0].Repaired != tc.repairable {
				t.Errorf("Repaired %v, want %v", fs[0].Repaired, tc.repairable)
			}
			_, after := w.check(t)
			if tc.repairable && len(after) != 0 {
				t.Errorf("after the repair: %q", after)
			}
			if !tc.repairable && !slices.Equal(after, lines) {
				t.Errorf("an unrepairable finding changed: %q -> %q", lines, after)
			}
			if tc.after != nil {
				tc.after(t, w)
			}
		})
	}
}

// TestYoungIsLeftAlone: what looks half done but is younger than the
// grace may be a step still running: reported, not repaired.
func TestYoungIsLeftAlone(t *testing.T) {
	w := newWorld(t)
	w.p.OrphanGrace = 0 // the default: 15 minutes
	if _, err := w.st.Registry.Register(t.Context(), registry.Version{Model: model, AsOf: w.asOfs[2]}); err != nil {
		t.Fatal(err)
	}
	fs, lines := w.check(t)
	if len(fs) != 1 || fs[0].Repair != "" || !strings.Contains(lines[0], "moments ago") {
		t.Fatalf("findings %q, want the young orphan, not repairable", lines)
	}
}

// TestHooks: the hooks are called with what they check, and their
// findings (and repairs) join the others.
func TestHooks(t *testing.T) {
	w := newWorld(t)
	var gotNewest string
	var gotDatasets []string
	fixed := false
	w.c.Hooks = statecheck.Hooks{
		OnlineStore: func(_ context.Context, newest string) ([]statecheck.Finding, error) {
			gotNewest = newest
			return []statecheck.Finding{statecheck.NewFinding("online", "features", "on an older month", "switch it", "", func(context.Context) error { fixed = true; return nil })}, nil
		},
		DatasetManifests: func(_ context.Context, asOfs []string) ([]statecheck.Finding, error) {
			gotDatasets = asOfs
			return nil, nil
		},
	}
	fs, _ := w.check(t)
	if gotNewest != w.asOfs[2] || !slices.Equal(gotDatasets, w.asOfs) {
		t.Errorf("hooks got %q and %q, want %q and %q", gotNewest, gotDatasets, w.asOfs[2], w.asOfs)
	}
	if len(fs) != 1 || fs[0].Check != "online" {
		t.Fatalf("findings %+v, want the hook's", fs)
	}
	if err := statecheck.Repair(t.Context(), fs); err != nil || !fixed || !fs[0].Repaired {
		t.Errorf("the hook's repair: %v, ran %v", err, fixed)
	}
}
