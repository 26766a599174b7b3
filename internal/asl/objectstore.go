package asl

import (
	"context"
	"time"
)

// ObjectStore is the object storage a DISTRIBUTED Map reads its items from
// (ItemReader: s3:listObjectsV2, s3:getObject) and writes its results to
// (ResultWriter: s3:putObject): S3 on AWS, anything with S3's key
// semantics locally. Set it in Runner.ObjectStore; a machine that needs it
// does not run without one. The contract every implementation must pass
// is internal/asl/objectstoretest.
type ObjectStore interface {
	// ListObjects returns the objects of bucket whose keys start with
	// prefix (any string, "" for all), sorted by key bytewise as
	// ListObjectsV2 returns them, every page of them.
	ListObjects(ctx context.Context, bucket, prefix string) ([]ObjectInfo, error)
	// GetObject returns the bytes stored under key; a missing key is an
	// error.
	GetObject(ctx context.Context, bucket, key string) ([]byte, error)
	// PutObject stores data under key. The executor never writes a key
	// twice (result keys contain the Map Run's id), so whether a second
	// write fails or replaces is the implementation's choice.
	PutObject(ctx context.Context, bucket, key string, data []byte) error
}

// ObjectInfo is one object of a listing: what a listObjectsV2 ItemReader
// passes to each iteration as {"Etag", "Key", "LastModified", "Size",
// "StorageClass"}.
type ObjectInfo struct {
	// Key is the object's full key.
	Key string
	// Size is its length in bytes.
	Size int64
	// ETag is the entity tag as S3 returns it, quotes included
	// ("\"9b2cf535f27731c974343645a3985328\"").
	ETag string
	// LastModified is when it was written (whole seconds reach the items).
	LastModified time.Time
	// StorageClass is S3's storage class; "" is reported as STANDARD.
	StorageClass string
}
