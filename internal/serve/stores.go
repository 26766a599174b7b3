package serve

import (
	"context"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
)

// The service only reads, and only three stores: these interfaces are as
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

// FeatureReader reads one customer's online features in the served month
// (a customer absent from it is featurestore.ErrNotFound), and which month
// is served (nil error: it is readable; /ready asks). featurestore.Store
// and featurestore.Cache have it.
type FeatureReader interface {
	Get(ctx context.Context, userID string) (featurestore.Record, error)
	Current(ctx context.Context) (string, error)
}
