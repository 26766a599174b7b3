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
// Compare produces a Report; WriteJSON and WriteHTML render it, and Build
// does all three. The package has no I/O of its own and no cloud
// dependency: callers decide where reports go.
package drift
