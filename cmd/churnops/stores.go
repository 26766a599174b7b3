package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
)

// Backends: where the stores live.
const (
	backendLocal = "local" // the embedded default: --state DIR
	backendAWS   = "aws"   // S3 + DynamoDB named by CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE, CHURNOPS_FEATURES_TABLE
)

// stores are the pipeline's stores on the chosen backend.
type stores struct {
	Blobs    blob.Store
	Registry registry.Registry
	Features featurestore.Store
	// Approvals keeps executions paused for approval on the embedded
	// default; nil on AWS, where Step Functions keeps them.
	Approvals registry.Approvals
	// AWS is set on the aws backend, Local on the embedded default.
	AWS   *awsbackend.Backend
	Local *localstore.State
}

// openStores opens the backend once per process. hold keeps the local
// databases locked for the process's life (one-process runs like demo).
func (a *app) openStores(ctx context.Context, hold bool) (*stores, error) {
	switch a.backend {
	case backendAWS:
		b, err := awsbackend.FromEnv(ctx)
		if err != nil {
			return nil, fmt.Errorf("--backend aws: %w", err)
		}
		return &stores{Blobs: b.Blobs, Registry: b.Registry, Features: b.Features, AWS: b}, nil
	case backendLocal:
	default:
		return nil, usagef("--backend %q: want local or aws", a.backend)
	}
	st, err := localstore.Open(a.state, localstore.Options{HoldLock: hold, MustExist: !a.createsState})
	if errors.Is(err, localstore.ErrLocked) {
		return nil, fmt.Errorf("state directory %s is in use by another churnops process; retry when it is done", a.state)
	}
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, st.Close)
	return &stores{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features, Approvals: st.Approvals, Local: st}, nil
}

// envOrphanGrace overrides pipeline.DefaultOrphanGrace: how old a version
// without its artifact must be before a run marks it orphaned ("0" when no
// other run can be in flight, as in the crash harness).
const envOrphanGrace = "CHURNOPS_ORPHAN_GRACE"

// pipeline returns the steps wired to the stores.
func (a *app) pipeline(st *stores) *pipeline.Pipeline {
	p := &pipeline.Pipeline{
		Blobs:        st.Blobs,
		Registry:     st.Registry,
		Features:     st.Features,
		Log:          a.logger(),
		Progress:     a.progress,
		MaxFileBytes: a.maxFileBytes,
		LocalDirs:    true, // the CLI reads month directories of this machine
	}
	if s := os.Getenv(envOrphanGrace); s != "" {
		switch d, err := time.ParseDuration(s); {
		case err != nil:
			fmt.Fprintf(a.stderr, "churnops: %s=%q is not a duration; using %s\n", envOrphanGrace, s, pipeline.DefaultOrphanGrace)
		case d <= 0:
			p.OrphanGrace = -1 // none
		default:
			p.OrphanGrace = d
		}
	}
	return p
}
