// Package statecheck verifies a churnops state the way `git fsck` verifies a
// repository: the registry against the artifacts and their checksums, the
// datasets registered versions were trained on, pending approvals against
// their checkpoints and candidates — and, through Hooks, what other parts
// of the state contribute (the online store, dataset manifests). It reports
// what is wrong and repairs what is safe to repair (see Finding.Repair).
//
// What is safe: marking a version in stage None whose artifact is missing
// or is not the one registered as Rejected (it could only ever be refused
// at promotion); marking a pending approval that no command can answer as
// abandoned; releasing an approval claim whose process is gone; deleting an
// approval whose checkpoint cannot be resumed (after abandoning its pending
// decision). Never repaired, only reported with advice: anything that would
// lose or invent data — a Production or Archived version whose artifact is
// missing or damaged, a dataset missing, blobs that belong to no version,
// two Production versions.
//
// Something that looks half done but is younger than the pipeline's orphan
// grace may be a step still running: it is reported as such and left alone.
package statecheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
)

// Finding is one thing wrong with the state.
type Finding struct {
	Check   string `json:"check"`   // which check found it
	Subject string `json:"subject"` // what: "churn v3", "approval 1e09…", a blob key
	Problem string `json:"problem"`
	// Repair says what Repair does about it; empty when it is not safe to
	// fix automatically (then Advice says what a person can do).
	Repair   string `json:"repair,omitempty"`
	Advice   string `json:"advice,omitempty"`
	Repaired bool   `json:"repaired,omitempty"`

	fix func(ctx context.Context) error
}

// Hooks are the checks other parts of the state contribute; nil ones are
// skipped. Their findings may carry their own repairs (NewFinding).
type Hooks struct {
	// OnlineStore checks the online feature store against the newest
	// stored dataset (its as_of, "" if none): that /predict serves it.
	OnlineStore func(ctx context.Context, newestDataset string) ([]Finding, error)
	// DatasetManifests checks each stored dataset (by as_of) against its
	// manifest: shards, counts, fingerprint.
	DatasetManifests func(ctx context.Context, asOfs []string) ([]Finding, error)
}

// NewFinding is a Finding whose repair (what it does, and fix) a hook
// provides; fix nil means not safe to repair.
func NewFinding(check, subject, problem, repair, advice string, fix func(ctx context.Context) error) Finding {
	return Finding{Check: check, Subject: subject, Problem: problem, Repair: repair, Advice: advice, fix: fix}
}

// Checker checks one state.
type Checker struct {
	Pipeline *pipeline.Pipeline
	// Models are the model names to check.
	Models []string
	// Approvals, when set (the embedded default), are checked against the
	// registry and the state machine; Stale tells a gone claimant.
	Approvals registry.Approvals
	Stale     func(registry.ApprovalClaim) bool
	Hooks     Hooks
}

// Check runs every check and returns what it found, in a stable order.
func (c *Checker) Check(ctx context.Context) ([]Finding, error) {
	var out []Finding
	datasets, err := dataset.List(ctx, c.Pipeline.Blobs)
	if err != nil {
		return nil, err
	}
	for _, model := range c.Models {
		fs, err := c.checkModel(ctx, model, datasets)
		if err != nil {
			return out, fmt.Errorf("check %s: %w", model, err)
		}
		out = append(out, fs...)
	}
	if c.Approvals != nil {
		fs, err := c.checkApprovals(ctx)
		if err != nil {
			return out, fmt.Errorf("check approvals: %w", err)
		}
		out = append(out, fs...)
	}
	newest := ""
	if n := len(datasets); n > 0 {
		newest = datasets[n-1]
	}
	for _, hook := range []func() ([]Finding, error){
		func() ([]Finding, error) {
			if c.Hooks.OnlineStore == nil {
				return nil, nil
			}
			return c.Hooks.OnlineStore(ctx, newest)
		},
		func() ([]Finding, error) {
			if c.Hooks.DatasetManifests == nil {
				return nil, nil
			}
			return c.Hooks.DatasetManifests(ctx, datasets)
		},
	} {
		fs, err := hook()
		if err != nil {
			return out, err
		}
		out = append(out, fs...)
	}
	return out, nil
}

// Repair applies the safe repairs of findings, marking each Repaired, and
// returns the first error (the other repairs are still attempted).
func Repair(ctx context.Context, findings []Finding) error {
	var errs []error
	for i := range findings {
		f := &findings[i]
		if f.fix == nil || f.Repaired {
			continue
		}
		if err := f.fix(ctx); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f.Subject, err))
			continue
		}
		f.Repaired = true
	}
	return errors.Join(errs...)
}

// checkModel checks one model's versions.
func (c *Checker) checkModel(ctx context.Context, model string, datasets []string) ([]Finding, error) {
	p := c.Pipeline
	vs, err := p.Registry.List(ctx, model)
	if err != nil {
		return nil, err
	}
	var out []Finding
	add := func(check string, v registry.Version, problem, repair, advice string, fix func(context.Context) error) {
		out = append(out, Finding{Check: check, Subject: fmt.Sprintf("%s v%d (%s)", model, v.Version, v.Stage), Problem: problem, Repair: repair, Advice: advice, fix: fix})
	}

	// At most one Production version, and the registry's pointer to it.
	var prods []int
	for _, v := range vs {
		if v.Stage == registry.StageProduction {
			prods = append(prods, v.Version)
		}
	}
	prod, perr := p.Registry.Production(ctx, model)
	switch {
	case len(prods) > 1:
		out = append(out, Finding{Check: "registry", Subject: model, Problem: fmt.Sprintf("%d Production versions: %v", len(prods), prods),
			Advice: "promote the one to serve with `churnops registry promote V`"})
	case perr != nil && !errors.Is(perr, registry.ErrNoProduction):
		out = append(out, Finding{Check: "registry", Subject: model, Problem: "Production cannot be read: " + perr.Error(),
			Advice: "restore registry.db from a backup"})
	case perr == nil && (len(prods) != 1 || prods[0] != prod.Version):
		out = append(out, Finding{Check: "registry", Subject: model, Problem: fmt.Sprintf("the Production pointer names v%d, the versions say %v", prod.Version, prods),
			Advice: "promote the one to serve with `churnops registry promote V`"})
	}

	for _, v := range vs {
		// The artifact: present, the registered bytes, a churn model.
		if _, err := p.LoadModel(ctx, v); err != nil {
			var missing *pipeline.ModelNotFoundError
			var bad *pipeline.InvalidArtifactError
			if !errors.As(err, &missing) && !errors.As(err, &bad) {
				return out, err
			}
			switch {
			case v.Stage == registry.StageRejected:
				// Never promotable: an orphan already marked.
			case v.Stage != registry.StageNone:
				add("artifacts", v, err.Error(), "", "this version was promoted once: restore "+v.ArtifactKey+" from a backup (its SHA-256 is in the registry), or promote another version", nil)
			case missing != nil && p.Young(v.CreatedAt):
				add("artifacts", v, err.Error()+" (registered moments ago: its run may still be uploading)", "", "check again in a few minutes", nil)
			default:
				add("artifacts", v, err.Error(), "mark it Rejected (orphaned): it can never be promoted", "", func(ctx context.Context) error {
					return p.Registry.Decide(ctx, model, v.Version, registry.StageRejected, registry.Decision{
						Outcome: registry.OutcomeOrphaned, CandidateAUC: v.Metrics["val_auc"], Reason: "churnops check: " + err.Error(), DecidedAt: time.Now().UTC(),
					})
				})
			}
		}
		// The dataset it was trained on.
		if v.AsOf != "" && !slices.Contains(datasets, v.AsOf) {
			add("datasets", v, fmt.Sprintf("trained on %s, but no month is stored under %s", v.AsOf, dataset.Dir(v.AsOf)), "",
				"ingest that month again (same data: the same snapshot) to evaluate and retrain with it", nil)
		}
	}

	// Files of versions the registry does not know (a lost version).
	keys, err := p.Blobs.List(ctx, "models/"+model+"/v")
	if err != nil {
		return out, err
	}
	re := regexp.MustCompile(`^models/` + regexp.QuoteMeta(model) + `/v(\d+)/`)
	for _, k := range keys {
		if m := re.FindStringSubmatch(k); m != nil {
			if n, _ := strconv.Atoi(m[1]); n > len(vs) {
				out = append(out, Finding{Check: "artifacts", Subject: k, Problem: fmt.Sprintf("belongs to v%d, which the registry does not hold (it has %d versions)", n, len(vs)),
					Advice: "registry.db may be older than the blobs: restore the newer registry.db from a backup"})
			}
		}
	}
	return out, nil
}

// checkApprovals checks the paused executions against the registry and the
// state machine, and the pending decisions against the paused executions.
func (c *Checker) checkApprovals(ctx context.Context) ([]Finding, error) {
	p := c.Pipeline
	aps, err := c.Approvals.List(ctx)
	if err != nil {
		return nil, err
	}
	runner, err := p.LocalRunner(nil)
	if err != nil {
		return nil, err
	}
	var out []Finding
	for _, ap := range aps {
		subject := fmt.Sprintf("approval %.12s… (%s v%d)", ap.Token, ap.Info.Model, ap.Info.Version)
		var cp asl.Checkpoint
		cpErr := json.Unmarshal(ap.Checkpoint, &cp)
		if cpErr == nil {
			cpErr = runner.CheckCheckpoint(&cp)
		}
		if cpErr != nil {
			out = append(out, Finding{Check: "approvals", Subject: subject, Problem: "its paused execution cannot be resumed: " + cpErr.Error(),
				Repair: "delete it and mark the candidate's pending approval abandoned", fix: func(ctx context.Context) error {
					v, err := p.Registry.Get(ctx, ap.Info.Model, ap.Info.Version)
					if err != nil && !errors.Is(err, registry.ErrNotFound) {
						return err
					}
					// The candidate waits on this token, or on a later one of
					// the same execution that was never stored.
					if d := v.Decision; err == nil && d != nil && (d.ApprovalToken == ap.Token || d.Execution == ap.Info.Execution) {
						if err := p.AbandonPending(ctx, ap.Info.Model, ap.Info.Version, d.ApprovalToken, "its checkpoint cannot be resumed (churnops check)"); err != nil {
							return err
						}
					}
					return c.Approvals.Delete(ctx, ap.Token)
				}})
			continue
		}
		if cl := ap.Claim; cl != nil && c.Stale != nil && c.Stale(*cl) {
			out = append(out, Finding{Check: "approvals", Subject: subject, Problem: "claimed by " + cl.Owner + ", a process that is gone (an answer was killed)",
				Repair: "release the claim", fix: func(ctx context.Context) error { return c.Approvals.Release(ctx, ap.Token, cl.Owner) }})
		}
		v, err := p.Registry.Get(ctx, ap.Info.Model, ap.Info.Version)
		switch {
		case errors.Is(err, registry.ErrNotFound):
			out = append(out, Finding{Check: "approvals", Subject: subject, Problem: "its candidate is not in the registry",
				Advice: "registry.db may be older than the approval: restore the newer one from a backup"})
			continue
		case err != nil:
			return out, err
		}
		if d := v.Decision; d != nil && d.Execution == ap.Info.Execution && d.Outcome != pipeline.OutcomePendingApproval {
			out = append(out, Finding{Check: "approvals", Subject: subject, Problem: fmt.Sprintf("its candidate was already %s by this execution, which was interrupted before it ended", d.Outcome),
				Advice: "answer it again (`churnops registry approve` or `reject`): the run resumes, keeps that decision and finishes"})
		}
	}
	for _, model := range c.Models {
		stale, err := pipeline.StalePending(ctx, p, c.Approvals, model)
		if err != nil {
			return out, err
		}
		for _, v := range stale {
			subject := fmt.Sprintf("%s v%d (%s)", model, v.Version, v.Stage)
			problem := fmt.Sprintf("waits on approval %.12s…, which no command can answer: its execution stopped before storing its pause", v.Decision.ApprovalToken)
			if p.Young(v.Decision.DecidedAt) {
				out = append(out, Finding{Check: "approvals", Subject: subject, Problem: problem + " (or is storing it right now)", Advice: "check again in a few minutes"})
				continue
			}
			out = append(out, Finding{Check: "approvals", Subject: subject, Problem: problem,
				Repair: "mark the pending approval abandoned (run again to decide on a new candidate)", fix: func(ctx context.Context) error {
					return p.AbandonPending(ctx, model, v.Version, v.Decision.ApprovalToken, "no command could answer it (churnops check)")
				}})
		}
	}
	return out, nil
}
