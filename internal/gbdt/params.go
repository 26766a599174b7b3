package gbdt

import (
	"errors"
	"fmt"
)

// Params are the training hyper-parameters. They are stored in the artifact
// so that a model records how it was made. Start from DefaultParams: the zero
// value is not valid.
type Params struct {
	// Rounds is the maximum number of boosting rounds (trees).
	Rounds int `json:"rounds"`
	// LearningRate (shrinkage) scales every tree's output.
	LearningRate float64 `json:"learning_rate"`
	// MaxLeaves bounds the leaves of a tree grown leaf-wise; 0 = no bound
	// (then MaxDepth must bound the tree).
	MaxLeaves int `json:"max_leaves"`
	// MaxDepth bounds the depth of a tree (root = depth 0); 0 = no bound.
	MaxDepth int `json:"max_depth"`
	// MinChildWeight is the least sum of hessians a child may have.
	MinChildWeight float64 `json:"min_child_weight"`
	// MinSamplesLeaf is the least number of training rows a child may have.
	MinSamplesLeaf int `json:"min_samples_leaf"`
	// Lambda is the L2 penalty on leaf values.
	Lambda float64 `json:"lambda"`
	// MinSplitGain is the least loss reduction a split must bring.
	MinSplitGain float64 `json:"min_split_gain"`
	// Subsample is the fraction of rows drawn (without replacement,
	// Bernoulli) for each tree; 1 = all rows.
	Subsample float64 `json:"subsample"`
	// ColSample is the fraction of features drawn for each tree; 1 = all.
	ColSample float64 `json:"colsample"`
	// MaxBin is the largest number of value bins per numeric feature (2..255).
	MaxBin int `json:"max_bin"`
	// ScalePosWeight multiplies the weight of positive rows (1 = none).
	ScalePosWeight float64 `json:"scale_pos_weight"`
	// Balanced overrides ScalePosWeight with negatives/positives of the
	// training rows, so both classes weigh the same in total.
	Balanced bool `json:"balanced"`
	// MaxCatOneHot: categorical features with at most this many categories
	// are split one-vs-rest; larger ones by sorted gradient statistics.
	MaxCatOneHot int `json:"max_cat_one_hot"`
	// CatSmooth is added to the hessian sum when ordering categories by
	// gradient ratio, damping rare categories.
	CatSmooth float64 `json:"cat_smooth"`
	// EarlyStoppingRounds stops training when the hold-out's log loss
	// (weighted like training, class weights included) has not improved for
	// this many rounds, keeping the trees up to the best round; 0 disables
	// early stopping (and the hold-out), training exactly Rounds trees on
	// all rows.
	EarlyStoppingRounds int `json:"early_stopping_rounds"`
	// EarlyStoppingFraction is the share of the training rows (stratified by
	// label, drawn with Seed) held out to decide when to stop.
	EarlyStoppingFraction float64 `json:"early_stopping_fraction"`
	// Refit, with early stopping, retrains on all rows (hold-out included)
	// for the number of rounds early stopping found best, scaled up by
	// 1/(1-EarlyStoppingFraction) for the larger sample, so the final model
	// sees every training row. It costs a second, shorter training run.
	Refit bool `json:"refit"`
	// Seed drives row/column subsampling and the early-stopping hold-out.
	Seed uint64 `json:"seed"`
	// ExtendOnAll, with early stopping, keeps the trees up to the best
	// round and then boosts round(best * hold-out rows / fit rows) more
	// rounds on all rows, hold-out included: the final model learns from
	// every training row without being trained again from scratch (Refit),
	// for a fraction of the rounds.
	ExtendOnAll bool `json:"extend_on_all,omitempty"`
	// EarlyStoppingMaxRows caps the hold-out (0 = no cap). Fifty thousand
	// rows measure a log loss to the third decimal; on a month of millions
	// the rest is better used for fitting, and each round's hold-out
	// scoring stays cheap.
	EarlyStoppingMaxRows int `json:"early_stopping_max_rows,omitempty"`
}

// Capacity is how much a model can fit: the shape of its trees, how fast it
// learns, how many rounds it may take and how much it is regularised. It is
// what Search chooses by early stopping; the other Params describe the data
// and the procedure, and are shared by every candidate.
type Capacity struct {
	MaxLeaves      int     `json:"max_leaves"`
	MaxDepth       int     `json:"max_depth"`
	LearningRate   float64 `json:"learning_rate"`
	Rounds         int     `json:"rounds"`
	MinSamplesLeaf int     `json:"min_samples_leaf"`
	Lambda         float64 `json:"lambda"`
	ColSample      float64 `json:"colsample"`
}

// Candidate is one capacity Search tried and what early stopping found.
type Candidate struct {
	Capacity
	BestIteration  int     `json:"best_iteration"`
	HoldoutLogLoss float64 `json:"holdout_logloss"`
}

// Apply returns p with c's capacity.
func (c Capacity) Apply(p Params) Params {
	p.MaxLeaves, p.MaxDepth, p.LearningRate, p.Rounds = c.MaxLeaves, c.MaxDepth, c.LearningRate, c.Rounds
	p.MinSamplesLeaf, p.Lambda, p.ColSample = c.MinSamplesLeaf, c.Lambda, c.ColSample
	return p
}

// capacityOf is p's capacity.
func capacityOf(p *Params) Capacity {
	return Capacity{
		MaxLeaves: p.MaxLeaves, MaxDepth: p.MaxDepth, LearningRate: p.LearningRate, Rounds: p.Rounds,
		MinSamplesLeaf: p.MinSamplesLeaf, Lambda: p.Lambda, ColSample: p.ColSample,
	}
}

// DefaultParams returns parameters that suit tabular sets of a few thousand
// to a few hundred thousand rows: shallow, regularised, leaf-wise trees with
// a small learning rate and early stopping.
func DefaultParams() Params {
	return Params{
		Rounds:                1000,
		LearningRate:          0.05,
		MaxLeaves:             15,
		MaxDepth:              4,
		MinChildWeight:        1,
		MinSamplesLeaf:        20,
		Lambda:                1,
		MinSplitGain:          0,
		Subsample:             0.8,
		ColSample:             0.8,
		MaxBin:                255,
		ScalePosWeight:        1,
		Balanced:              false,
		MaxCatOneHot:          4,
		CatSmooth:             10,
		EarlyStoppingRounds:   50,
		EarlyStoppingFraction: 0.2,
		Refit:                 false,
		Seed:                  1,
	}
}

// ErrInvalidParams is wrapped by every parameter validation error.
var ErrInvalidParams = errors.New("gbdt: invalid parameters")

// Validate reports the first out-of-range parameter.
func (p Params) Validate() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, a...))
	}
	switch {
	case p.Rounds < 1:
		return bad("rounds = %d, want >= 1", p.Rounds)
	case !(p.LearningRate > 0 && p.LearningRate <= 1):
		return bad("learning_rate = %v, want in (0, 1]", p.LearningRate)
	case p.MaxLeaves < 0 || p.MaxLeaves == 1:
		return bad("max_leaves = %d, want 0 (unbounded) or >= 2", p.MaxLeaves)
	case p.MaxDepth < 0:
		return bad("max_depth = %d, want >= 0", p.MaxDepth)
	case p.MaxLeaves == 0 && p.MaxDepth == 0:
		return bad("max_leaves and max_depth are both unbounded")
	case !(p.MinChildWeight >= 0):
		return bad("min_child_weight = %v, want >= 0", p.MinChildWeight)
	case p.MinSamplesLeaf < 1:
		return bad("min_samples_leaf = %d, want >= 1", p.MinSamplesLeaf)
	case !(p.Lambda >= 0):
		return bad("lambda = %v, want >= 0", p.Lambda)
	case !(p.MinSplitGain >= 0):
		return bad("min_split_gain = %v, want >= 0", p.MinSplitGain)
	case !(p.Subsample > 0 && p.Subsample <= 1):
		return bad("subsample = %v, want in (0, 1]", p.Subsample)
	case !(p.ColSample > 0 && p.ColSample <= 1):
		return bad("colsample = %v, want in (0, 1]", p.ColSample)
	case p.MaxBin < 2 || p.MaxBin > 255:
		return bad("max_bin = %d, want in [2, 255]", p.MaxBin)
	case !(p.ScalePosWeight > 0):
		return bad("scale_pos_weight = %v, want > 0", p.ScalePosWeight)
	case p.MaxCatOneHot < 0:
		return bad("max_cat_one_hot = %d, want >= 0", p.MaxCatOneHot)
	case !(p.CatSmooth >= 0):
		return bad("cat_smooth = %v, want >= 0", p.CatSmooth)
	case p.EarlyStoppingRounds < 0:
		return bad("early_stopping_rounds = %d, want >= 0", p.EarlyStoppingRounds)
	case p.EarlyStoppingRounds > 0 && !(p.EarlyStoppingFraction > 0 && p.EarlyStoppingFraction < 1):
		return bad("early_stopping_fraction = %v, want in (0, 1)", p.EarlyStoppingFraction)
	case p.EarlyStoppingMaxRows < 0:
		return bad("early_stopping_max_rows = %d, want >= 0", p.EarlyStoppingMaxRows)
	}
	return nil
}
