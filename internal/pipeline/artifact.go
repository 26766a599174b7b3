package pipeline

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/training"
)

// DefaultOrphanGrace is how old a version without its artifact must be
// before a run marks it orphaned (Pipeline.OrphanGrace). Train registers a
// version, then uploads its artifact at once: a gap longer than a Lambda's
// 15-minute limit means the process that registered it is gone.
const DefaultOrphanGrace = 15 * time.Minute

// ArtifactSHA256 is the checksum recorded in registry.Version.ArtifactSHA256:
// the hex SHA-256 of the artifact's bytes.
func ArtifactSHA256(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// LoadModel reads a version's artifact, checks it is the one registered
// (its SHA-256, when recorded, and the artifact's own checksum) and decodes
// it, checking that it reads the churn features. A missing artifact is a
// ModelNotFoundError, a damaged or swapped one an InvalidArtifactError.
func (p *Pipeline) LoadModel(ctx context.Context, v registry.Version) (*gbdt.Model, error) {
	data, err := p.Blobs.Get(ctx, v.ArtifactKey)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, &ModelNotFoundError{Msg: fmt.Sprintf("%s v%d: artifact %s is missing", v.Model, v.Version, v.ArtifactKey)}
	}
	if err != nil {
		return nil, fmt.Errorf("read artifact %s: %w", v.ArtifactKey, err)
	}
	bad := func(format string, args ...any) error {
		return &InvalidArtifactError{Msg: fmt.Sprintf("%s v%d: artifact %s ", v.Model, v.Version, v.ArtifactKey) + fmt.Sprintf(format, args...)}
	}
	if sum := ArtifactSHA256(data); v.ArtifactSHA256 != "" && sum != v.ArtifactSHA256 {
		return nil, bad("has SHA-256 %s, but %s was registered", sum, v.ArtifactSHA256)
	}
	model, err := gbdt.Unmarshal(data)
	if err != nil {
		return nil, bad("does not load: %v", err)
	}
	if err := model.CheckFeatures(training.Spec()); err != nil {
		return nil, bad("is not a churn model: %v", err)
	}
	return model, nil
}

// PromoteVersion makes version the model's Production version over
// expectedProduction (0: none), recording d — after checking that its
// artifact is present and is the one registered. Every promotion goes
// through it: a run's (Compare), one by hand and a rollback, so a version
// whose artifact is missing or damaged never becomes Production (a server
// restarted on it would have nothing to serve).
func (p *Pipeline) PromoteVersion(ctx context.Context, model string, version, expectedProduction int, d registry.Decision) error {
	v, err := p.Registry.Get(ctx, model, version)
	if err != nil {
		return err
	}
	if _, err := p.LoadModel(ctx, v); err != nil {
		return fmt.Errorf("promote %s v%d: %w", model, version, err)
	}
	return p.Registry.Promote(ctx, model, version, expectedProduction, d)
}

// orphanGrace is Pipeline.OrphanGrace, its default, or none.
func (p *Pipeline) orphanGrace() time.Duration {
	switch {
	case p.OrphanGrace < 0:
		return 0
	case p.OrphanGrace > 0:
		return p.OrphanGrace
	}
	return DefaultOrphanGrace
}

// Young reports whether something written at t is younger than the orphan
// grace: the step that wrote it may still be running, so what looks half
// done (a version without its artifact, a pending approval without its
// stored pause) may yet be completed, and is left alone.
func (p *Pipeline) Young(t time.Time) bool { return p.now().Sub(t) < p.orphanGrace() }

// Orphan is a version registered without its artifact.
type Orphan struct {
	Version registry.Version
	// Young: registered less than the orphan grace ago, so its run may still
	// be uploading; it is reported, not marked.
	Young bool
}

// Orphans lists the model's versions in stage None whose artifact is not
// stored (a crash or a full disk between registering and uploading it).
// Versions registered under skipRunID (the caller's own run, which adopts
// them) are left out.
func (p *Pipeline) Orphans(ctx context.Context, model, skipRunID string) ([]Orphan, error) {
	vs, err := p.Registry.List(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", model, err)
	}
	var out []Orphan
	for _, v := range vs {
		if v.Stage != registry.StageNone || (skipRunID != "" && v.RunID == skipRunID) {
			continue
		}
		r, err := p.Blobs.Open(ctx, v.ArtifactKey)
		if err == nil {
			r.Close()
			continue
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, fmt.Errorf("look for %s: %w", v.ArtifactKey, err)
		}
		out = append(out, Orphan{Version: v, Young: p.Young(v.CreatedAt)})
	}
	return out, nil
}

// MarkOrphans moves every orphan older than the grace to stage Rejected
// with outcome "orphaned", so that no run and no person can promote it, and
// returns the versions it marked. A run calls it before registering its
// own candidate.
func (p *Pipeline) MarkOrphans(ctx context.Context, model, skipRunID string) ([]int, error) {
	orphans, err := p.Orphans(ctx, model, skipRunID)
	if err != nil {
		return nil, err
	}
	var marked []int
	for _, o := range orphans {
		if o.Young {
			continue
		}
		if err := p.markOrphan(ctx, o.Version, "the run that registered it never stored its artifact"); err != nil {
			return marked, err
		}
		marked = append(marked, o.Version.Version)
	}
	return marked, nil
}

// markOrphan records that v's artifact is missing for good. A version that
// left stage None meanwhile is not an orphan any more: not an error.
func (p *Pipeline) markOrphan(ctx context.Context, v registry.Version, why string) error {
	err := p.Registry.Decide(ctx, v.Model, v.Version, registry.StageRejected, registry.Decision{
		Outcome: registry.OutcomeOrphaned, CandidateAUC: v.Metrics["val_auc"],
		Reason: fmt.Sprintf("artifact %s missing: %s", v.ArtifactKey, why), DecidedAt: p.now(),
	})
	if err != nil && !errors.Is(err, registry.ErrConflict) {
		return fmt.Errorf("mark %s v%d orphaned: %w", v.Model, v.Version, err)
	}
	p.log().Warn("orphan version marked", "model", v.Model, "version", v.Version, "artifact_key", v.ArtifactKey, "why", why)
	return nil
}
