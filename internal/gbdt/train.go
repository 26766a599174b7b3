package gbdt

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
)

// Meta records how a model was trained. Train fills the fields it knows and
// leaves wall-clock ones (TrainSeconds, TrainedAt) and the caller's
// provenance (AsOf, SourceFingerprint) empty, so that the same inputs give
// byte-identical artifacts; callers stamp those before saving.
type Meta struct {
	// Rows is the number of rows given to Train.
	Rows int `json:"rows"`
	// Positives is the number of positive labels among them.
	Positives int `json:"positives"`
	// FitRows and HoldoutRows split Rows for early stopping (HoldoutRows = 0
	// without it). With Refit the final trees were fitted on all Rows.
	FitRows     int `json:"fit_rows"`
	HoldoutRows int `json:"holdout_rows"`
	// ScalePosWeight is the positive-class weight actually applied
	// (negatives/positives when Params.Balanced).
	ScalePosWeight float64 `json:"scale_pos_weight"`
	// BestIteration is the number of rounds early stopping kept (before any
	// refit scaling); Trees is the number of trees in the model.
	BestIteration int `json:"best_iteration"`
	Trees         int `json:"trees"`
	// HoldoutLogLoss is the weighted log loss on the hold-out at
	// BestIteration (0 without early stopping).
	HoldoutLogLoss float64 `json:"holdout_logloss,omitempty"`
	// Seed is Params.Seed, repeated here for provenance at a glance.
	Seed uint64 `json:"seed"`
	// DataSHA256 is a hash of the training dataset (spec, cells, labels,
	// weights): two models with the same hash saw the same data.
	DataSHA256 string `json:"data_sha256"`
	// AsOf is the caller's date of the data (e.g. a snapshot's as_of).
	AsOf string `json:"as_of,omitempty"`
	// SourceFingerprint is the caller's fingerprint of the source data.
	SourceFingerprint string `json:"source_fingerprint,omitempty"`
	// TrainSeconds is the wall time of training, set by the caller.
	TrainSeconds float64 `json:"train_seconds,omitempty"`
	// TrainedAt is when training ran (RFC 3339), set by the caller.
	TrainedAt string `json:"trained_at,omitempty"`
}

// Train fits a gradient-boosted ensemble to d with parameters p. It is
// deterministic: the same dataset, parameters and seed give the same model.
func Train(d Dataset, p Params) (*Model, error) {
	return TrainContext(context.Background(), d, p)
}

// TrainContext is Train stopping with ctx's error, between two boosting
// rounds, once ctx ends (a Ctrl-C, a Lambda's deadline).
func TrainContext(ctx context.Context, d Dataset, p Params) (*Model, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	n := d.Rows()
	b := newBinned(&d, p.MaxBin)

	var pos int
	for _, y := range d.Label {
		if y == 1 {
			pos++
		}
	}
	spw := p.ScalePosWeight
	if p.Balanced {
		spw = float64(n-pos) / float64(pos)
	}
	w := make([]float64, n)
	for i, y := range d.Label {
		w[i] = 1
		if d.Weight != nil {
			w[i] = d.Weight[i]
		}
		if y == 1 {
			w[i] *= spw
		}
	}

	rng := &splitmix{s: p.Seed}
	all := make([]int32, n)
	for i := range all {
		all[i] = int32(i)
	}
	fit, hold := all, []int32(nil)
	if p.EarlyStoppingRounds > 0 {
		fit, hold = stratifiedSplit(d.Label, p.EarlyStoppingFraction, rng)
	}

	bo := &booster{ctx: ctx, p: &p, b: b, label: d.Label, w: w, rng: rng, cat: make([]bool, len(d.Features))}
	for j, f := range d.Features {
		bo.cat[j] = f.Categorical
	}
	base := baseScore(d.Label, w, fit)
	trees, best, bestLoss := bo.run(fit, hold, base, p.Rounds)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	meta := Meta{
		Rows: n, Positives: pos, FitRows: len(fit), HoldoutRows: len(hold),
		ScalePosWeight: spw, BestIteration: best, Seed: p.Seed,
		DataSHA256: datasetHash(&d),
	}
	if len(hold) > 0 {
		meta.HoldoutLogLoss = bestLoss
		if p.Refit {
			rounds := max(1, int(math.Round(float64(best)/(1-p.EarlyStoppingFraction))))
			base = baseScore(d.Label, w, all)
			trees, _, _ = bo.run(all, nil, base, rounds)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	meta.Trees = len(trees)
	return newModel(d.Features, b, base, trees, p, meta), nil
}

// stratifiedSplit draws round(frac * count) rows of each class into the
// hold-out; both parts are returned in ascending row order.
func stratifiedSplit(label []float64, frac float64, rng *splitmix) (fit, hold []int32) {
	var cls [2][]int32
	for i, y := range label {
		c := int(y)
		cls[c] = append(cls[c], int32(i))
	}
	for _, rows := range cls {
		shuffle(rng, rows)
		k := int(math.Round(frac * float64(len(rows))))
		k = min(max(k, 1), len(rows)-1)
		if len(rows) < 2 {
			k = 0
		}
		hold = append(hold, rows[:k]...)
		fit = append(fit, rows[k:]...)
	}
	slices.Sort(fit)
	slices.Sort(hold)
	return fit, hold
}

// baseScore is the log-odds of the weighted positive rate of rows: the
// best constant model, where boosting starts.
func baseScore(label, w []float64, rows []int32) float64 {
	var sp, sn float64
	for _, r := range rows {
		if label[r] == 1 {
			sp += w[r]
		} else {
			sn += w[r]
		}
	}
	if sp <= 0 || sn <= 0 {
		return 0
	}
	return math.Log(sp / sn)
}

// booster runs boosting rounds over a binned dataset.
type booster struct {
	ctx   context.Context // run stops at the next round once it ends
	p     *Params
	b     *binned
	label []float64
	w     []float64
	cat   []bool
	rng   *splitmix
}

// run boosts up to rounds trees on fit rows. With hold-out rows it stops
// when their weighted log loss has not improved for EarlyStoppingRounds and
// returns the trees up to the best round, that round, and its loss.
func (bo *booster) run(fit, hold []int32, base float64, rounds int) ([]ttree, int, float64) {
	p := bo.p
	n := len(bo.label)
	raw := make([]float64, n)
	for _, r := range fit {
		raw[r] = base
	}
	for _, r := range hold {
		raw[r] = base
	}
	g := &grower{p: p, b: bo.b, cat: bo.cat, grad: make([]gradPair, n)}
	nf := len(bo.b.cols)
	allFeats := make([]int, nf)
	for j := range allFeats {
		allFeats[j] = j
	}
	ncol := max(1, int(math.Round(p.ColSample*float64(nf))))
	sample := make([]int32, 0, len(fit))

	var trees []ttree
	best, bestLoss, since := 0, math.Inf(1), 0
	for it := 0; it < rounds && bo.ctx.Err() == nil; it++ {
		for _, r := range fit {
			pr := sigmoid(raw[r])
			w := bo.w[r]
			g.grad[r] = gradPair{g: (pr - bo.label[r]) * w, h: max(pr*(1-pr), 1e-16) * w}
		}
		rows := fit
		if p.Subsample < 1 {
			sample = sample[:0]
			for _, r := range fit {
				if bo.rng.float() < p.Subsample {
					sample = append(sample, r)
				}
			}
			rows = sample
		}
		g.feats = allFeats
		if ncol < nf {
			perm := slices.Clone(allFeats)
			shuffle(bo.rng, perm)
			g.feats = perm[:ncol]
			slices.Sort(g.feats)
		}
		t := g.grow(rows)
		trees = append(trees, t)
		if len(rows) == len(fit) {
			g.addLeafValues(raw) // every fit row is in a leaf of t
		} else {
			for _, r := range fit {
				raw[r] += t.predict(bo.b, r)
			}
		}
		if len(hold) == 0 {
			best = len(trees)
			continue
		}
		var loss, wsum float64
		for _, r := range hold {
			raw[r] += t.predict(bo.b, r)
			loss += bo.w[r] * logLoss(bo.label[r], raw[r])
			wsum += bo.w[r]
		}
		loss /= wsum
		if loss < bestLoss {
			best, bestLoss, since = len(trees), loss, 0
		} else if since++; since >= p.EarlyStoppingRounds {
			break
		}
	}
	if len(hold) == 0 {
		return trees, best, 0
	}
	best = max(best, 1) // a non-finite hold-out loss never improves; keep one tree
	return trees[:best], best, bestLoss
}

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// logLoss is the log loss of raw score x for label y, computed stably.
func logLoss(y, x float64) float64 {
	// -[y log σ(x) + (1-y) log(1-σ(x))] = log(1+e^x) - y x
	if x > 0 {
		return x + math.Log1p(math.Exp(-x)) - y*x
	}
	return math.Log1p(math.Exp(x)) - y*x
}

// datasetHash fingerprints a dataset (spec, cells, labels, weights).
func datasetHash(d *Dataset) string {
	h := sha256.New()
	var buf [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		h.Write(buf[:])
	}
	for _, f := range d.Features {
		fmt.Fprintf(h, "%q %t %q\n", f.Name, f.Categorical, f.Categories)
	}
	for _, col := range d.Cols {
		for _, v := range col {
			put(v)
		}
	}
	for _, v := range d.Label {
		put(v)
	}
	for _, v := range d.Weight {
		put(v)
	}
	return hex.EncodeToString(h.Sum(nil))
}
