// Package training is the churn-specific glue around gbdt and metrics: the
// feature spec of the lab's 14 features, the dataset of a month's customers,
// and Train/Evaluate, which split a month by user hash
// (snapshot.IsValidation), fit a model on the train users and score it on
// the validation users. Pipeline steps and the CLI call Train and Evaluate;
// nothing here knows about storage or AWS.
package training

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/metrics"
	"github.com/churnops/churnops/internal/snapshot"
)

// NetServiceCategories are the categories of net_service in encoding order.
// The order is part of every model's spec: never reorder, only append.
var NetServiceCategories = []string{"DSL", "Fiber optic", "No"}

// Spec returns the feature spec of snapshot.FeatureNames, in that order:
// net_service is categorical (NetServiceCategories); booleans are numeric
// 0/1 with NaN for missing (plan_stream_* without internet service); all
// other features are numeric.
func Spec() []gbdt.Feature {
	spec := make([]gbdt.Feature, len(snapshot.FeatureNames))
	for i, name := range snapshot.FeatureNames {
		spec[i] = gbdt.Feature{Name: name}
		if name == "net_service" {
			spec[i].Categorical = true
			spec[i].Categories = append([]string(nil), NetServiceCategories...)
		}
	}
	return spec
}

// DatasetOf encodes customers as a gbdt dataset with Spec's columns and the
// churn label. A net_service outside NetServiceCategories (which snapshot
// validation does not let through) would be encoded as missing.
func DatasetOf(customers []snapshot.Customer) gbdt.Dataset {
	spec := Spec()
	d := gbdt.Dataset{Features: spec, Cols: make([][]float64, len(spec))}
	for j, f := range spec {
		col, ok := snapshot.ColumnOf(customers, f.Name)
		if !ok {
			panic("training: snapshot has no column " + f.Name) // FeatureNames and ColumnOf disagree
		}
		if f.Categorical {
			d.Cols[j] = make([]float64, len(customers))
			for i, s := range col.Cat {
				d.Cols[j][i] = categoryIndex(f.Categories, s)
			}
			continue
		}
		d.Cols[j] = col.Num
	}
	d.Label = make([]float64, len(customers))
	for i := range customers {
		if customers[i].Churn {
			d.Label[i] = 1
		}
	}
	return d
}

func categoryIndex(cats []string, s string) float64 {
	for k, c := range cats {
		if c == s {
			return float64(k)
		}
	}
	return math.NaN()
}

// Params are the training parameters of a churn model.
type Params struct {
	// GBDT are the learner's hyper-parameters: what the data and the
	// procedure are (class weights, bins, early stopping, seed). Its
	// capacity fields are overridden by Capacities when those are set.
	GBDT gbdt.Params
	// Capacities are the candidate capacities gbdt.Search tries, in order,
	// by early stopping on held-out train users.
	Capacities []gbdt.Capacity
	// Threshold is the decision threshold stored in the model and used for
	// F1, precision, recall and accuracy.
	Threshold float64
}

// DefaultParams returns the parameters churnops trains with: one recipe for
// a month of a few thousand customers (the lab's) and for millions.
//
// 20% of the train users (at most 50,000; stratified by label, drawn with
// the seed) are held out, and two capacities are tried on them by early
// stopping (50 rounds without improvement of the balanced log loss):
//
//  1. large trees (31 leaves of at least 20 users, learning rate 0.2, up to
//     60 rounds), the shape of scikit-learn's and LightGBM's defaults at
//     twice their pace: on a month of a million customers they still
//     improve at the last round, and fit it in about half the time
//     HistGradientBoosting's 100 rounds at 0.1 take, within 0.001 of its
//     AUC (bench-compare's scale mode);
//  2. depth-2 trees (at least 50 users per leaf, half the features per
//     tree, learning rate 0.05, up to 1,000 rounds): on a small, noisy
//     month such as the lab's, large trees overfit within a few rounds, and
//     these were the best of a 5-fold cross-validation over the lab months'
//     train users (bench/compare/tune).
//
// The second is only tried when the first stops improving before the last
// tenth of its rounds
// (gbdt.Search), and the lower hold-out loss wins. The winner then boosts
// best * hold-out / fit more rounds on all train users, hold-out included
// (gbdt.Params.ExtendOnAll), instead of being trained again from scratch.
// Classes are balanced (so 0.5 is a useful threshold for F1 and recall).
// `make bench-compare` (bench/compare) measures the recipe against
// scikit-learn, XGBoost and LightGBM on the lab's months and, with SCALE,
// on a generated month of any size.
func DefaultParams() Params {
	p := gbdt.DefaultParams()
	p.Balanced = true
	p.Subsample = 1
	p.EarlyStoppingRounds, p.EarlyStoppingFraction, p.EarlyStoppingMaxRows = 50, 0.2, 50_000
	p.Refit, p.ExtendOnAll = false, true
	caps := []gbdt.Capacity{
		{MaxLeaves: 31, MaxDepth: 0, LearningRate: 0.2, Rounds: 60, MinSamplesLeaf: 20, Lambda: 1, ColSample: 1},
		{MaxLeaves: 4, MaxDepth: 2, LearningRate: 0.05, Rounds: 1000, MinSamplesLeaf: 50, Lambda: 1, ColSample: 0.5},
	}
	// The base parameters are the last capacity, for callers that train
	// p.GBDT alone.
	p = caps[len(caps)-1].Apply(p)
	return Params{GBDT: p, Capacities: caps, Threshold: gbdt.DefaultThreshold}
}

// Metrics are the scores a training or evaluation run reports, with the
// names the pipeline's event contracts and the registry use.
type Metrics struct {
	AUC       float64 `json:"val_auc"`
	F1        float64 `json:"val_f1"`
	Accuracy  float64 `json:"val_acc"`
	Precision float64 `json:"val_precision"`
	Recall    float64 `json:"val_recall"`
	LogLoss   float64 `json:"val_logloss"`
	// TrainTimeS is the wall time of fitting the model, in seconds.
	TrainTimeS float64 `json:"train_time_s"`
	// TrainRows is the number of train users the model was fitted on.
	TrainRows int `json:"train_rows"`
	// ValRows is the number of validation users scored.
	ValRows int `json:"val_rows"`
}

// Map returns the metrics keyed by their JSON names, the form stored in a
// model artifact's Metrics.
func (m Metrics) Map() map[string]float64 {
	return map[string]float64{
		"val_auc": m.AUC, "val_f1": m.F1, "val_acc": m.Accuracy,
		"val_precision": m.Precision, "val_recall": m.Recall, "val_logloss": m.LogLoss,
		"train_time_s": m.TrainTimeS, "train_rows": float64(m.TrainRows), "val_rows": float64(m.ValRows),
	}
}

// Prediction is one validation user's label and score.
type Prediction struct {
	UserID string  `json:"user_id"`
	Label  int     `json:"label"`
	Score  float64 `json:"score"`
}

// Result is what Train and Evaluate produce.
type Result struct {
	// Model is the trained (Train) or evaluated (Evaluate) model. After
	// Train its Meta carries as_of, the month's fingerprint, the train time,
	// and its Metrics the validation metrics.
	Model       *gbdt.Model
	Metrics     Metrics
	Predictions []Prediction
	// Importance is each feature's mean absolute contribution to the
	// log-odds over the validation users (gbdt.Model.MeanAbsContributions),
	// by feature name: the model's global feature importance. Train
	// computes it and records it in the model's Meta; Evaluate returns the
	// evaluated model's (nil for a model trained before it was recorded).
	Importance map[string]float64
}

// Sentinel errors for months that cannot be trained on or evaluated.
var (
	// ErrNoTrainUsers: the month has no user in the train split.
	ErrNoTrainUsers = errors.New("training: no train users")
	// ErrNoValidationUsers: the month has no user in the validation split.
	ErrNoValidationUsers = errors.New("training: no validation users")
)

// Train fits a model on the month's train users (snapshot.Month.Split) and
// scores it on its validation users. Early stopping holds out part of the
// train users only. The model's Meta and Metrics are filled, ready to save.
func Train(m *snapshot.Month, p Params) (*Result, error) {
	return TrainContext(context.Background(), m, p)
}

// TrainContext is Train stopping with ctx's error once ctx ends.
func TrainContext(ctx context.Context, m *snapshot.Month, p Params) (*Result, error) {
	train, val := m.Split()
	if len(train) == 0 {
		return nil, ErrNoTrainUsers
	}
	if len(val) == 0 {
		return nil, ErrNoValidationUsers
	}
	d := DatasetOf(train)
	start := time.Now()
	model, err := FitContext(ctx, d, p)
	if err != nil {
		return nil, fmt.Errorf("training: fit on %d train users of %s: %w", len(train), asOf(m), err)
	}
	elapsed := time.Since(start).Seconds()
	model.Threshold = p.Threshold
	model.Meta.AsOf = asOf(m)
	model.Meta.SourceFingerprint = m.Fingerprint()
	model.Meta.TrainSeconds = elapsed
	model.Meta.TrainedAt = time.Now().UTC().Format(time.RFC3339)

	vd := DatasetOf(val)
	res, err := score(model, val, vd)
	if err != nil {
		return nil, fmt.Errorf("training: score validation users of %s: %w", asOf(m), err)
	}
	if res.Importance, err = Importance(model, vd); err != nil {
		return nil, fmt.Errorf("training: importance on validation users of %s: %w", asOf(m), err)
	}
	model.Meta.Importance = res.Importance
	res.Metrics.TrainTimeS = elapsed
	res.Metrics.TrainRows = len(train)
	model.Metrics = res.Metrics.Map()
	return res, nil
}

// Importance is model's mean absolute contribution of each feature over
// the rows of d, by feature name (see Result.Importance).
func Importance(model *gbdt.Model, d gbdt.Dataset) (map[string]float64, error) {
	imp, err := model.MeanAbsContributions(d.Cols)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(imp))
	for j, f := range model.Features() {
		out[f.Name] = imp[j]
	}
	return out, nil
}

// Fit is the model fit of Train, on an encoded dataset of train users:
// gbdt.Search over p.Capacities (gbdt.Train when there are none). It is
// what Train's train_time_s measures, and what benchmarks time.
func Fit(d gbdt.Dataset, p Params) (*gbdt.Model, error) {
	return FitContext(context.Background(), d, p)
}

// FitContext is Fit stopping with ctx's error, between two boosting rounds,
// once ctx ends.
func FitContext(ctx context.Context, d gbdt.Dataset, p Params) (*gbdt.Model, error) {
	return gbdt.SearchContext(ctx, d, p.GBDT, p.Capacities)
}

// Evaluate scores an existing model on the month's validation users — the
// same users Train validates on — so a Production model and a candidate are
// compared on users neither trained on. The model's spec must be Spec()
// (a *gbdt.FeatureMismatchError otherwise). TrainTimeS and TrainRows are
// copied from the model's metadata; the model itself is not modified.
func Evaluate(model *gbdt.Model, m *snapshot.Month) (*Result, error) {
	if err := model.CheckFeatures(Spec()); err != nil {
		return nil, fmt.Errorf("training: evaluate: %w", err)
	}
	_, val := m.Split()
	if len(val) == 0 {
		return nil, ErrNoValidationUsers
	}
	res, err := score(model, val, DatasetOf(val))
	if err != nil {
		return nil, fmt.Errorf("training: evaluate on validation users of %s: %w", asOf(m), err)
	}
	res.Importance = maps.Clone(model.Meta.Importance)
	res.Metrics.TrainTimeS = model.Meta.TrainSeconds
	res.Metrics.TrainRows = model.Meta.FitRows + model.Meta.HoldoutRows
	return res, nil
}

// score predicts the customers (d is DatasetOf(val)) and computes the
// validation metrics.
func score(model *gbdt.Model, val []snapshot.Customer, d gbdt.Dataset) (*Result, error) {
	scores, err := model.PredictColumns(d.Cols)
	if err != nil {
		return nil, err
	}
	threshold := model.Threshold
	mt, err := metrics.Compute(d.Label, scores, threshold)
	if err != nil {
		return nil, err
	}
	preds := make([]Prediction, len(val))
	for i := range val {
		preds[i] = Prediction{UserID: val[i].UserID, Label: int(d.Label[i]), Score: scores[i]}
	}
	return &Result{
		Model: model,
		Metrics: Metrics{
			AUC: mt.AUC, F1: mt.F1, Accuracy: mt.Accuracy, Precision: mt.Precision,
			Recall: mt.Recall, LogLoss: mt.LogLoss, ValRows: len(val),
		},
		Predictions: preds,
	}, nil
}

func asOf(m *snapshot.Month) string {
	if m.AsOf.IsZero() {
		return ""
	}
	return m.AsOf.Format(snapshot.DateLayout)
}

// WritePredictionsCSV writes predictions as CSV with the header
// user_id,label,score; scores are written in shortest exact form.
func WritePredictionsCSV(w io.Writer, preds []Prediction) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"user_id", "label", "score"}); err != nil {
		return fmt.Errorf("training: write predictions: %w", err)
	}
	for _, p := range preds {
		rec := []string{p.UserID, strconv.Itoa(p.Label), strconv.FormatFloat(p.Score, 'g', -1, 64)}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("training: write predictions: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("training: write predictions: %w", err)
	}
	return nil
}
