package objectstoretest

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// Memory is an in-memory asl.ObjectStore with S3's semantics for what the
// executor uses: buckets must exist, a listing is sorted bytewise, ETags
// are the quoted MD5 of the content (as S3's for a single-part upload), a
// Put replaces. Safe for concurrent use.
type Memory struct {
	mu      sync.Mutex
	buckets map[string]map[string]memObject
	now     func() time.Time
}

type memObject struct {
	data     []byte
	etag     string
	modified time.Time
}

var _ asl.ObjectStore = (*Memory)(nil)

// NewMemory returns a store holding the given (empty) buckets.
func NewMemory(buckets ...string) *Memory {
	m := &Memory{buckets: map[string]map[string]memObject{}, now: time.Now}
	for _, b := range buckets {
		m.buckets[b] = map[string]memObject{}
	}
	return m
}

func (m *Memory) bucket(name string) (map[string]memObject, error) {
	b, ok := m.buckets[name]
	if !ok {
		return nil, fmt.Errorf("objectstoretest: NoSuchBucket: %q", name)
	}
	return b, nil
}

// ListObjects lists bucket's keys starting with prefix, sorted.
func (m *Memory) ListObjects(ctx context.Context, bucket, prefix string) ([]asl.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	out := []asl.ObjectInfo{}
	for k, o := range b {
		if strings.HasPrefix(k, prefix) {
			out = append(out, asl.ObjectInfo{Key: k, Size: int64(len(o.data)), ETag: o.etag, LastModified: o.modified, StorageClass: "STANDARD"})
		}
	}
	slices.SortFunc(out, func(a, b asl.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// GetObject returns a copy of the bytes under key.
func (m *Memory) GetObject(ctx context.Context, bucket, key string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	o, ok := b[key]
	if !ok {
		return nil, fmt.Errorf("objectstoretest: NoSuchKey: s3://%s/%s", bucket, key)
	}
	return slices.Clone(o.data), nil
}

// PutObject stores a copy of data under key.
func (m *Memory) PutObject(ctx context.Context, bucket, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if key == "" {
		return fmt.Errorf("objectstoretest: empty key")
	}
	sum := md5.Sum(data)
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	b[key] = memObject{data: slices.Clone(data), etag: `"` + hex.EncodeToString(sum[:]) + `"`, modified: m.now()}
	return nil
}
