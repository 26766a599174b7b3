// Package dashboard draws churnops' one-page view of the model's life:
// the registry (every version with its stage, metrics, data fingerprint,
// the run that made it and the comparison that decided its fate;
// rollbacks), the executions of the retraining state machine (months,
// path through the states with durations, outcome or typed error), drift
// over time (the drift share of each run against the threshold, and a
// column × month heatmap of the drift scores linking to each month's
// report), the candidate's AUC against Production's on the same users,
// the latest batch scores' distribution, and the promotions waiting for
// approval with the commands that answer them.
//
// It is a pure function of the stores the pipeline already has, in two
// steps:
//
//	page, err := dashboard.Build(ctx, dashboard.Sources{Model: "churn", Registry: reg, Blobs: blobs})
//	err = dashboard.Render(w, page)
//
// Build reads registry.Registry, the execution records
// (internal/execlog), the drift reports and the batch-score summaries
// from blob.Store; Render writes one self-contained HTML page (inline CSS,
// inline SVG, a few lines of inline JavaScript that sort the tables and
// are not needed to read them; nothing fetched, a Content-Security-Policy
// that forbids anything else), so the same page works opened from a file
// (.churnops/blobs/reports/index.html, written after each local run),
// from S3 (reports/index.html, written by the state machine's last step on
// AWS) and from `churnops serve` (Handler). Its links to drift reports are
// relative to reports/, the folder the page sits in.
//
// No AWS package is imported: the AWS step passes its S3 and DynamoDB
// adapters as the same interfaces.
package dashboard
