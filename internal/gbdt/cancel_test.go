package gbdt_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/gbdt"
)

// TestTrainContextStops: training stops between rounds once its context
// ends (Ctrl-C, a Lambda's deadline), long before its rounds are done.
func TestTrainContextStops(t *testing.T) {
	d := logisticData(t, 5000, 3)
	p := quickParams()
	p.Rounds = 1_000_000 // hours of rounds
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	m, err := gbdt.TrainContext(ctx, d, p)
	if !errors.Is(err, context.DeadlineExceeded) || m != nil {
		t.Fatalf("TrainContext: %v, %v; want context.DeadlineExceeded and no model", m, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("stopped %s after the deadline; want within a round or so", took)
	}
}
