package training_test

import (
	"testing"

	"github.com/churnops/churnops/internal/metrics"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
	"github.com/churnops/churnops/internal/training"
)

// TestTrainSynthMonth trains on a generated month and compares the
// validation AUC with the ceiling set by the generator's true churn
// probabilities on the same users.
func TestTrainSynthMonth(t *testing.T) {
	run, err := synth.Simulate(synth.Config{Months: 1, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	m := run.Months[0]
	res, err := training.Train(m, training.DefaultParams())
	if err != nil {
		t.Fatal(err)
	}
	// The ceiling: the AUC of the true churn probabilities on the same users.
	var labels, truth []float64
	for i, c := range m.Customers {
		if snapshot.IsValidation(c.UserID) {
			labels = append(labels, metrics.BoolLabels([]bool{c.Churn})[0])
			truth = append(truth, run.ChurnProb[0][i])
		}
	}
	oracle, err := metrics.AUC(labels, truth)
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Metrics.AUC; got < 0.75 || got < oracle-0.05 {
		t.Errorf("synth val AUC %.4f, oracle %.4f", got, oracle)
	}
	t.Logf("synth month: val AUC %.4f, oracle %.4f", res.Metrics.AUC, oracle)
}
