package pipeline_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/synth"
)

// fullDisk is a blob store whose Puts of keys ending in suffix fail, as on
// a full disk.
type fullDisk struct {
	blob.Store
	suffix string
}

func (f fullDisk) Put(ctx context.Context, key string, data []byte) error {
	if strings.HasSuffix(key, f.suffix) {
		return &blobError{key}
	}
	return f.Store.Put(ctx, key, data)
}

type blobError struct{ key string }

func (e *blobError) Error() string { return "write " + e.key + ": " + syscall.ENOSPC.Error() }

// TestPromotionChecksTheArtifact: a version whose artifact is missing,
// damaged or another model's is never promoted, by a run's Compare or by
// PromoteVersion (what the CLI's promote and rollback call), and the
// registry is left as it was.
func TestPromotionChecksTheArtifact(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 1, Seed: 3})
	first, err := p.Train(ctx, pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v1, err := st.Registry.Get(ctx, model, first.Version)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := st.Blobs.Get(ctx, v1.ArtifactKey)
	if err != nil {
		t.Fatal(err)
	}
	if v1.ArtifactSHA256 != pipeline.ArtifactSHA256(stored) {
		t.Fatalf("registered SHA-256 %q, stored artifact %s", v1.ArtifactSHA256, pipeline.ArtifactSHA256(stored))
	}
	cases := []struct {
		name     string
		key, sum string // the registered version's artifact key and checksum
		wantType any
	}{
		{"missing", "models/churn/nowhere/model.json", v1.ArtifactSHA256, &pipeline.ModelNotFoundError{}},
		{"another model's bytes", v1.ArtifactKey, strings.Repeat("0", 64), &pipeline.InvalidArtifactError{}},
	}
	for _, tc := range cases {
		v, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[0], ArtifactKey: tc.key, ArtifactSHA256: tc.sum})
		if err != nil {
			t.Fatal(err)
		}
		t.Run(tc.name+"/Compare", func(t *testing.T) {
			_, err := p.Compare(ctx, pipeline.CompareInput{Action: pipeline.ActionPromote, ModelName: model, CandidateVersion: v.Version})
			if typeName(err) != typeName(tc.wantType) {
				t.Errorf("Compare promote: %T %v, want %T", err, err, tc.wantType)
			}
		})
		t.Run(tc.name+"/PromoteVersion", func(t *testing.T) {
			err := p.PromoteVersion(ctx, model, v.Version, 0, registry.Decision{Outcome: registry.OutcomeRolledBack})
			if !errors.As(err, new(*pipeline.ModelNotFoundError)) && !errors.As(err, new(*pipeline.InvalidArtifactError)) {
				t.Errorf("PromoteVersion: %v, want a missing or invalid artifact", err)
			}
		})
		if _, err := st.Registry.Production(ctx, model); !errors.Is(err, registry.ErrNoProduction) {
			t.Errorf("after refused promotions of v%d: Production %v, want none", v.Version, err)
		}
	}
	// The sound version is promoted.
	if err := p.PromoteVersion(ctx, model, v1.Version, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Errorf("PromoteVersion of a sound version: %v", err)
	}
}

// TestOrphansAreMarked: a version registered without its artifact (its run
// died, or the disk filled up, between the two) is marked orphaned by the
// next run once it is older than the grace, never while its run may still
// be uploading.
func TestOrphansAreMarked(t *testing.T) {
	for _, tc := range []struct {
		name       string
		grace      time.Duration
		wantMarked bool
	}{
		{"younger than the grace", 0, false},
		{"older than the grace", -1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newPipeline(t)
			p.OrphanGrace = tc.grace
			ctx := t.Context()
			asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 1, Seed: 3})
			orphan, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[0], RunID: "arn:dead#retrain", ArtifactSHA256: strings.Repeat("1", 64)})
			if err != nil {
				t.Fatal(err)
			}
			orphans, err := p.Orphans(ctx, model, "")
			if err != nil || len(orphans) != 1 || orphans[0].Version.Version != orphan.Version || orphans[0].Young == tc.wantMarked {
				t.Fatalf("Orphans: %+v, %v; want v%d (young %v)", orphans, err, orphan.Version, !tc.wantMarked)
			}
			if _, err := p.Train(ctx, pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1, RunID: "arn:next", Phase: "retrain"}); err != nil {
				t.Fatal(err)
			}
			got, err := st.Registry.Get(ctx, model, orphan.Version)
			if err != nil {
				t.Fatal(err)
			}
			marked := got.Stage == registry.StageRejected && got.Decision != nil && got.Decision.Outcome == registry.OutcomeOrphaned
			if marked != tc.wantMarked {
				t.Errorf("orphan after the next run: stage %s, decision %+v; marked %v, want %v", got.Stage, got.Decision, marked, tc.wantMarked)
			}
		})
	}
}

// TestFailedUploadRejectsTheVersion: when an upload fails after the version
// was registered (a full disk), the version is rejected at once, whatever
// the run: it can never be promoted, and a retry trains a version of its
// own.
func TestFailedUploadRejectsTheVersion(t *testing.T) {
	for _, suffix := range []string{"model.json", "val_predictions.csv"} {
		t.Run(suffix, func(t *testing.T) {
			p, st := newPipeline(t)
			ctx := t.Context()
			asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 1, Seed: 3})
			p.Blobs = fullDisk{Store: st.Blobs, suffix: "/" + suffix}
			_, err := p.Train(ctx, pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1, RunID: "arn:exec", Phase: "bootstrap"})
			if err == nil || !strings.Contains(err.Error(), "no space left") {
				t.Fatalf("Train on a full disk: %v", err)
			}
			if name := asl.ErrorName(err); name != "InternalError" {
				t.Errorf("error crosses the Lambda boundary as %q, want InternalError", name)
			}
			v, err := st.Registry.Get(ctx, model, 1)
			if err != nil {
				t.Fatal(err)
			}
			if v.Stage != registry.StageRejected || v.Decision == nil || !strings.Contains(v.Decision.Reason, suffix) {
				t.Errorf("v1 after the failed upload: %s %+v, want Rejected naming %s", v.Stage, v.Decision, suffix)
			}
		})
	}
}
