package drift_test

import (
	"context"
	"errors"
	"testing"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// TestCompareContextStops: a cancelled context stops the comparison
// between columns.
func TestCompareContextStops(t *testing.T) {
	cols := []snapshot.Column{{Name: "x", Kind: snapshot.Numerical, Num: []float64{1, 2, 3}}}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := drift.CompareContext(ctx, cols, cols, drift.Options{Threshold: 0.02}); !errors.Is(err, context.Canceled) {
		t.Errorf("CompareContext: %v, want context.Canceled", err)
	}
	if _, err := drift.CompareContext(t.Context(), cols, cols, drift.Options{Threshold: 0.02}); err != nil {
		t.Errorf("CompareContext with a live context: %v", err)
	}
}
