// Package gbdt is a pure-Go histogram gradient-boosted decision tree learner
// for binary classification (log loss), in the style of LightGBM and
// XGBoost's "hist" method, with a versioned, self-describing artifact format
// and allocation-free inference. It knows nothing about churn: callers
// describe their columns with a []Feature spec and hand over a Dataset.
//
// # Training
//
//   - Binning: each numeric feature is cut into at most Params.MaxBin value
//     bins at quantiles of the training values (one bin per distinct value
//     when there are few; above 250,000 rows, of evenly spaced rows); cut
//     points lie between neighbouring training values, on the float32
//     rounding boundary nearest their midpoint (so an XGBoost export, which
//     reads float32, splits at the same place), and are stored as raw
//     thresholds, so inference needs no bin edges. Bin 0 of every feature
//     holds missing values (NaN). Bins are one byte per cell, column by
//     column.
//   - Missing values: every split learns a default direction. Both sides are
//     tried for the missing bin and the better one is kept; when a node saw no
//     missing value, missing goes to the child with the larger hessian. A
//     "missing vs present" split is possible, so missingness itself can carry
//     the signal.
//   - Categorical features are split natively on category sets. With at most
//     Params.MaxCatOneHot categories (default 4) every one-vs-rest partition is
//     tried, which for three categories is every partition. With more, the
//     categories seen in the node are sorted by sum(gradient) /
//     (sum(hessian) + Params.CatSmooth) and the best prefix of that order goes
//     left (LightGBM's many-vs-many method). Categories unseen in a node go
//     right; missing and unknown categories follow the learned default.
//   - Growth is leaf-wise (best-first, as LightGBM): the leaf with the largest
//     gain is split next, bounded by Params.MaxLeaves and Params.MaxDepth.
//     Gain and leaf values are XGBoost's second-order formulas with L2
//     regularisation Params.Lambda; splits must leave Params.MinChildWeight
//     hessian and Params.MinSamplesLeaf rows on each side and gain more than
//     Params.MinSplitGain.
//   - Speed: gradient pairs are float32 (summed in float64); the smaller
//     child's histogram is built from its rows and the larger child's is the
//     parent's minus the smaller's (histogram subtraction); a leaf's rows
//     are kept together in one array and partitioned in place at each split;
//     the root reads the columns straight through, other leaves gather their
//     gradients in row order first. The work runs on GOMAXPROCS goroutines in
//     fixed pieces (a feature's histogram; a block of 8,192 rows for
//     gradients, partitions and the hold-out) whose results do not depend on
//     which goroutine computes them, and sums over pieces are taken in piece
//     order: the model is the same bytes on any number of cores
//     (parallel.go).
//   - Class weighting: Params.ScalePosWeight multiplies the weight of positive
//     rows; Params.Balanced sets it to negatives/positives (XGBoost's
//     customary "balanced" value). Optional per-row weights multiply in.
//   - Row (Params.Subsample) and column (Params.ColSample) subsampling per
//     tree, and early stopping on a stratified held-out part of the training
//     rows (Params.EarlyStoppingFraction, at most Params.EarlyStoppingMaxRows;
//     Params.EarlyStoppingRounds), are all driven by Params.Seed: the same
//     dataset, parameters and seed give a byte-identical model.
//   - Capacity by early stopping: Search trains one candidate per Capacity
//     (tree shape, learning rate, rounds, leaf size, L2, column sampling) on
//     the same bins and hold-out, going down the list while candidates stop
//     before the last tenth of their rounds, and keeps the lowest hold-out loss
//     (Meta.Candidates). Params.ExtendOnAll then boosts the winner a few
//     more rounds on all rows, hold-out included, so the model sees every
//     row without training again from scratch (Params.Refit, kept for
//     callers, does that).
//
// # Inference and artifacts
//
// A Model stores all trees in one flat node array, which the artifact
// records. For prediction the trees are also compiled into lookup tables
// (tables.go): trees reading the same features are summed into one table
// indexed by where each value falls among the split thresholds, so a
// depth-2 model of hundreds of trees costs a binary search per feature and
// one read per table instead of a walk per tree. The tables give the trees'
// answer to the last bits of the sum; a model too large for them (deep
// trees over many features) walks its trees. PredictProba does not allocate. Encode turns a raw record (as decoded from JSON) into
// the row PredictProba takes. Marshal/Save and Unmarshal/Load read and write
// the artifact, a compact JSON document described in artifact.go.
package gbdt
