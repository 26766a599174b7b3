//go:build integration

package s3store_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/churnops/churnops/internal/awsemu/awsemutest"
	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/s3store"
)

// newClient returns an S3 client on the emulator named by AWS_ENDPOINT_URL
// (or AWS_ENDPOINT_URL_S3), or skips the test.
func newClient(t *testing.T) *s3.Client {
	t.Helper()
	return s3store.NewClient(awsemutest.Config(t, "AWS_ENDPOINT_URL_S3"))
}

var bucketSeq atomic.Int64

// bucketSetup configures a fresh bucket the way a deployment might.
type bucketSetup func(ctx context.Context, c *s3.Client, bucket string) error

func plain(context.Context, *s3.Client, string) error { return nil }

// likeTemplate turns on what template.yaml turns on for the data bucket:
// versioning and default encryption. Conditional writes must still refuse
// a second Put when S3 would otherwise keep both as versions.
func likeTemplate(ctx context.Context, c *s3.Client, bucket string) error {
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
		Bucket:                  &bucket,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
	}); err != nil {
		return fmt.Errorf("versioning: %w", err)
	}
	_, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
		Bucket: &bucket,
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
			Rules: []types.ServerSideEncryptionRule{{
				ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256},
			}},
		},
	})
	if err != nil {
		return fmt.Errorf("encryption: %w", err)
	}
	return nil
}

// freshBucket creates a uniquely named bucket for one test and deletes it,
// with everything in it, when the test ends.
func freshBucket(t *testing.T, c *s3.Client, setup bucketSetup) string {
	t.Helper()
	bucket := fmt.Sprintf("churnops-test-%d-%d", time.Now().UnixNano(), bucketSeq.Add(1))
	if err := s3store.CreateBucket(t.Context(), c, bucket); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	t.Cleanup(func() {
		if err := s3store.DeleteBucket(context.Background(), c, bucket); err != nil {
			t.Errorf("DeleteBucket: %v", err)
		}
	})
	if err := setup(t.Context(), c, bucket); err != nil {
		t.Fatalf("set up bucket %s: %v", bucket, err)
	}
	return bucket
}

func TestStoreContract(t *testing.T) {
	c := newClient(t)
	cases := []struct {
		name  string
		setup bucketSetup
	}{
		{"plain bucket", plain},
		{"versioned encrypted bucket", likeTemplate},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			blobtest.Run(t, func(t *testing.T) blob.Store {
				return s3store.New(c, freshBucket(t, c, tc.setup))
			})
		})
	}
}

// TestCreateBucketIsIdempotent: tests and the local demo call CreateBucket
// on every start.
func TestCreateBucketIsIdempotent(t *testing.T) {
	c := newClient(t)
	bucket := freshBucket(t, c, plain)
	if err := s3store.CreateBucket(t.Context(), c, bucket); err != nil {
		t.Errorf("second CreateBucket: %v", err)
	}
}
