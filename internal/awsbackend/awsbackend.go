// Package awsbackend assembles the pipeline's stores on AWS — S3 for blobs,
// DynamoDB for the registry and the online features — from the environment
// the SAM template sets (CHURNOPS_BUCKET, CHURNOPS_REGISTRY_TABLE,
// CHURNOPS_FEATURES_TABLE) and the SDK's standard configuration, including
// AWS_ENDPOINT_URL for emulators. The Lambda functions and
// `churnops --backend aws` share it, so they cannot disagree on wiring.
package awsbackend

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/s3store"
)

// EnvModelName names the registry model the functions work on.
const EnvModelName = "CHURNOPS_MODEL_NAME"

// Backend holds the AWS-backed stores.
type Backend struct {
	Blobs     *s3store.Store
	Registry  *dynamo.Registry
	Features  *dynamo.FeatureStore
	ModelName string
}

// FromEnv builds the stores from the environment. Every variable it needs
// must be set: a function deployed without them fails at cold start with a
// message naming the variable, not on its first request. In a Lambda it
// also sets the process's soft heap limit from the function's memory
// (memoryLimit).
func FromEnv(ctx context.Context) (*Backend, error) {
	setMemoryLimit()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	bucket := s3store.BucketFromEnv()
	tables := dynamo.TableNamesFromEnv()
	for name, v := range map[string]string{s3store.EnvBucket: bucket, dynamo.EnvRegistryTable: tables.Registry, dynamo.EnvFeaturesTable: tables.Features} {
		if v == "" {
			return nil, fmt.Errorf("environment variable %s is not set", name)
		}
	}
	db := dynamo.NewClient(cfg)
	model := os.Getenv(EnvModelName)
	if model == "" {
		model = pipeline.DefaultModelName
	}
	return &Backend{
		Blobs:     s3store.New(s3store.NewClient(cfg), bucket),
		Registry:  dynamo.NewRegistry(db, tables.Registry),
		Features:  dynamo.NewFeatureStore(db, tables.Features),
		ModelName: model,
	}, nil
}

// Pipeline returns the steps on these stores, logging as JSON to stdout
// (Lambda's JSON log format).
func (b *Backend) Pipeline() *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Blobs:    b.Blobs,
		Registry: b.Registry,
		Features: b.Features,
		Log:      Logger(),
	}
}

// Logger is the JSON logger the functions use.
func Logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(os.Stdout, nil))
}
