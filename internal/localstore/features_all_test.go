package localstore_test

import (
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
)

func TestFeaturesAll(t *testing.T) {
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if recs, err := st.Features.All(t.Context()); err != nil || len(recs) != 0 {
		t.Fatalf("All on an empty store = %v, %v; want none", recs, err)
	}
	in := []featurestore.Record{
		{UserID: "b", AsOf: "2024-01-31", Features: map[string]any{"x": 1.0}},
		{UserID: "a", AsOf: "2024-01-31", Features: map[string]any{"x": nil, "y": true}},
	}
	if err := st.Features.PutBatch(t.Context(), in); err != nil {
		t.Fatal(err)
	}
	recs, err := st.Features.All(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].UserID != "a" || recs[1].UserID != "b" || recs[0].Features["y"] != true {
		t.Errorf("All = %+v, want a then b with their features", recs)
	}
}
