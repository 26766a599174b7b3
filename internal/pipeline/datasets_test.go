package pipeline_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/pipeline/pipelinetest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// deletions records the keys deleted through it, and fails the delete
// number failAt (1-based) once, like a process killed mid-removal.
type deletions struct {
	blob.Store
	mu      sync.Mutex
	deleted []string
	failAt  int
}

func (d *deletions) Delete(ctx context.Context, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.deleted)+1 == d.failAt {
		d.failAt = 0
		return errors.New("killed")
	}
	if err := d.Store.Delete(ctx, key); err != nil {
		return err
	}
	d.deleted = append(d.deleted, key)
	return nil
}

func TestRemoveDatasetDeletesTheMarkerFirst(t *testing.T) {
	cases := []struct {
		name   string
		keys   []string
		marker string
	}{
		{"single file", []string{"snapshot.parquet"}, "snapshot.parquet"},
		{"sharded", []string{"part-00000.parquet", "part-00001.parquet", "manifest.json", "part-00002.parquet"}, "manifest.json"},
		{"unfinished", []string{"part-00000.parquet"}, "part-00000.parquet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newPipeline(t)
			rec := &deletions{Store: st.Blobs, failAt: 2}
			p.Blobs = rec
			const asOf = "2999-12-31" // a future month an older churnops let in
			for _, k := range tc.keys {
				if err := st.Blobs.Put(t.Context(), pipeline.DatasetDir(asOf)+k, []byte(k)); err != nil {
					t.Fatal(err)
				}
			}
			in := pipeline.RemoveDatasetInput{AsOf: asOf}
			_, err := p.RemoveDataset(t.Context(), in)
			if len(tc.keys) > 1 && err == nil {
				t.Fatal("the injected failure did not stop the removal")
			}
			if len(rec.deleted) == 0 || rec.deleted[0] != pipeline.DatasetDir(asOf)+tc.marker {
				t.Fatalf("deleted %v; want the marker %s first", rec.deleted, tc.marker)
			}
			if err != nil { // run it again: it finishes
				if _, err := p.RemoveDataset(t.Context(), in); err != nil {
					t.Fatalf("re-running the removal: %v", err)
				}
			}
			if left, _ := st.Blobs.List(t.Context(), pipeline.DatasetDir(asOf)); len(left) != 0 {
				t.Fatalf("keys left: %v", left)
			}
			if _, err := p.RemoveDataset(t.Context(), in); err == nil || !strings.Contains(err.Error(), "nothing is stored") {
				t.Fatalf("removing it a third time: %v, want nothing to remove", err)
			}
		})
	}
}

// TestRemoveDatasetOnline: removing a month takes its online version with
// it; removing the served month serves the newest remaining one, and the
// last month online is kept unless forced.
func TestRemoveDatasetOnline(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	months, err := synth.Generate(synth.Config{Users: 400, Months: 3, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	asOf := func(i int) string { return months[i].AsOf.Format(snapshot.DateLayout) }
	for _, m := range months {
		if _, err := pipelinetest.IngestMonth(ctx, p, m, t.TempDir(), pipeline.IngestOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// Ingest pruned the oldest online version: months 1 and 2 are online.
	rm := func(i int, force bool) (pipeline.RemoveDatasetOutput, error) {
		return p.RemoveDataset(ctx, pipeline.RemoveDatasetInput{AsOf: asOf(i), Force: force})
	}
	keys, err := st.Blobs.List(ctx, dataset.Dir(asOf(2)))
	if err != nil || len(keys) != 3 { // the manifest, one part, the drift summary
		t.Fatalf("month %s stored as %v, %v", asOf(2), keys, err)
	}
	out, err := rm(2, false)
	if err != nil || !out.Online || out.Served != asOf(1) || len(out.DeletedKeys) != len(keys) || out.DeletedKeys[0] != dataset.ManifestKey(asOf(2)) {
		t.Fatalf("rm of the served month = %+v, %v; want it gone and %s served", out, err, asOf(1))
	}
	assertServes(t, st.Features, months[1], months[2])
	if all, _ := dataset.List(ctx, p.Blobs); !slices.Equal(all, []string{asOf(0), asOf(1)}) {
		t.Fatalf("ingested months %v after the removal", all)
	}
	out, err = rm(0, false) // its online version was pruned: only the dataset goes
	if err != nil || out.Online || out.Served != asOf(1) {
		t.Fatalf("rm of a month not online = %+v, %v", out, err)
	}
	var inUse *pipeline.DatasetInUseError
	if _, err := rm(1, false); !errors.As(err, &inUse) || !strings.Contains(err.Error(), "only month") {
		t.Fatalf("rm of the last month online: %v, want a DatasetInUseError", err)
	}
	assertServes(t, st.Features, months[1])
	if out, err := rm(1, true); err != nil || out.Served != "" {
		t.Fatalf("forced rm of the last month = %+v, %v", out, err)
	}
	if _, err := st.Features.Current(ctx); !errors.Is(err, featurestore.ErrNoVersion) {
		t.Fatalf("Current after removing every month: %v, want ErrNoVersion", err)
	}
	if ds, err := p.Datasets(ctx, model); err != nil || len(ds) != 0 {
		t.Fatalf("Datasets after removing every month = %+v, %v", ds, err)
	}
}

// TestRemoveDatasetProtectsModels: the month the Production version or a
// candidate was trained on is kept unless forced; archived and rejected
// versions are only reported.
func TestRemoveDatasetProtectsModels(t *testing.T) {
	cases := []struct {
		stage   registry.Stage
		blocked bool
	}{
		{registry.StageProduction, true},
		{registry.StageNone, true},
		{registry.StageArchived, false},
		{registry.StageRejected, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.stage)+"_", func(t *testing.T) {
			p, st := newPipeline(t)
			ctx := t.Context()
			asOfs := ingestGenerated(t, p, synth.Config{Users: 300, Months: 2, Seed: 3})
			// v1 is trained on the first month, v2 on the second.
			v1, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[0]})
			if err != nil {
				t.Fatal(err)
			}
			v2, err := st.Registry.Register(ctx, registry.Version{Model: model, AsOf: asOfs[1]})
			if err != nil {
				t.Fatal(err)
			}
			switch tc.stage {
			case registry.StageProduction:
				err = st.Registry.Promote(ctx, model, v1.Version, 0, registry.Decision{})
			case registry.StageArchived:
				if err = st.Registry.Promote(ctx, model, v1.Version, 0, registry.Decision{}); err == nil {
					err = st.Registry.Promote(ctx, model, v2.Version, v1.Version, registry.Decision{})
				}
			case registry.StageRejected:
				err = st.Registry.Decide(ctx, model, v1.Version, registry.StageRejected, registry.Decision{})
			}
			if err != nil {
				t.Fatal(err)
			}
			ds, err := p.Datasets(ctx, model)
			if err != nil || len(ds) != 2 || len(ds[0].Models) != 1 || ds[0].Layout != pipeline.LayoutSharded || ds[1].Online == nil || !ds[1].Online.Served {
				t.Fatalf("Datasets = %+v, %v", ds, err)
			}
			in := pipeline.RemoveDatasetInput{AsOf: asOfs[0], ModelName: model}
			out, err := p.RemoveDataset(ctx, in)
			var inUse *pipeline.DatasetInUseError
			if tc.blocked {
				if !errors.As(err, &inUse) || !strings.Contains(err.Error(), "v1") {
					t.Fatalf("rm of the month v1 (%s) was trained on: %v, want a DatasetInUseError naming v1", tc.stage, err)
				}
				if all, _ := dataset.List(ctx, p.Blobs); len(all) != 2 {
					t.Fatalf("a refused rm removed something: %v", all)
				}
				in.Force = true
				out, err = p.RemoveDataset(ctx, in)
			}
			if err != nil || len(out.DeletedKeys) != 3 || out.DeletedKeys[0] != dataset.ManifestKey(asOfs[0]) || len(out.Models) != 1 || out.Models[0].Stage != tc.stage {
				t.Fatalf("rm = %+v, %v; want the dataset removed and v1 reported", out, err)
			}
		})
	}
}
