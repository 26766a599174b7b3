package drift_test

import (
	"fmt"
	"os"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// Two tiny months: the reference has 8 customers, so Evidently's
// small-sample tests apply (K-S for a numerical column with more than 5
// distinct values, the Z-test for a two-valued one). The scores are those
// scipy.stats.ks_2samp and Evidently's Z-test give for the same samples.
func ExampleCompare() {
	ref := []snapshot.Column{
		{Name: "watch_hours_30d", Kind: snapshot.Numerical, Num: []float64{10, 12, 13, 15, 16, 18, 20, 21}},
		{Name: "churn_label", Kind: snapshot.Categorical, Cat: []string{"False", "False", "True", "False", "False", "True", "False", ""}},
	}
	cur := []snapshot.Column{
		{Name: "watch_hours_30d", Kind: snapshot.Numerical, Num: []float64{31, 33, 34, 35, 37, 38, 40, 42}},
		{Name: "churn_label", Kind: snapshot.Categorical, Cat: []string{"False", "True", "False", "False", "True", "False", "False", "False"}},
	}
	rep, err := drift.Compare(ref, cur, drift.Options{
		Threshold: drift.DefaultThreshold, Reference: "2024-01-31", Current: "2024-02-29",
		// churnops passes pipeline.DriftGate: the state machine's own rule.
		Gate: func(share, threshold float64) (bool, error) { return share >= threshold, nil },
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, c := range rep.Columns {
		fmt.Printf("%s: %s = %.4g, drifted %v\n", c.Column, c.Test, c.Score, c.Drifted)
	}
	fmt.Printf("drift share %.2f, retrain %v\n", rep.DriftShare, rep.Retrain)
	// Output:
	// watch_hours_30d: K-S p_value = 0.0001554, drifted true
	// churn_label: Z-test p_value = 0.876, drifted false
	// drift share 0.50, retrain true
}
