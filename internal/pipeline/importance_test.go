package pipeline_test

import (
	"maps"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/synth"
)

// TestTrainRegistersImportance: the candidate's registry version carries
// the feature importance training measured on its validation users, the
// same as its stored artifact records, so that registry show and the
// dashboard read it without loading the model.
func TestTrainRegistersImportance(t *testing.T) {
	p, st := newPipeline(t)
	ctx := t.Context()
	asOfs := ingestGenerated(t, p, synth.Config{Users: 1000, Months: 1, Seed: 3})
	out, err := p.Train(ctx, pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	v, err := st.Registry.Get(ctx, model, out.Version)
	if err != nil {
		t.Fatal(err)
	}
	data, err := st.Blobs.Get(ctx, v.ArtifactKey)
	if err != nil {
		t.Fatal(err)
	}
	m, err := gbdt.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Importance) != m.NumFeatures() || !maps.Equal(v.Importance, m.Meta.Importance) {
		t.Errorf("registry importance %v, artifact's %v", v.Importance, m.Meta.Importance)
	}
}
