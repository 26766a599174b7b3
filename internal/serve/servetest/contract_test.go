package servetest_test

import (
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/registry/registrytest"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// The in-memory fakes behave as the stores they stand in for: they pass
// the same contract suites as the embedded and the AWS implementations.

func TestRegistryContract(t *testing.T) {
	registrytest.Run(t, func(t *testing.T) registry.Registry { return servetest.NewRegistry() })
}

func TestBlobsContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return servetest.NewBlobs() })
}
