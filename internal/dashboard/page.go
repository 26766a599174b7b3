package dashboard

import (
	"time"

	"github.com/churnops/churnops/internal/registry"
)

// Page is everything the dashboard shows, computed by Build and drawn by
// Render. It holds figures, not markup: a test (or another renderer) can
// check what a person will see without parsing HTML.
type Page struct {
	Model       string
	GeneratedAt time.Time
	// Target is how the page's commands address the stores
	// (Sources.Target), e.g. "--state /home/me/.churnops".
	Target string
	// ReportsBase prefixes the links to files under reports/ (drift
	// reports): "" when the page is reports/index.html (the static file,
	// S3), "reports/" when it is served at the site's root. Build leaves it
	// empty; Handler sets it per route.
	ReportsBase string

	// Production is the current Production version, nil when none.
	Production *Version
	// Versions are every registered version, newest first.
	Versions []Version
	// Manual lists the promotions a person made by hand (registry
	// promote) and the rollbacks, newest first.
	Manual []ManualChange
	// Executions are the recorded executions, newest first.
	Executions []Execution
	// Drift is the drift share of each run and each column's score per
	// month.
	Drift Drift
	// Health is each candidate's AUC next to Production's on the same
	// validation users, by training month.
	Health []HealthPoint
	// Scores is the newest batch scores' summary, nil when none exists.
	Scores *ScoreSummary
	// Approvals are the promotions waiting for a person, oldest first.
	Approvals []Approval
	// Problems are documents that could not be read; the page shows the
	// rest and lists these.
	Problems []string
}

// Version is one registered model version.
type Version struct {
	Number      int
	Stage       registry.Stage
	AsOf        string
	Metrics     map[string]float64
	Fingerprint string
	Created     time.Time
	// Run is the execution that trained it ("" for a version registered
	// outside one) and Phase its phase (bootstrap or retrain); RunAnchor
	// is the id of that execution's row on the page ("" when the page has
	// no record of it).
	Run, Phase, RunAnchor string
	// Decision is the comparison that decided its fate: the run's when
	// the execution is recorded, else the registry's (nil when the only
	// decision the registry kept is a manual one).
	Decision *registry.Decision
	// Last is the registry's latest decision when it is not Decision: a
	// rollback to it or a manual promotion.
	Last *registry.Decision
	// Importance is what the version relies on: each feature's mean
	// |contribution| on its validation users, largest first, with its
	// share (nil for a version trained before it was recorded).
	Importance []registry.FeatureImportance
}

// ManualChange is a promotion made by hand or a rollback.
type ManualChange struct {
	Outcome  string // promoted (by hand) or rolled_back
	Version  int    // the version made Production
	Replaced int    // the Production version it replaced, 0 when none
	At       time.Time
	Reason   string
}

// Execution is one recorded execution of the retraining state machine.
type Execution struct {
	Name, Anchor string
	Start        time.Time
	Duration     time.Duration
	Reference    string
	Current      string
	Path         []Step
	Status       string // SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PAUSED
	Outcome      string // promoted, skipped, rejected, no_drift, pending_approval, failed, timed_out, aborted
	Error        string // the typed error of a failed execution
	Cause        string // its message
	// Candidate is the version a retrain trained, 0 when none.
	Candidate int
	// DriftShare is the drift share it measured, valid when HasDrift.
	DriftShare float64
	HasDrift   bool
	// ReportHref is its drift report, relative to reports/ ("" when none).
	ReportHref string
}

// Step is one state an execution went through.
type Step struct {
	Name     string
	Type     string
	Duration time.Duration
	Retries  int
	Error    string
	Waiting  bool
}

// Drift is drift over time.
type Drift struct {
	// Points are one per run that measured drift (and one per stored
	// report no recorded run measured), by current month then start.
	Points []DriftPoint
	// Columns are the columns the reports test, in the newest report's
	// order; Months the reports, oldest current month first; Cells[i][j]
	// is column i in report j.
	Columns []string
	Months  []DriftMonth
	Cells   [][]DriftCell
	// Shares[i] is column i's share of the Production version's
	// importance (0 when the column is not a feature, or Production
	// recorded none); Relied[i] marks a column that drifted in the newest
	// report and is among the three Production relies on most.
	Shares []float64
	Relied []bool
}

// DriftPoint is one run's drift share.
type DriftPoint struct {
	Reference, Current string
	Share, Threshold   float64
	Drifted, Columns   int
	Retrain            bool   // Share >= Threshold: the run retrained
	Run                string // "" for a report without a recorded run
	ReportHref         string
}

// DriftMonth is one drift report in the heatmap.
type DriftMonth struct {
	Reference, Current string
	Share              float64
	ReportHref         string
}

// DriftCell is one column's test in one report.
type DriftCell struct {
	Present       bool // the report tests this column
	Test          string
	Score         float64
	StatThreshold float64
	Drifted       bool
	// Level is how close the score is to its test's threshold: 0 no sign
	// of drift, 1 at the threshold, capped at 2 (see level).
	Level float64
}

// HealthPoint is one candidate against Production on the same users.
type HealthPoint struct {
	Month            string // the month it was trained and validated on
	Run              string
	CandidateVersion int
	CandidateAUC     float64
	// HasProduction is false on a first run (the bar is the floor).
	HasProduction     bool
	ProductionVersion int
	ProductionAUC     float64
	Bar               float64
	Outcome           string
}

// Approval is a promotion waiting for a person.
type Approval struct {
	Token         string
	Version       int
	CandidateAUC  float64
	ProductionAUC float64 // 0 when there is no Production model
	Bar           float64 // 0 when unknown
	Since         time.Time
	// Approve and Reject are the commands that answer it.
	Approve, Reject string
}
