package blobtest_test

import (
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
)

func TestMemory(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return blobtest.NewMemory() })
}
