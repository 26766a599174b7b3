package metrics_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/churnops/churnops/internal/metrics"
)

type sklearnCase struct {
	Name      string    `json:"name"`
	Labels    []float64 `json:"labels"`
	Scores    []float64 `json:"scores"`
	Threshold float64   `json:"threshold"`
	AUC       float64   `json:"auc"`
	LogLoss   float64   `json:"logloss"`
	Accuracy  float64   `json:"accuracy"`
	Precision float64   `json:"precision"`
	Recall    float64   `json:"recall"`
	F1        float64   `json:"f1"`
}

func loadCases(t *testing.T) []sklearnCase {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "sklearn_cases.json"))
	if err != nil {
		t.Fatalf("read testdata: %v", err)
	}
	var f struct {
		Cases []sklearnCase `json:"cases"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("decode testdata: %v", err)
	}
	if len(f.Cases) == 0 {
		t.Fatal("no cases in testdata")
	}
	return f.Cases
}

func near(t *testing.T, what string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-9 || math.IsNaN(got) {
		t.Errorf("%s = %.17g, scikit-learn says %.17g", what, got, want)
	}
}

// TestComputeMatchesSklearn compares every metric with the values
// scikit-learn 1.2.1 computed on the same inputs (testdata/gen_sklearn.py).
func TestComputeMatchesSklearn(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			m, err := metrics.Compute(c.Labels, c.Scores, c.Threshold)
			if err != nil {
				t.Fatalf("Compute: %v", err)
			}
			near(t, "AUC", m.AUC, c.AUC)
			near(t, "LogLoss", m.LogLoss, c.LogLoss)
			near(t, "Accuracy", m.Accuracy, c.Accuracy)
			near(t, "Precision", m.Precision, c.Precision)
			near(t, "Recall", m.Recall, c.Recall)
			near(t, "F1", m.F1, c.F1)
			if m.N != len(c.Labels) {
				t.Errorf("N = %d, want %d", m.N, len(c.Labels))
			}
		})
	}
}

// TestAUCInvariantToOrder checks that shuffling samples (which reorders ties)
// leaves the AUC unchanged, as a tie-aware AUC must.
func TestAUCInvariantToOrder(t *testing.T) {
	for _, c := range loadCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			n := len(c.Labels)
			l, s := make([]float64, n), make([]float64, n)
			for i := range n {
				j := (i*7919 + 13) % n // a permutation when gcd(7919, n) = 1
				if n%7919 == 0 {
					j = n - 1 - i
				}
				l[i], s[i] = c.Labels[j], c.Scores[j]
			}
			a, err := metrics.AUC(l, s)
			if err != nil {
				t.Fatal(err)
			}
			near(t, "AUC shuffled", a, c.AUC)
		})
	}
}

func TestDegenerateInputs(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name   string
		labels []float64
		scores []float64
		want   error
	}{
		{"empty", nil, nil, metrics.ErrEmpty},
		{"length mismatch", []float64{0, 1}, []float64{0.5}, metrics.ErrLength},
		{"only negatives", []float64{0, 0, 0}, []float64{0.1, 0.2, 0.3}, metrics.ErrOneClass},
		{"only positives", []float64{1, 1}, []float64{0.1, 0.2}, metrics.ErrOneClass},
		{"NaN score", []float64{0, 1}, []float64{0.1, nan}, metrics.ErrScore},
		{"infinite score", []float64{0, 1}, []float64{math.Inf(1), 0.3}, metrics.ErrScore},
		{"label 2", []float64{0, 2}, []float64{0.1, 0.2}, metrics.ErrLabel},
		{"NaN label", []float64{nan, 1}, []float64{0.1, 0.2}, metrics.ErrLabel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := metrics.Compute(tt.labels, tt.scores, metrics.DefaultThreshold)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Compute error = %v, want %v", err, tt.want)
			}
			if _, err := metrics.AUC(tt.labels, tt.scores); !errors.Is(err, tt.want) {
				t.Errorf("AUC error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestBoolLabels(t *testing.T) {
	got := metrics.BoolLabels([]bool{true, false, true})
	want := []float64{1, 0, 1}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("BoolLabels = %v, want %v", got, want)
		}
	}
}

func BenchmarkAUC(b *testing.B) {
	n := 1761 // about one month's validation users
	labels, scores := make([]float64, n), make([]float64, n)
	for i := range n {
		scores[i] = float64((i*2654435761)%1000) / 1000
		if (i*40503)%100 < 26+int(scores[i]*30) {
			labels[i] = 1
		}
	}
	for b.Loop() {
		if _, err := metrics.AUC(labels, scores); err != nil {
			b.Fatal(err)
		}
	}
}
