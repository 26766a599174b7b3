package servetest_test

import (
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/featurestore/featurestoretest"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// TestFeaturesContract: the in-memory fake behaves as the real stores do.
func TestFeaturesContract(t *testing.T) {
	featurestoretest.Run(t, func(*testing.T) featurestore.Store { return servetest.NewFeatures() })
}
