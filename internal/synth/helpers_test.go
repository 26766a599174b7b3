package synth_test

import (
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
	"math"
	"slices"
	"sort"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// simulate runs cfg and fails the test on error.
func simulate(tb testing.TB, cfg synth.Config) *synth.Run {
	tb.Helper()
	run, err := synth.Simulate(cfg)
	if err != nil {
		tb.Fatalf("Simulate(%+v): %v", cfg, err)
	}
	if len(run.Months) != cfg.Months || len(run.ChurnProb) != cfg.Months {
		tb.Fatalf("Simulate: %d months, %d prob slices, want %d", len(run.Months), len(run.ChurnProb), cfg.Months)
	}
	return run
}

// auc is the rank-based ROC AUC (Mann-Whitney U) of scores against labels,
// with tied scores given their average rank.
func auc(tb testing.TB, scores []float64, labels []bool) float64 {
	tb.Helper()
	if len(scores) != len(labels) {
		tb.Fatalf("auc: %d scores, %d labels", len(scores), len(labels))
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.Slice(idx, func(a, b int) bool { return scores[idx[a]] < scores[idx[b]] })
	var rankSum float64
	var pos, neg int
	for i := 0; i < len(idx); {
		j := i
		for j < len(idx) && scores[idx[j]] == scores[idx[i]] {
			j++
		}
		avg := float64(i+j+1) / 2 // ranks i+1..j
		for _, k := range idx[i:j] {
			if labels[k] {
				rankSum += avg
			}
		}
		i = j
	}
	for _, l := range labels {
		if l {
			pos++
		} else {
			neg++
		}
	}
	if pos == 0 || neg == 0 {
		tb.Fatalf("auc: %d positives, %d negatives", pos, neg)
	}
	return (rankSum - float64(pos)*float64(pos+1)/2) / (float64(pos) * float64(neg))
}

// labels returns the churn labels of m.
func labels(m *snapshot.Month) []bool {
	y := make([]bool, len(m.Customers))
	for i, c := range m.Customers {
		y[i] = c.Churn
	}
	return y
}

// churnRate returns the share of churners in m.
func churnRate(m *snapshot.Month) float64 {
	n := 0
	for _, c := range m.Customers {
		if c.Churn {
			n++
		}
	}
	return float64(n) / float64(len(m.Customers))
}

// numCol returns the named column of m as numbers (booleans 0/1, missing
// values dropped).
func numCol(tb testing.TB, m *snapshot.Month, name string) []float64 {
	tb.Helper()
	col, ok := m.Column(name)
	if !ok || col.Num == nil {
		tb.Fatalf("no numeric column %q", name)
	}
	out := make([]float64, 0, len(col.Num))
	for _, v := range col.Num {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		sd += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(sd / float64(len(x)))
}

// columnDrift scores one drift column the way Evidently does for more than
// 1,000 reference rows: numerical columns with more than 5 distinct values
// by the Wasserstein distance over the reference's population std,
// everything else by the Jensen-Shannon distance (natural log) between
// value frequencies. Both drift at >= 0.1.
func columnDrift(tb testing.TB, ref, cur *snapshot.Month, name string) float64 {
	tb.Helper()
	rc, _ := ref.Column(name)
	cc, _ := cur.Column(name)
	if rc.Kind == snapshot.Numerical {
		r, c := numCol(tb, ref, name), numCol(tb, cur, name)
		distinct := map[float64]bool{}
		for _, v := range append(slices.Clone(r), c...) {
			distinct[v] = true
		}
		if len(distinct) > 5 {
			_, sd := meanSD(r)
			return wasserstein(r, c) / max(sd, 0.001)
		}
		return jensenShannon(toStrings(r), toStrings(c))
	}
	return jensenShannon(rc.Cat, cc.Cat)
}

func toStrings(x []float64) []string {
	out := make([]string, len(x))
	for i, v := range x {
		out[i] = string(snapshot.AppendFloat(nil, v))
	}
	return out
}

// wasserstein is the 1-D earth mover's distance between two samples: the
// integral of |F_a - F_b| over the merged support.
func wasserstein(a, b []float64) float64 {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	all := slices.Concat(a, b)
	slices.Sort(all)
	var d float64
	ia, ib := 0, 0
	for k := 0; k+1 < len(all); k++ {
		for ia < len(a) && a[ia] <= all[k] {
			ia++
		}
		for ib < len(b) && b[ib] <= all[k] {
			ib++
		}
		d += math.Abs(float64(ia)/float64(len(a))-float64(ib)/float64(len(b))) * (all[k+1] - all[k])
	}
	return d
}

// jensenShannon is the Jensen-Shannon distance between the value
// frequencies of a and b (natural log).
func jensenShannon(a, b []string) float64 {
	ca, cb := map[string]float64{}, map[string]float64{}
	for _, v := range a {
		ca[v]++
	}
	for _, v := range b {
		cb[v]++
	}
	keys := map[string]bool{}
	for k := range ca {
		keys[k] = true
	}
	for k := range cb {
		keys[k] = true
	}
	var js float64
	for k := range keys {
		p, q := ca[k]/float64(len(a)), cb[k]/float64(len(b))
		m := (p + q) / 2
		if p > 0 {
			js += p * math.Log(p/m) / 2
		}
		if q > 0 {
			js += q * math.Log(q/m) / 2
		}
	}
	return math.Sqrt(max(js, 0))
}

// driftColumns are the 14 features and the label.
var driftColumns = append(slices.Clone(snapshot.FeatureNames), snapshot.Label)

// drifted returns the drift columns of cur that drift from ref.
func drifted(tb testing.TB, ref, cur *snapshot.Month) []string {
	tb.Helper()
	var out []string
	for _, name := range driftColumns {
		if columnDrift(tb, ref, cur, name) >= 0.1 {
			out = append(out, name)
		}
	}
	return out
}

// labDir returns the lab's sample months (see snapshottest.SampleDir).
func labDir(tb testing.TB) string { tb.Helper(); return snapshottest.SampleDir(tb) }
