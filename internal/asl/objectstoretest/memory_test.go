package objectstoretest_test

import (
	"context"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/asl/objectstoretest"
)

func TestMemory(t *testing.T) {
	objectstoretest.Run(t, func(t *testing.T) asl.ObjectStore { return objectstoretest.NewMemory("churnops-test") }, "churnops-test")
}

func TestMemoryUnknownBucket(t *testing.T) {
	m := objectstoretest.NewMemory("known")
	ctx := context.Background()
	if _, err := m.ListObjects(ctx, "unknown", ""); err == nil {
		t.Error("ListObjects on an unknown bucket succeeded")
	}
	if err := m.PutObject(ctx, "unknown", "k", nil); err == nil {
		t.Error("PutObject to an unknown bucket succeeded")
	}
	if _, err := m.GetObject(ctx, "unknown", "k"); err == nil {
		t.Error("GetObject from an unknown bucket succeeded")
	}
}
