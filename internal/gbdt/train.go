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
	// without it). With Refit the final trees were fitted on all Rows; with
	// ExtendOnAll the trees after BestIteration were.
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
	// Candidates are the capacities Search tried, in order, with what early
	// stopping found for each; the model is the one with the lowest loss.
	Candidates []Candidate `json:"candidates,omitempty"`
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
	// Importance is each feature's mean absolute contribution to the
	// log-odds (MeanAbsContributions) on the caller's validation rows, by
	// feature name, set by the caller; absent in models trained before it
	// was recorded.
	Importance map[string]float64 `json:"importance,omitempty"`
}

// Train fits a gradient-boosted ensemble to d with parameters p. It is
// deterministic: the same dataset, parameters and seed give the same model,
// byte for byte, whatever GOMAXPROCS is (see parallel.go).
func Train(d Dataset, p Params) (*Model, error) {
	return SearchContext(context.Background(), d, p, nil)
}

// TrainContext is Train stopping with ctx's error, between two boosting
// rounds, once ctx ends (a Ctrl-C, a Lambda's deadline).
func TrainContext(ctx context.Context, d Dataset, p Params) (*Model, error) {
	return SearchContext(ctx, d, p, nil)
}

// prepared is a dataset ready for boosting: rows reordered so that the fit
// rows come first (in their original order) and the hold-out rows after
// them, binned, with weights.
type prepared struct {
	b        *binned
	label, w []float64
	nfit     int // rows [0, nfit) fit, [nfit, n) are held out
	pos      int
	spw      float64
}

func prepare(d *Dataset, p *Params, rng *splitmix) *prepared {
	n := d.Rows()
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
	order := make([]int32, 0, n)
	nfit := n
	if p.EarlyStoppingRounds > 0 {
		frac := p.EarlyStoppingFraction
		if p.EarlyStoppingMaxRows > 0 {
			frac = min(frac, float64(p.EarlyStoppingMaxRows)/float64(n))
		}
		fit, hold := stratifiedSplit(d.Label, frac, rng)
		order = append(append(order, fit...), hold...)
		nfit = len(fit)
	} else {
		for i := range n {
			order = append(order, int32(i))
		}
	}
	pr := &prepared{label: make([]float64, n), w: make([]float64, n), nfit: nfit, pos: pos, spw: spw}
	for k, i := range order {
		y := d.Label[i]
		pr.label[k] = y
		w := 1.0
		if d.Weight != nil {
			w = d.Weight[i]
		}
		if y == 1 {
			w *= spw
		}
		pr.w[k] = w
	}
	pr.b = newBinned(d, p.MaxBin, order)
	return pr
}

// Search fits one model per capacity in caps, in order, on the same rows,
// bins and early-stopping hold-out, and returns the one whose hold-out loss
// is lowest. Each capacity sets the shape of the trees and the pace of
// boosting (Capacity), the rest of p is shared. It goes down the list only
// while the candidates stop early: a candidate whose hold-out loss still
// improved in the last tenth of its rounds has not used up the data, and a
// smaller one would only be slower to fit it (the next is tried when
// best iteration <= 90% of Rounds). With no caps it trains p alone (Train).
//
// The winner's Params are p with its capacity; Meta.Candidates records
// every capacity tried. With ExtendOnAll the winner then boosts more rounds
// on all rows, hold-out included (Params.ExtendOnAll), rather than being
// trained again from scratch.
func Search(d Dataset, p Params, caps []Capacity) (*Model, error) {
	return SearchContext(context.Background(), d, p, caps)
}

// SearchContext is Search stopping with ctx's error, between two boosting
// rounds, once ctx ends (a Ctrl-C, a Lambda's deadline).
func SearchContext(ctx context.Context, d Dataset, p Params, caps []Capacity) (*Model, error) {
	cands := []Params{p}
	if len(caps) > 0 {
		cands = cands[:0]
		for _, c := range caps {
			cands = append(cands, c.Apply(p))
		}
	}
	for _, c := range cands {
		if err := c.Validate(); err != nil {
			return nil, err
		}
	}
	if len(caps) > 0 && p.EarlyStoppingRounds == 0 {
		return nil, fmt.Errorf("%w: a capacity search needs early stopping", ErrInvalidParams)
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	rng := &splitmix{s: p.Seed}
	pr := prepare(&d, &p, rng)
	n := len(pr.label)
	cat := make([]bool, len(d.Features))
	for j, f := range d.Features {
		cat[j] = f.Categorical
	}

	var best *boostRun
	var tried []Candidate
	for k := range cands {
		c := &cands[k]
		// Every candidate starts from the same random state, so it trains
		// as Train alone would with its capacity.
		bo := &booster{ctx: ctx, p: c, pr: pr, cat: cat, rng: &splitmix{s: rng.s}}
		r := bo.run(c.Rounds)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		r.p = c
		tried = append(tried, Candidate{Capacity: capacityOf(c), BestIteration: r.best, HoldoutLogLoss: r.bestLoss})
		if best == nil || r.bestLoss < best.bestLoss {
			best = r
		}
		if pr.nfit == n || 10*r.best > 9*c.Rounds {
			break
		}
	}
	p = *best.p
	meta := Meta{
		Rows: n, Positives: pr.pos, FitRows: pr.nfit, HoldoutRows: n - pr.nfit,
		ScalePosWeight: pr.spw, BestIteration: best.best, Seed: p.Seed,
		DataSHA256: datasetHash(&d),
	}
	if len(caps) > 0 {
		meta.Candidates = tried
	}
	trees := best.trees
	base := best.base
	if pr.nfit < n {
		meta.HoldoutLogLoss = best.bestLoss
		switch {
		case p.Refit:
			// The former recipe: train again on all rows from scratch.
			rounds := max(1, int(math.Round(float64(best.best)/(1-p.EarlyStoppingFraction))))
			all := &prepared{b: pr.b, label: pr.label, w: pr.w, nfit: n, pos: pr.pos, spw: pr.spw}
			bo := &booster{ctx: ctx, p: &p, pr: all, cat: cat, rng: best.bo.rng}
			r := bo.run(rounds)
			trees, base = r.trees, r.base
		case p.ExtendOnAll:
			more := int(math.Round(float64(best.best) * float64(n-pr.nfit) / float64(pr.nfit)))
			trees = best.extend(more)
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	meta.Trees = len(trees)
	return newModel(d.Features, pr.b, base, trees, p, meta), nil
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

// baseScore is the log-odds of the weighted positive rate of rows [0, n):
// the best constant model, where boosting starts.
func baseScore(label, w []float64, n int) float64 {
	var sp, sn float64
	for r := range n {
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

// booster runs boosting rounds over a prepared dataset.
type booster struct {
	ctx context.Context // run and extend stop at the next round once it ends
	p   *Params
	pr  *prepared
	cat []bool
	rng *splitmix
	g   *grower
	raw []float64 // log-odds of every row so far
	// sample holds the rows of a round's tree when rows are subsampled.
	sample []int32
	feats  []int
}

// boostRun is what a booster's run found: the trees up to the best round,
// that round, and the hold-out loss there.
type boostRun struct {
	bo       *booster
	p        *Params
	trees    []ttree
	all      []ttree // every tree grown, past the best round too
	base     float64
	best     int
	bestLoss float64
}

// run boosts up to rounds trees on the fit rows. With hold-out rows it
// stops when their weighted log loss has not improved for
// EarlyStoppingRounds, and keeps the trees up to the best round.
func (bo *booster) run(rounds int) *boostRun {
	pr, p := bo.pr, bo.p
	n, nfit := len(pr.label), pr.nfit
	base := baseScore(pr.label, pr.w, nfit)
	bo.raw = make([]float64, n)
	for i := range bo.raw {
		bo.raw[i] = base
	}
	bo.g = &grower{p: p, b: pr.b, cat: bo.cat, grad: make([]gradPair, nfit)}
	r := &boostRun{bo: bo, p: p, base: base, bestLoss: math.Inf(1)}
	since := 0
	for range rounds {
		if bo.ctx.Err() != nil {
			break // the caller returns ctx's error
		}
		t := bo.round(nfit)
		r.all = append(r.all, t)
		if nfit == n {
			r.best = len(r.all)
			continue
		}
		loss := bo.holdoutLoss(&t)
		if loss < r.bestLoss {
			r.best, r.bestLoss, since = len(r.all), loss, 0
		} else if since++; since >= p.EarlyStoppingRounds {
			break
		}
	}
	if nfit == n {
		r.bestLoss = 0
	}
	r.best = max(r.best, 1) // a non-finite hold-out loss never improves; keep one tree
	r.trees = r.all[:r.best]
	return r
}

// round grows one tree on the gradients of rows [0, nfit) and adds it to
// their scores.
func (bo *booster) round(nfit int) ttree {
	p, pr, g := bo.p, bo.pr, bo.g
	raw := bo.raw
	if len(g.grad) < nfit {
		g.grad = make([]gradPair, nfit)
	}
	forEach(blocks(nfit), 4*nfit, func(b int) {
		lo, hi := blockRange(b, nfit)
		for i := lo; i < hi; i++ {
			pp := sigmoid(raw[i])
			w := pr.w[i]
			g.grad[i] = gradPair{g: float32((pp - pr.label[i]) * w), h: float32(max(pp*(1-pp), 1e-16) * w)}
		}
	})
	dense := p.Subsample >= 1
	var rows []int32
	if dense {
		if cap(bo.sample) < nfit {
			bo.sample = make([]int32, nfit)
			for i := range bo.sample {
				bo.sample[i] = int32(i)
			}
		}
		rows = bo.sample[:nfit]
	} else {
		bo.sample = bo.sample[:0]
		for i := range nfit {
			if bo.rng.float() < p.Subsample {
				bo.sample = append(bo.sample, int32(i))
			}
		}
		rows = bo.sample
	}
	nf := len(pr.b.cols)
	if bo.feats == nil {
		bo.feats = make([]int, nf)
	}
	for j := range bo.feats {
		bo.feats[j] = j
	}
	g.feats = bo.feats
	if ncol := max(1, int(math.Round(p.ColSample*float64(nf)))); ncol < nf {
		shuffle(bo.rng, bo.feats)
		g.feats = bo.feats[:ncol]
		slices.Sort(g.feats)
	}
	t := g.grow(rows, dense)
	if dense {
		g.addLeafValues(raw) // every fit row is in a leaf of t
	} else {
		forEach(blocks(nfit), 4*nfit, func(b int) {
			lo, hi := blockRange(b, nfit)
			for i := lo; i < hi; i++ {
				raw[i] += t.predict(pr.b, int32(i))
			}
		})
	}
	return t
}

// holdoutLoss adds tree t to the hold-out rows' scores and returns their
// weighted log loss, summed block by block and the blocks in order.
func (bo *booster) holdoutLoss(t *ttree) float64 {
	pr := bo.pr
	hold := len(pr.label) - pr.nfit
	nb := blocks(hold)
	sums := make([][2]float64, nb)
	forEach(nb, 8*hold, func(b int) {
		lo, hi := blockRange(b, hold)
		var loss, wsum float64
		for i := pr.nfit + lo; i < pr.nfit+hi; i++ {
			bo.raw[i] += t.predict(pr.b, int32(i))
			loss += pr.w[i] * logLoss(pr.label[i], bo.raw[i])
			wsum += pr.w[i]
		}
		sums[b] = [2]float64{loss, wsum}
	})
	var loss, wsum float64
	for _, s := range sums {
		loss += s[0]
		wsum += s[1]
	}
	return loss / wsum
}

// extend takes the run back to its best round and boosts more rounds on all
// rows, the hold-out's included, continuing the run's random stream. It
// returns the best round's trees followed by the new ones.
func (r *boostRun) extend(more int) []ttree {
	bo := r.bo
	pr := bo.pr
	n := len(pr.label)
	// Scores at the best round: take off the trees grown after it.
	if extra := r.all[r.best:]; len(extra) > 0 {
		forEach(blocks(n), n*len(extra), func(b int) {
			lo, hi := blockRange(b, n)
			for i := lo; i < hi; i++ {
				for k := range extra {
					bo.raw[i] -= extra[k].predict(pr.b, int32(i))
				}
			}
		})
	}
	trees := slices.Clone(r.trees)
	for range more {
		if bo.ctx.Err() != nil {
			break // the caller returns ctx's error
		}
		trees = append(trees, bo.round(n))
	}
	return trees
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
	for _, f := range d.Features {
		fmt.Fprintf(h, "%q %t %q\n", f.Name, f.Categorical, f.Categories)
	}
	// Values little-endian, 8 bytes each, written a buffer at a time (one
	// Write per value cost more than the hashing on a month of millions).
	buf := make([]byte, 0, 1<<16)
	put := func(vs []float64) {
		for _, v := range vs {
			if len(buf) == cap(buf) {
				h.Write(buf)
				buf = buf[:0]
			}
			buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(v))
		}
	}
	for _, col := range d.Cols {
		put(col)
	}
	put(d.Label)
	put(d.Weight)
	h.Write(buf)
	return hex.EncodeToString(h.Sum(nil))
}
