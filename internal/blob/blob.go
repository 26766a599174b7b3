// Package blob is the object store the pipeline writes datasets, model
// artifacts and reports to, by key, with S3's key syntax
// ("datasets/as_of=2024-01-31/snapshot.parquet"). Keys are never
// overwritten: a second Put to an existing key fails with ErrExists. Large
// objects are read as streams (Open); keys are removed only by Delete.
//
// Keys follow one portable syntax checked by CheckKey, so that a key valid
// on a laptop is valid on S3 and the other way round.
//
// The embedded implementation keeps one file per key under a directory
// (internal/localstore); the S3 adapter lives in internal/s3store. Both
// pass blobtest's contract suite.
package blob

import (
	"context"
	"errors"
	"io"
)

// Sentinel errors; implementations wrap them with the key.
var (
	ErrNotFound = errors.New("blob not found")
	ErrExists   = errors.New("blob already exists")
	ErrBadKey   = errors.New("invalid blob key")
)

// Store is a write-once key/value store for bytes: a key, once written,
// holds the same bytes until it is deleted.
type Store interface {
	// Put stores data under key, failing with ErrExists if key is taken
	// and with ErrBadKey if CheckKey rejects it. A failed Put leaves
	// nothing behind under key. Of several concurrent Puts to one key,
	// exactly one succeeds.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the bytes under key, or ErrNotFound (ErrBadKey for a key
	// CheckKey rejects).
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns the keys starting with prefix (any string, not only
	// whole "directories"), sorted bytewise; none is an empty list.
	List(ctx context.Context, prefix string) ([]string, error)
	// Open streams the bytes under key, for objects too large to hold in
	// memory at once (a month's CSV of millions of rows). Errors are Get's:
	// ErrNotFound, ErrBadKey. The caller closes the reader.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Delete removes key; deleting a key that does not exist succeeds, as
	// S3's DeleteObject does (ErrBadKey for a key CheckKey rejects). A later
	// Put may use the key again. Stored datasets, models and reports are
	// only ever deleted by an explicit command (`churnops dataset rm`) or
	// as staging left behind by an unfinished step.
	Delete(ctx context.Context, key string) error
}
