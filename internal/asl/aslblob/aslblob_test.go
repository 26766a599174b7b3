package aslblob_test

import (
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/asl/aslblob"
	"github.com/churnops/churnops/internal/asl/objectstoretest"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/localstore"
)

// TestObjectStore: the adapter over the in-memory and the embedded blob
// stores passes asl.ObjectStore's contract.
func TestObjectStore(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		objectstoretest.Run(t, func(t *testing.T) asl.ObjectStore { return aslblob.New(blobtest.NewMemory(), "bucket") }, "bucket")
	})
	t.Run("embedded", func(t *testing.T) {
		objectstoretest.Run(t, func(t *testing.T) asl.ObjectStore {
			st, err := localstore.Open(t.TempDir(), localstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return aslblob.New(st.Blobs, "bucket")
		}, "bucket")
	})
}

// TestOtherBucket: a definition naming another bucket fails.
func TestOtherBucket(t *testing.T) {
	s := aslblob.New(blobtest.NewMemory(), "mine")
	if _, err := s.ListObjects(t.Context(), "theirs", ""); err == nil {
		t.Error("listed another bucket")
	}
	if err := s.PutObject(t.Context(), "theirs", "k", nil); err == nil {
		t.Error("wrote another bucket")
	}
}
