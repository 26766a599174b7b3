// Package drift decides whether a month of customers has drifted from a
// reference month, column by column, reproducing Evidently 0.7's default
// data-drift rules (DataDriftPreset / ValueDrift with no method given), so
// that the numbers match what the lab computed with Evidently.
//
// For each column, missing (NaN, "") and infinite values are dropped on
// each side; n counts the reference values left and k the distinct values
// of both sides together. Then:
//
//   - n <= 1000, numerical, k > 5: two-sample Kolmogorov–Smirnov p-value
//     (scipy's ks_2samp, exact distribution up to 10,000 values a side),
//     drift when p <= 0.05;
//   - n <= 1000 otherwise: chi-square p-value when k > 2 (expected counts =
//     reference counts scaled to the current size), else the two-proportion
//     Z-test; drift when p < 0.05;
//   - n > 1000, numerical, k > 5: Wasserstein-1 distance divided by
//     max(population std of the reference, 0.001), drift when >= 0.1;
//   - n > 1000 otherwise: Jensen–Shannon distance (natural log) between the
//     value frequencies of both sides, drift when >= 0.1.
//
// The drift share is the fraction of drifted columns; a report asks for
// retraining when it reaches Options.Threshold.
//
// # Summaries: drift at any size
//
// Every test above depends on a column only through its value counts, so
// the package never reads rows: a month is first reduced to a Summary (per
// column, the count of each distinct value plus missing and infinite rows)
// and the months' summaries are compared. A month too big for one process
// is summarized shard by shard (Summarize, or Add chunk by chunk), the
// shard summaries stored (MarshalBinary) and merged in a reduce step
// (Merge); Merge is associative and commutative and sums run over distinct
// values in ascending order, so any sharding gives the same summary bytes
// and the same report as the whole month. Compare(ref, cur) is
// CompareSummaries(Summarize(ref), Summarize(cur)).
//
// Categorical columns are exact. A numerical column is exact up to
// MaxDistinct distinct values; a continuous column past that (watch hours
// of millions of customers) keeps only the leading bits of each value,
// chosen canonically so that sharding still does not matter, and the
// report marks it approximate with a bound on its score (approx.go).
//
// # Reports
//
// CompareSummaries and Compare produce a Report: per column the test, its
// score and verdict, the histogram drawn, each month's missing and
// infinite counts and statistics (mean, std, quartiles or top categories),
// whether it is constant in both months or approximate; plus the drift
// share, the generation time (Options.Now) and the months' provenance
// (Options.ReferenceData, CurrentData). WriteJSON and WriteHTML render it
// (the HTML is one self-contained page), Build and BuildSummaries do all
// three. The package has no I/O of its own and no cloud dependency:
// callers decide where summaries and reports go.
package drift
