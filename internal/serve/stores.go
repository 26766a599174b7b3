package serve

import (
	"context"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
)

// The service only reads, and only three things: these interfaces are as
// small as that use. registry.Registry, blob.Store and featurestore.Store
// (embedded, AWS, or the servetest fakes) satisfy them.

// ProductionReader tells which version of a model is Production.
type ProductionReader interface {
	Production(ctx context.Context, model string) (registry.Version, error)
}

// ArtifactReader reads a model artifact by its key.
type ArtifactReader interface {
	Get(ctx context.Context, key string) ([]byte, error)
}

// FeatureReader reads one customer's online features; a customer without
// any is featurestore.ErrNotFound.
type FeatureReader interface {
	Get(ctx context.Context, userID string) (featurestore.Record, error)
}
