// Package aslblob is asl.ObjectStore over a blob.Store: on a laptop, the
// S3 a DISTRIBUTED Map state reads its items from (ItemReader) and writes
// its results to (ResultWriter) is the state's blob store, as one bucket.
package aslblob

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/blob"
)

// Store is one bucket, bucket, whose objects are a blob store's keys.
type Store struct {
	blobs  blob.Store
	bucket string
}

var _ asl.ObjectStore = (*Store)(nil)

// New returns the blob store as the bucket named bucket: a definition
// naming another bucket fails rather than reading this one.
func New(blobs blob.Store, bucket string) *Store { return &Store{blobs: blobs, bucket: bucket} }

// modTimer is what a store that knows when a key was written offers (the
// embedded store: its file's modification time).
type modTimer interface {
	ModTime(ctx context.Context, key string) (time.Time, error)
}

func (s *Store) check(bucket string) error {
	if bucket != s.bucket {
		return fmt.Errorf("aslblob: no bucket %q (this store is %q)", bucket, s.bucket)
	}
	return nil
}

// ListObjects lists the keys under prefix with their sizes and ETags (the
// MD5 of the bytes, quoted, as S3 gives it for a plain PUT), reading each
// object: listings of a Map's items are small.
func (s *Store) ListObjects(ctx context.Context, bucket, prefix string) ([]asl.ObjectInfo, error) {
	if err := s.check(bucket); err != nil {
		return nil, err
	}
	keys, err := s.blobs.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	out := make([]asl.ObjectInfo, 0, len(keys))
	mt, _ := s.blobs.(modTimer)
	for _, k := range keys {
		data, err := s.blobs.Get(ctx, k)
		if errors.Is(err, blob.ErrNotFound) {
			continue // deleted since the listing
		}
		if err != nil {
			return nil, err
		}
		sum := md5.Sum(data)
		info := asl.ObjectInfo{Key: k, Size: int64(len(data)), ETag: `"` + hex.EncodeToString(sum[:]) + `"`, LastModified: time.Now().UTC(), StorageClass: "STANDARD"}
		if mt != nil {
			if t, err := mt.ModTime(ctx, k); err == nil {
				info.LastModified = t.UTC()
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// GetObject returns the bytes of key.
func (s *Store) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := s.check(bucket); err != nil {
		return nil, err
	}
	return s.blobs.Get(ctx, key)
}

// PutObject stores data under key. Blob keys are written once: the same
// bytes again succeed, other bytes fail (the executor never writes a key
// twice).
func (s *Store) PutObject(ctx context.Context, bucket, key string, data []byte) error {
	if err := s.check(bucket); err != nil {
		return err
	}
	err := s.blobs.Put(ctx, key, data)
	if errors.Is(err, blob.ErrExists) {
		old, gerr := s.blobs.Get(ctx, key)
		if gerr == nil && string(old) == string(data) {
			return nil
		}
	}
	return err
}
