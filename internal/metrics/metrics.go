// Package metrics computes the binary-classification scores churnops reports
// for a model on validation users: ROC AUC (ties handled exactly as
// scikit-learn's roc_auc_score does), log loss (clipped as scikit-learn 1.2
// clips it), and accuracy, precision, recall and F1 at a decision threshold.
//
// Labels are 0/1 float64 values (the encoding gbdt.Dataset uses); scores are
// probabilities of the positive class. Degenerate inputs — empty slices,
// mismatched lengths, labels other than 0/1, NaN scores, a single class — are
// reported as errors wrapping the sentinels below, never as a silent NaN.
package metrics

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Sentinel errors, so callers can tell bad input from a degenerate split.
var (
	// ErrEmpty: no samples at all.
	ErrEmpty = errors.New("metrics: no samples")
	// ErrLength: labels and scores differ in length.
	ErrLength = errors.New("metrics: labels and scores differ in length")
	// ErrLabel: a label is not 0 or 1.
	ErrLabel = errors.New("metrics: label is not 0 or 1")
	// ErrScore: a score is NaN (or infinite, which no probability is).
	ErrScore = errors.New("metrics: score is NaN or infinite")
	// ErrOneClass: all labels are equal, so ROC AUC is undefined.
	ErrOneClass = errors.New("metrics: only one class present, ROC AUC is undefined")
)

// DefaultThreshold is the score at or above which a sample is predicted
// positive when no other threshold is chosen.
const DefaultThreshold = 0.5

// logLossEps is the clipping bound of scikit-learn 1.2's log_loss with its
// default eps="auto": the machine epsilon of float64.
const logLossEps = 0x1p-52

// Metrics are the scores of one set of predictions. The JSON names are
// neutral (no "val_" prefix) because the same struct scores validation,
// held-out or production data; callers prefix them where a contract wants it.
type Metrics struct {
	// AUC is the area under the ROC curve, threshold-free.
	AUC float64 `json:"auc"`
	// F1 is the harmonic mean of precision and recall at Threshold.
	F1 float64 `json:"f1"`
	// Accuracy is the share of samples classified correctly at Threshold.
	Accuracy float64 `json:"acc"`
	// Precision is TP/(TP+FP) at Threshold, 0 when nothing is predicted positive
	// (scikit-learn's zero_division default).
	Precision float64 `json:"precision"`
	// Recall is TP/(TP+FN) at Threshold.
	Recall float64 `json:"recall"`
	// LogLoss is the mean negative log-likelihood, probabilities clipped to
	// [eps, 1-eps] with eps the float64 machine epsilon.
	LogLoss float64 `json:"logloss"`
	// Threshold is the decision threshold the confusion-matrix scores used.
	Threshold float64 `json:"threshold"`
	// N, Positives are the sample and positive-label counts.
	N         int `json:"n"`
	Positives int `json:"positives"`
}

// Compute scores predictions against 0/1 labels at the given decision
// threshold: a sample is predicted positive when score >= threshold.
func Compute(labels, scores []float64, threshold float64) (Metrics, error) {
	pos, err := check(labels, scores)
	if err != nil {
		return Metrics{}, err
	}
	auc, err := AUC(labels, scores)
	if err != nil {
		return Metrics{}, err
	}
	ll, err := LogLoss(labels, scores)
	if err != nil {
		return Metrics{}, err
	}
	var tp, fp, tn, fn int
	for i, y := range labels {
		switch predicted := scores[i] >= threshold; {
		case predicted && y == 1:
			tp++
		case predicted:
			fp++
		case y == 1:
			fn++
		default:
			tn++
		}
	}
	m := Metrics{
		AUC:       auc,
		LogLoss:   ll,
		Accuracy:  float64(tp+tn) / float64(len(labels)),
		Threshold: threshold,
		N:         len(labels),
		Positives: pos,
	}
	if tp+fp > 0 {
		m.Precision = float64(tp) / float64(tp+fp)
	}
	if tp+fn > 0 {
		m.Recall = float64(tp) / float64(tp+fn)
	}
	if 2*tp+fp+fn > 0 {
		m.F1 = float64(2*tp) / float64(2*tp+fp+fn)
	}
	return m, nil
}

// BoolLabels converts boolean labels to the 0/1 encoding the functions here take.
func BoolLabels(b []bool) []float64 {
	out := make([]float64, len(b))
	for i, v := range b {
		if v {
			out[i] = 1
		}
	}
	return out
}

// check validates inputs and returns the number of positive labels.
func check(labels, scores []float64) (int, error) {
	if len(labels) != len(scores) {
		return 0, fmt.Errorf("%w: %d labels, %d scores", ErrLength, len(labels), len(scores))
	}
	if len(labels) == 0 {
		return 0, ErrEmpty
	}
	pos := 0
	for i, y := range labels {
		switch y {
		case 1:
			pos++
		case 0:
		default:
			return 0, fmt.Errorf("%w: labels[%d] = %v", ErrLabel, i, y)
		}
		if s := scores[i]; math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, fmt.Errorf("%w: scores[%d] = %v", ErrScore, i, s)
		}
	}
	return pos, nil
}

// AUC returns the area under the ROC curve. Tied scores form a single
// threshold, and the curve is integrated with the trapezoid rule over the
// distinct thresholds, exactly as scikit-learn's roc_auc_score does; the area
// is accumulated in integer counts so no rounding builds up.
func AUC(labels, scores []float64) (float64, error) {
	pos, err := check(labels, scores)
	if err != nil {
		return 0, err
	}
	neg := len(labels) - pos
	if pos == 0 || neg == 0 {
		return 0, fmt.Errorf("%w: %d positives, %d negatives", ErrOneClass, pos, neg)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		// Descending by score; index order only breaks ties deterministically.
		if scores[a] != scores[b] {
			if scores[a] > scores[b] {
				return -1
			}
			return 1
		}
		return a - b
	})
	// Twice the area in units of (1 negative) x (1 positive): each step of
	// fp false positives while tp rises from tp0 to tp1 adds fp*(tp0+tp1).
	var area2 float64
	var tp, fp int
	for i := 0; i < len(idx); {
		j := i
		var dtp, dfp int
		for ; j < len(idx) && scores[idx[j]] == scores[idx[i]]; j++ {
			if labels[idx[j]] == 1 {
				dtp++
			} else {
				dfp++
			}
		}
		area2 += float64(dfp) * float64(2*tp+dtp)
		tp += dtp
		fp += dfp
		i = j
	}
	return area2 / (2 * float64(pos) * float64(neg)), nil
}

// LogLoss returns the mean binary cross-entropy of the scores, each clipped to
// [eps, 1-eps] (eps = float64 machine epsilon) as scikit-learn 1.2 clips them,
// so a confident wrong prediction costs about 36 nats rather than +Inf.
func LogLoss(labels, scores []float64) (float64, error) {
	if _, err := check(labels, scores); err != nil {
		return 0, err
	}
	var sum float64
	for i, y := range labels {
		p := min(max(scores[i], logLossEps), 1-logLossEps)
		if y == 1 {
			sum -= math.Log(p)
		} else {
			sum -= math.Log(1 - p)
		}
	}
	return sum / float64(len(labels)), nil
}
