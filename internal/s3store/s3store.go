// Package s3store is the S3 adapter for blob.Store: datasets, model
// artifacts and reports in one bucket, under the same keys the embedded
// store uses on a laptop, and passing the same contract suite (blobtest).
//
// Keys are never overwritten: Put is a conditional PutObject with
// If-None-Match: *, so S3 itself refuses a second write to a key (412
// PreconditionFailed → blob.ErrExists), atomically, across processes, with
// no read-then-write window. AWS has honoured conditional writes since
// August 2024; MiniStack 1.5.33 honours them too (checked by the
// integration tests), so there is no racy HeadObject fallback.
//
// Endpoints come from the SDK's own configuration: AWS_ENDPOINT_URL or
// AWS_ENDPOINT_URL_S3 point NewClient at an emulator, and NewClient then
// switches to path-style addressing, which emulators serve without
// wildcard DNS.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/churnops/churnops/internal/awsemu"
	"github.com/churnops/churnops/internal/blob"
)

// EnvBucket is the environment variable naming the bucket; template.yaml
// sets it on every function.
const EnvBucket = "CHURNOPS_BUCKET"

// BucketFromEnv reads the bucket name the SAM template passes to the
// functions, so every function main reads it the same way.
func BucketFromEnv() string { return os.Getenv(EnvBucket) }

// NewClient returns an S3 client for cfg (as loaded by
// config.LoadDefaultConfig). When an endpoint override is configured
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_S3, or cfg.BaseEndpoint), it uses
// path-style addressing: bucket.localhost-style virtual hosts do not
// resolve for emulators, and it drops idle connections before the
// emulator's keep-alive does (awsemu.HTTPClient). optFns apply last.
func NewClient(cfg aws.Config, optFns ...func(*s3.Options)) *s3.Client {
	fns := append([]func(*s3.Options){func(o *s3.Options) {
		// NewFromConfig has resolved the service-specific endpoint into
		// BaseEndpoint before option functions run.
		if o.BaseEndpoint != nil {
			o.UsePathStyle = true
			o.HTTPClient = awsemu.HTTPClient()
		}
	}}, optFns...)
	return s3.NewFromConfig(cfg, fns...)
}

// API is the subset of *s3.Client the Store calls; an interface so tests
// can inject the failures S3 produces under contention.
type API interface {
	PutObject(ctx context.Context, in *s3.PutObjectInput, optFns ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
}

var _ API = (*s3.Client)(nil)

// Store is a write-once blob.Store on one S3 bucket; safe for concurrent
// use, including by several processes.
type Store struct {
	client API
	bucket string
}

var _ blob.Store = (*Store)(nil)

// New returns a Store on an existing bucket.
func New(client API, bucket string) *Store {
	return &Store{client: client, bucket: bucket}
}

// Bucket is the bucket the store writes to, for logs and for building
// s3:// URIs of stored objects.
func (s *Store) Bucket() string { return s.bucket }

// putAttempts bounds the retries of a conditional write that S3 answered
// with 409 ConditionalRequestConflict (another conditional write to the
// key was in flight): the retry then succeeds or gets 412.
const putAttempts = 6

// Put implements blob.Store with a conditional PutObject (If-None-Match: *).
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	for attempt := 1; ; attempt++ {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:        &s.bucket,
			Key:           &key,
			Body:          bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))),
			IfNoneMatch:   aws.String("*"),
		})
		switch {
		case err == nil:
			return nil
		case isPreconditionFailed(err):
			return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, blob.ErrExists)
		case isConditionalConflict(err) && attempt < putAttempts:
			if err := sleep(ctx, backoff(attempt)); err != nil {
				return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
			}
		default:
			return fmt.Errorf("put s3://%s/%s: %w", s.bucket, key, err)
		}
	}
}

// Replace writes data under key whether or not the key holds something:
// a plain PutObject, outside blob.Store's write-once contract, for the one
// kind of object that is rewritten in place (the dashboard page, which
// readers fetch by a fixed key). contentType is its Content-Type.
func (s *Store) Replace(ctx context.Context, key, contentType string, data []byte) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &key,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
		ContentType:   aws.String(contentType),
	})
	if err != nil {
		return fmt.Errorf("replace s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// Get implements blob.Store.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: %w", s.bucket, key, err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("get s3://%s/%s: read body: %w", s.bucket, key, err)
	}
	return data, nil
}

// Open implements blob.Store: the GetObject body, streamed.
func (s *Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
	if isNotFound(err) {
		return nil, fmt.Errorf("open s3://%s/%s: %w", s.bucket, key, blob.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("open s3://%s/%s: %w", s.bucket, key, err)
	}
	return out.Body, nil
}

// Delete implements blob.Store with DeleteObject, which succeeds for a
// missing key too. On the template's versioned bucket it adds a delete
// marker: the bytes stay recoverable as a noncurrent version.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key}); err != nil && !isNotFound(err) {
		return fmt.Errorf("delete s3://%s/%s: %w", s.bucket, key, err)
	}
	return nil
}

// List implements blob.Store with ListObjectsV2 pages. S3 already returns
// keys in UTF-8 byte order; the sort makes that a guarantee of this
// package rather than of every emulator.
func (s *Store) List(ctx context.Context, prefix string) ([]string, error) {
	in := &s3.ListObjectsV2Input{Bucket: &s.bucket}
	if prefix != "" {
		in.Prefix = &prefix
	}
	keys := []string{}
	p := s3.NewListObjectsV2Paginator(s.client, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list s3://%s/%s: %w", s.bucket, prefix, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// CreateBucket creates bucket, succeeding if this account already owns it;
// for tests and emulators (on AWS the SAM template owns the bucket).
func CreateBucket(ctx context.Context, client *s3.Client, bucket string) error {
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket})
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

// DeleteBucket deletes every object version in bucket and then the bucket;
// tests call it to clean up after themselves.
func DeleteBucket(ctx context.Context, client *s3.Client, bucket string) error {
	p := s3.NewListObjectVersionsPaginator(client, &s3.ListObjectVersionsInput{Bucket: &bucket})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("delete bucket %s: list versions: %w", bucket, err)
		}
		var ids []types.ObjectIdentifier
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for chunk := range slices.Chunk(ids, 1000) {
			if _, err := client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
				Bucket: &bucket,
				Delete: &types.Delete{Objects: chunk, Quiet: aws.Bool(true)},
			}); err != nil {
				return fmt.Errorf("delete bucket %s: delete objects: %w", bucket, err)
			}
		}
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &bucket}); err != nil {
		return fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return nil
}

// isPreconditionFailed reports S3's refusal of If-None-Match: * on an
// existing key (HTTP 412).
func isPreconditionFailed(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed" {
		return true
	}
	return httpStatus(err) == http.StatusPreconditionFailed
}

// isConditionalConflict reports S3's 409 ConditionalRequestConflict: a
// concurrent conditional write to the same key was in progress.
func isConditionalConflict(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ConditionalRequestConflict"
}

func isNotFound(err error) bool {
	var nsk *types.NoSuchKey
	if errors.As(err, &nsk) {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "NoSuchKey"
}

func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// backoff is full-jitter exponential backoff: 20ms, 40ms, … capped at 1s.
func backoff(attempt int) time.Duration {
	d := min(20*time.Millisecond<<min(attempt-1, 10), time.Second)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
