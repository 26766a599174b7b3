package registry

import (
	"context"
	"errors"
	"time"
)

// ErrApprovalNotFound means no paused run is stored under the token: it was
// never paused, or it was already approved or refused (Delete removed it).
var ErrApprovalNotFound = errors.New("approval not found")

// ApprovalInfo is what a human needs to decide on a paused promotion; the
// CLI lists it next to each token.
type ApprovalInfo struct {
	Model         string    `json:"model"`
	Version       int       `json:"version"`
	CandidateAUC  float64   `json:"candidate_auc"`
	ProductionAUC float64   `json:"production_auc"` // 0 when there is no Production model
	CreatedAt     time.Time `json:"created_at"`
}

// Approval is one paused run: the token the approver quotes, the opaque
// checkpoint the local executor resumes from, and the summary shown to the
// approver.
type Approval struct {
	Token      string       `json:"token"`
	Checkpoint []byte       `json:"checkpoint"`
	Info       ApprovalInfo `json:"info"`
}

// Approvals keeps the runs paused at the state machine's WaitForApproval
// step on the embedded default, where no Step Functions service holds the
// task token. (On AWS the token lives in Step Functions and the approver
// calls SendTaskSuccess, so there is no AWS implementation.) All methods
// are safe for concurrent use, including from several processes.
type Approvals interface {
	// Put stores a paused run under token. An empty token is ErrInvalid; a
	// token already stored is ErrConflict and leaves the stored run intact.
	// A zero info.CreatedAt is set to the current time.
	Put(ctx context.Context, token string, checkpoint []byte, info ApprovalInfo) error
	// Get returns the paused run stored under token, or ErrApprovalNotFound.
	Get(ctx context.Context, token string) (Approval, error)
	// List returns every paused run, oldest (CreatedAt) first, ties by token.
	List(ctx context.Context) ([]Approval, error)
	// Delete removes the paused run under token, or returns
	// ErrApprovalNotFound. Exactly one of several concurrent Deletes of a
	// token succeeds, so a caller that deletes before resuming resumes each
	// run at most once.
	Delete(ctx context.Context, token string) error
}
