package pipeline

import (
	"encoding/json"

	"github.com/churnops/churnops/internal/registry"
)

// ExecutionInput starts one execution of the retraining state machine
// (StartExecution's input, `churnops run`, the monthly schedule).
type ExecutionInput struct {
	ModelName string `json:"model_name"`
	// ReferenceAsOf defaults to "previous" (the state machine's Defaults).
	ReferenceAsOf string `json:"reference_as_of,omitempty"`
	// CurrentAsOf is the month to check; with Incoming, the month ingested.
	CurrentAsOf     string  `json:"current_as_of,omitempty"`
	Threshold       float64 `json:"threshold"`        // retrain when drift_share >= threshold
	Delta           float64 `json:"delta"`            // promote when candidate AUC > production AUC + delta
	MinAUC          float64 `json:"min_auc"`          // the bar on a first run, when no Production model exists
	RequireApproval bool    `json:"require_approval"` // wait for a person before promoting
	Seed            int64   `json:"seed"`
	// Incoming, when set, is a month that arrived: the execution ingests
	// it first, and it becomes the current month.
	Incoming *Incoming `json:"incoming,omitempty"`
	// RowBudget caps the customers trained and evaluated on (a sample, the
	// same users month after month); 0 is dataset.DefaultSampleRows.
	RowBudget int `json:"row_budget,omitempty"`
	// Contributions adds each feature's contribution to the batch scores.
	Contributions bool `json:"contributions,omitempty"`
	// ShardRows is the customers per shard an Incoming month is stored
	// in (0: the ingest's default).
	ShardRows int `json:"shard_rows,omitempty"`
}

// Defaults for ExecutionInput fields, from the lab.
const (
	DefaultModelName = "churn"
	DefaultThreshold = 0.02
	DefaultDelta     = 0.01
	DefaultMinAUC    = 0.70
	DefaultSeed      = 42
)

// DriftInput is the Drift function's event.
type DriftInput struct {
	ReferenceAsOf string  `json:"reference_as_of"`
	CurrentAsOf   string  `json:"current_as_of"`
	Threshold     float64 `json:"threshold"`
}

// DriftOutput is the Drift function's result: the values DriftGate compares
// and where the reports are.
type DriftOutput struct {
	ReferenceAsOf  string   `json:"reference_as_of"`
	CurrentAsOf    string   `json:"current_as_of"`
	DriftShare     float64  `json:"drift_share"`
	DriftedColumns int      `json:"drifted_columns"`
	Columns        int      `json:"columns"`
	Drifted        []string `json:"drifted"` // names of the drifted columns
	Threshold      float64  `json:"threshold"`
	ReportJSONKey  string   `json:"report_json_key"`
	ReportHTMLKey  string   `json:"report_html_key"`
}

// TrainInput is the Train function's event.
type TrainInput struct {
	ModelName string `json:"model_name"`
	AsOf      string `json:"as_of"`
	Seed      int64  `json:"seed"`
	// RowBudget caps the customers trained and validated on: the month's
	// dataset.Sample of that many (0: dataset.DefaultSampleRows).
	RowBudget int `json:"row_budget,omitempty"`
	// RunID and Phase identify the training within an execution (the
	// execution ARN; bootstrap or retrain): a retried attempt adopts the
	// version an earlier attempt registered. Empty for one-off calls.
	RunID string `json:"run_id,omitempty"`
	Phase string `json:"phase,omitempty"`
}

// runKey is the idempotency key recorded on the registered version.
func (in TrainInput) runKey() string {
	if in.RunID == "" {
		return ""
	}
	return in.RunID + "#" + in.Phase
}

// TrainOutput is the Train function's result: the registered candidate.
type TrainOutput struct {
	ModelName         string             `json:"model_name"`
	Version           int                `json:"version"`
	AsOf              string             `json:"as_of"`
	ArtifactKey       string             `json:"artifact_key"`
	MetricsKey        string             `json:"metrics_key"`
	ValPredictionsKey string             `json:"val_predictions_key"`
	Metrics           map[string]float64 `json:"metrics"`
}

// EvaluateInput is the Evaluate function's event.
type EvaluateInput struct {
	ModelName string  `json:"model_name"`
	AsOf      string  `json:"as_of,omitempty"` // empty: only check whether Production exists
	Delta     float64 `json:"delta"`
	MinAUC    float64 `json:"min_auc"`
	// RowBudget is the sample Production is evaluated on: the candidate's
	// (0: dataset.DefaultSampleRows), so that both are validated on the
	// same users.
	RowBudget int `json:"row_budget,omitempty"`
	// ReferenceAsOf and CurrentAsOf, without AsOf (CheckProduction, the
	// execution's first step), are the execution's months to resolve
	// ("previous", "latest") and check once for all later steps.
	ReferenceAsOf string `json:"reference_as_of,omitempty"`
	CurrentAsOf   string `json:"current_as_of,omitempty"`
}

// EvaluateOutput is the Production model scored on the current month's
// validation users — the same users the candidate was validated on — and
// the bar the candidate must beat.
type EvaluateOutput struct {
	ModelName     string             `json:"model_name"`
	HasProduction bool               `json:"has_production"`
	Version       int                `json:"version"` // 0 when there is no Production model
	ValAUC        float64            `json:"val_auc"` // 0 when there is no Production model
	Bar           float64            `json:"bar"`     // val_auc + delta, or min_auc on a first run
	Metrics       map[string]float64 `json:"metrics,omitempty"`
	// ReferenceAsOf and CurrentAsOf are the execution's months resolved to
	// dates (CheckProduction only).
	ReferenceAsOf string `json:"reference_as_of,omitempty"`
	CurrentAsOf   string `json:"current_as_of,omitempty"`
}

// Compare actions, chosen by the state machine.
const (
	ActionPromote         = "promote"
	ActionSkip            = "skip"
	ActionReject          = "reject"
	ActionRequestApproval = "request_approval"
)

// OutcomePendingApproval is Compare's outcome for request_approval.
const OutcomePendingApproval = "pending_approval"

// CompareInput is the Compare function's event: the action the state
// machine decided and the numbers it decided on.
type CompareInput struct {
	Action            string  `json:"action"`
	ModelName         string  `json:"model_name"`
	CandidateVersion  int     `json:"candidate_version"`
	CandidateAUC      float64 `json:"candidate_auc"`
	ProductionVersion int     `json:"production_version"`
	ProductionAUC     float64 `json:"production_auc"`
	Delta             float64 `json:"delta"`
	Bar               float64 `json:"bar"`
	TaskToken         string  `json:"task_token,omitempty"` // request_approval only
	// Execution is the execution's ID, recorded on the decision: a retried
	// or resumed Compare finds the decision its execution already made and
	// does not make it twice (for request_approval it is also shown to the
	// approver).
	Execution     string          `json:"execution,omitempty"`
	Approval      *ApprovalAnswer `json:"approval,omitempty"`       // promote only
	ApprovalError *ApprovalError  `json:"approval_error,omitempty"` // reject only
}

// ApprovalAnswer is WaitForApproval's result: what an approver sends with
// SendTaskSuccess (and what the local executor resumes with), or the
// NoApprovalNeeded state's {"required": false}.
type ApprovalAnswer struct {
	Approved   bool   `json:"approved"`
	ApprovedBy string `json:"approved_by,omitempty"` // who: an AWS ARN, or the OS user locally
	Required   *bool  `json:"required,omitempty"`
}

// ApprovalError is how Step Functions reports a refused or timed-out approval.
type ApprovalError struct {
	Error string `json:"Error"`
	Cause string `json:"Cause"`
}

// Rejection is the Cause an approver sends with SendTaskFailure, as JSON,
// so that the decision records who refused and why.
type Rejection struct {
	Reason    string `json:"reason"`
	DecidedBy string `json:"decided_by,omitempty"`
}

// rejection reads the Cause: a Rejection, or (a timeout, an older client)
// plain text that is all reason.
func (e *ApprovalError) rejection() Rejection {
	var r Rejection
	if err := json.Unmarshal([]byte(e.Cause), &r); err != nil || r.Reason == "" && r.DecidedBy == "" {
		return Rejection{Reason: e.Cause}
	}
	return r
}

// CompareOutput is what Compare did.
type CompareOutput struct {
	Action            string            `json:"action"`
	Outcome           string            `json:"outcome"` // promoted, skipped, rejected, pending_approval
	ModelName         string            `json:"model_name"`
	CandidateVersion  int               `json:"candidate_version"`
	CandidateAUC      float64           `json:"candidate_auc"`
	ProductionVersion int               `json:"production_version"` // Production after the action
	ProductionAUC     float64           `json:"production_auc"`
	Delta             float64           `json:"delta"`
	Bar               float64           `json:"bar"`
	Decision          registry.Decision `json:"decision"`
}

// ExecutionState is the state machine's data as statemachine/retrain.asl.json
// builds it: the execution's input, then one field per state's ResultPath.
// A finished execution's output, and the state data of its events and
// checkpoints, decode into it; a field is nil until its state has run.
type ExecutionState struct {
	ExecutionInput
	Ingest     *IngestPlanOutput `json:"ingest"`     // PlanIngest: the month's ingest attempt
	Ingested   *IngestOutput     `json:"ingested"`   // CommitIngest: the month stored
	Baseline   *EvaluateOutput   `json:"baseline"`   // CheckProduction: is there a Production model
	Run        *RunTarget        `json:"run"`        // Bootstrap or Retrain: the month to train on
	Drift      *DriftOutput      `json:"drift"`      // Drift
	Candidate  *Candidate        `json:"candidate"`  // Train
	Production *EvaluateOutput   `json:"production"` // Evaluate: the bar the candidate must beat
	Compare    *struct {
		Decision CompareOutput `json:"decision"`
	} `json:"compare"` // Promote, Skip or Reject
	Bootstrap *CompareOutput `json:"bootstrap"` // Bootstrapped: the first run's decision
	Result    *struct {
		Outcome string `json:"outcome"`
	} `json:"result"` // NoRetrain
	// Scoring is the current month's batch scores (SummarizeScores), or
	// the scoring plan when there was no model to score with.
	Scoring *ExecutionScoring `json:"scoring"`
}

// ExecutionScoring is $.scoring: the scoring plan (PlanScoring), then the
// summary (SummarizeScores) that replaces it.
type ExecutionScoring struct {
	ScoreSummary
	HasModel *bool `json:"has_model,omitempty"` // the plan's: false when nothing was scored
}

// RunTarget is what Bootstrap and Retrain set: which month Train uses.
type RunTarget struct {
	Phase string `json:"phase"` // "bootstrap" or "retrain"
	AsOf  string `json:"as_of"`
}

// Candidate is the part of Train's output the state machine keeps.
type Candidate struct {
	Version           int                `json:"version"`
	ArtifactKey       string             `json:"artifact_key"`
	ValAUC            float64            `json:"val_auc"`
	Metrics           map[string]float64 `json:"metrics"`
	ValPredictionsKey string             `json:"val_predictions_key"`
}

// Outcome is what the execution decided last: no_drift (NoRetrain), else
// Compare's outcome (promoted, skipped, rejected); "" before either.
func (s ExecutionState) Outcome() string {
	switch {
	case s.Result != nil:
		return s.Result.Outcome
	case s.Compare != nil:
		return s.Compare.Decision.Outcome
	}
	return ""
}
