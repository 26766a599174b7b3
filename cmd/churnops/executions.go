package main

import (
	"cmp"
	"context"
	"os"
	"os/user"

	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
)

// executions runs and answers executions of the retraining state machine:
// `run`, `registry approve` and `registry reject` go through it, on the
// local executor with its checkpoints (--backend local) or on the deployed
// Step Functions state machine (--backend aws).
type executions interface {
	// Start runs an execution named name (a new one if empty) until it
	// ends or pauses for approval.
	Start(ctx context.Context, name string, in pipeline.ExecutionInput) (*pipeline.Execution, error)
	// Approve and Reject answer the execution paused on token, as by.
	Approve(ctx context.Context, token, by string) (*pipeline.Execution, error)
	Reject(ctx context.Context, token, by, reason string) (*pipeline.Execution, error)
}

var (
	_ executions = (*pipeline.LocalExecutions)(nil)
	_ executions = (*awsbackend.StepFunctions)(nil)
)

// executions returns the backend's executions.
func (a *app) executions(ctx context.Context, st *stores) (executions, error) {
	if st.AWS != nil {
		return awsbackend.NewStepFunctions(ctx)
	}
	return &pipeline.LocalExecutions{
		Pipeline:  a.pipeline(st),
		Approvals: st.Approvals,
		Observer:  a.observer(),
		Owner:     localstore.ProcessOwner(),
		Stale:     localstore.OwnerGone,
	}, nil
}

// identity is who answers an approval or promotes by hand, recorded with
// the version's decision: the caller's AWS identity on AWS, the OS user
// locally.
func (a *app) identity(ctx context.Context, st *stores) (string, error) {
	if st.AWS != nil {
		return awsbackend.CallerARN(ctx)
	}
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username, nil
	}
	return cmp.Or(os.Getenv("USER"), os.Getenv("USERNAME"), "unknown"), nil
}
