package registry

import (
	"context"
	"errors"
	"time"
)

// ErrApprovalNotFound means no paused run is stored under the token: it was
// never paused, or the run it paused was answered and has decided.
var ErrApprovalNotFound = errors.New("approval not found")

// ApprovalInfo is what a human needs to decide on a paused promotion; the
// CLI lists it next to each token.
type ApprovalInfo struct {
	Model         string  `json:"model"`
	Version       int     `json:"version"`
	CandidateAUC  float64 `json:"candidate_auc"`
	ProductionAUC float64 `json:"production_auc"` // 0 when there is no Production model
	// Execution is the paused execution's ID (its ARN), which its later
	// pauses and its decisions carry too.
	Execution string    `json:"execution,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// ApprovalClaim records who is answering a paused run, from Claim until
// the run decides (the approval is then deleted or replaced) or the answer
// is given up (Release).
type ApprovalClaim struct {
	Owner string    `json:"owner"` // the answering process, e.g. host:pid:nonce
	At    time.Time `json:"at"`
}

// Approval is one paused run: the token the approver quotes, the opaque
// checkpoint the local executor resumes from, and the summary shown to the
// approver.
type Approval struct {
	Token      string       `json:"token"`
	Checkpoint []byte       `json:"checkpoint"`
	Info       ApprovalInfo `json:"info"`
	// Claim is set while someone is answering it.
	Claim *ApprovalClaim `json:"claim,omitempty"`
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
	// token succeeds.
	Delete(ctx context.Context, token string) error
	// Claim marks the paused run under token as being answered by owner and
	// returns it (with the claim), so that of several people answering at
	// once exactly one resumes the run; the approval itself stays stored
	// until the resumed run has decided, so an interrupted answer can be
	// given again. A run claimed by another owner is ErrConflict, unless
	// stale reports that claim's owner gone (a killed process); claiming
	// one's own claim again succeeds. An unknown token is
	// ErrApprovalNotFound.
	Claim(ctx context.Context, token, owner string, stale func(ApprovalClaim) bool) (Approval, error)
	// Release clears owner's claim on token, so the run can be answered
	// again (the answer was interrupted before the run decided). Another
	// owner's claim, or none, is left as is. An unknown token is
	// ErrApprovalNotFound.
	Release(ctx context.Context, token, owner string) error
	// Replace stores a paused run under token and deletes the runs stored
	// under olds, in one step: a resumed run that pauses again (for a
	// second approval in the same execution) consumes the approval it was
	// resumed from exactly when its new pause is stored. Olds not stored
	// are ignored. An empty token is ErrInvalid and a token already stored
	// ErrConflict; either changes nothing.
	Replace(ctx context.Context, olds []string, token string, checkpoint []byte, info ApprovalInfo) error
}
