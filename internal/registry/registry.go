// Package registry is the model registry: numbered versions per model name,
// each in one stage (None, Production, Archived, Rejected), with the metrics
// and the comparison that decided its fate.
//
// The Registry interface is what the pipeline steps and the /predict service
// use. The embedded implementation (bbolt, one file under the local state
// directory) lives in internal/localstore and the DynamoDB adapter in
// internal/dynamo; both pass the same contract suite, registrytest.
//
// Approvals (approval.go) is the companion store for the local human
// approval step: it keeps paused pipeline runs until a person approves them.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Stage is the lifecycle stage of a model version.
type Stage string

// Stages. A model has at most one Production version at any time.
const (
	StageNone       Stage = "None"
	StageProduction Stage = "Production"
	StageArchived   Stage = "Archived"
	StageRejected   Stage = "Rejected"
)

// Outcomes recorded in a Decision.
const (
	OutcomePromoted   = "promoted"
	OutcomeSkipped    = "skipped"
	OutcomeRejected   = "rejected" // refused by a human approver
	OutcomeRolledBack = "rolled_back"
	// OutcomeOrphaned marks a version whose artifact was never stored (its
	// run died between registering it and uploading the artifact): it is
	// Rejected, so it can never be promoted.
	OutcomeOrphaned = "orphaned"
	// OutcomeAbandoned replaces a pending approval whose execution ended
	// without it: killed before its pause was stored, or failed after the
	// answer. The version stays in stage None.
	OutcomeAbandoned = "abandoned"
)

// Decision is the comparison that decided a version's fate.
type Decision struct {
	Outcome           string  `json:"outcome"`
	CandidateAUC      float64 `json:"candidate_auc"`
	ProductionAUC     float64 `json:"production_auc"`     // 0 when there was no Production model
	ProductionVersion int     `json:"production_version"` // 0 when there was no Production model
	Delta             float64 `json:"delta"`
	Bar               float64 `json:"bar"` // production AUC + delta, or the floor on a first run
	Reason            string  `json:"reason,omitempty"`
	ApprovalToken     string  `json:"approval_token,omitempty"` // set while a promotion waits for a person
	// DecidedBy is who decided: the person who approved or rejected (the
	// OS user locally, the caller's AWS identity on AWS) or promoted by
	// hand; empty when the pipeline decided alone.
	DecidedBy string `json:"decided_by,omitempty"`
	// Execution is the state machine execution that decided, so that a
	// retried or resumed step recognises its own decision.
	Execution string    `json:"execution,omitempty"`
	DecidedAt time.Time `json:"decided_at"`
}

// Version is one registered model version.
type Version struct {
	Model       string `json:"model"`
	Version     int    `json:"version"`
	Stage       Stage  `json:"stage"`
	ArtifactKey string `json:"artifact_key"`
	// ArtifactSHA256 is the hex SHA-256 of the artifact's bytes, recorded
	// when the version is registered: promotion checks the stored artifact
	// against it. Empty for versions registered before it was recorded.
	ArtifactSHA256 string             `json:"artifact_sha256,omitempty"`
	Metrics        map[string]float64 `json:"metrics"`
	// Importance is the version's global feature importance: each
	// feature's mean absolute contribution to the log-odds over the
	// validation users, by feature name, recorded when it was trained (see
	// RankImportance). Kept here, not only in the artifact, so that
	// registry show and the dashboard read it without loading a model;
	// empty for versions trained before it was recorded.
	Importance      map[string]float64 `json:"importance,omitempty"`
	AsOf            string             `json:"as_of"` // training snapshot date, YYYY-MM-DD
	DataFingerprint string             `json:"data_fingerprint"`
	// RunID identifies the pipeline run that trained it (execution and
	// phase), so that a retried training adopts this version.
	RunID     string    `json:"run_id,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Decision  *Decision `json:"decision,omitempty"`
}

// Sentinel errors. Implementations wrap them with context; callers test
// with errors.Is.
var (
	ErrNotFound     = errors.New("model version not found")
	ErrNoProduction = errors.New("no production model")
	// ErrConflict means the registry changed since the caller read it (the
	// Production version is not the one the run evaluated, or the version
	// is not in the stage the operation needs). Nothing was changed.
	ErrConflict = errors.New("registry conflict")
	// ErrInvalid means the request itself is malformed (an empty model name,
	// a Decide to a stage other than None or Rejected, an empty approval
	// token), so retrying it can never succeed. Nothing was changed.
	ErrInvalid = errors.New("invalid registry request")
)

// Registry stores model versions. All methods are safe for concurrent use,
// including from several processes sharing one store.
type Registry interface {
	// Register stores a new version in stage None with the next number for
	// v.Model (1, 2, 3…), fills CreatedAt/UpdatedAt, and returns it. The
	// Version, Stage and timestamps of v are ignored; an empty v.Model is
	// ErrInvalid. An empty v.ArtifactKey is set to ArtifactKey(model, N),
	// so the artifact's key is known in the same step that assigns N.
	Register(ctx context.Context, v Version) (Version, error)
	// Get returns one version, or ErrNotFound.
	Get(ctx context.Context, model string, version int) (Version, error)
	// List returns all versions of a model, oldest first; an unknown model
	// has no versions (an empty list, no error).
	List(ctx context.Context, model string) ([]Version, error)
	// Production returns the current Production version, or ErrNoProduction.
	Production(ctx context.Context, model string) (Version, error)
	// Promote makes version Production and the current Production (if any)
	// Archived, atomically, only if the current Production version number is
	// expectedProduction (0: there must be none) and version is in stage None
	// or Archived; otherwise it returns ErrConflict and changes nothing.
	// d is recorded on the promoted version. An unknown version is
	// ErrNotFound.
	Promote(ctx context.Context, model string, version, expectedProduction int, d Decision) error
	// Decide records d on a version in stage None without promoting it and
	// moves it to stage (StageNone for a skip, StageRejected for a refusal).
	// Any other stage is ErrInvalid, a version not in stage None is
	// ErrConflict, an unknown version ErrNotFound.
	Decide(ctx context.Context, model string, version int, stage Stage, d Decision) error
}

// CheckModelName reports what is wrong with a model name, or nil: 1 to 64
// letters, digits, '.', '_' or '-', starting with a letter or a digit. The
// name is part of every key of the model's files (models/<name>/v<N>/…), so
// "../x" or "a/b" must be refused before a run trains anything.
func CheckModelName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("model name %q must be 1 to 64 characters: %w", name, ErrInvalid)
	}
	for i, c := range name {
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || i > 0 && (c == '.' || c == '_' || c == '-')
		if !ok {
			return fmt.Errorf("model name %q: letters, digits, '.', '_' and '-' only, starting with a letter or digit: %w", name, ErrInvalid)
		}
	}
	return nil
}

// ArtifactKey is where a version's model artifact is stored:
// models/<model>/v<N>/model.json. Other files of the version sit beside it.
func ArtifactKey(model string, version int) string {
	return fmt.Sprintf("models/%s/v%d/model.json", model, version)
}
