// Package blob is the object store the pipeline writes datasets, model
// artifacts and reports to, by key, with S3's key syntax
// ("datasets/as_of=2024-01-31/snapshot.parquet"). Keys are never
// overwritten: a second Put to an existing key fails with ErrExists.
//
// The embedded implementation keeps one file per key under a directory; the
// S3 adapter lives in internal/s3store. Both pass blobtest's contract suite.
package blob

import (
	"context"
	"errors"
)

// Sentinel errors; implementations wrap them with the key.
var (
	ErrNotFound = errors.New("blob not found")
	ErrExists   = errors.New("blob already exists")
	ErrBadKey   = errors.New("invalid blob key")
)

// Store is a write-once key/value store for bytes.
type Store interface {
	// Put stores data under key, failing with ErrExists if key is taken.
	// A failed Put leaves nothing behind under key.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes under key, or ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys starting with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
}
