// Command predict is the POST /predict Lambda function behind API Gateway
// (HTTP API v2 or REST v1 proxy events): the same serve.Service as
// `churnops serve`, with the Production model kept warm across invocations
// and re-checked at most every CHURNOPS_RELOAD_INTERVAL.
package main

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/churnops/churnops/internal/apigw"
	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/training"
)

func main() {
	ctx := context.Background()
	b, err := awsbackend.FromEnv(ctx)
	if err != nil {
		log.Fatalf("predict: %v", err)
	}
	reload, err := time.ParseDuration(envOr("CHURNOPS_RELOAD_INTERVAL", "30s"))
	if err != nil {
		log.Fatalf("predict: CHURNOPS_RELOAD_INTERVAL: %v", err)
	}
	svc, err := serve.New(serve.Config{
		ModelName: b.ModelName, Registry: b.Registry, Blobs: b.Blobs, Features: b.Features,
		Loader: serve.GBDTLoader(training.Spec()), ReloadInterval: reload, Logger: awsbackend.Logger(),
	})
	if err != nil {
		log.Fatalf("predict: %v", err)
	}
	// Load during init (free CPU burst on Lambda); a failure is logged and
	// retried on the first request rather than crashing the sandbox.
	_ = svc.Reload(ctx)
	lambda.Start(apigw.Handler(svc.Handler()))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
