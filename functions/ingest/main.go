// Command ingest is the Ingest Lambda function of the retraining state
// machine: one action of a sharded ingest (plan, partition, build, commit,
// prune: pipeline.Pipeline.IngestStep) on S3 and DynamoDB.
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/churnops/churnops/internal/awsbackend"
)

func main() {
	b, err := awsbackend.FromEnv(context.Background())
	if err != nil {
		log.Fatalf("ingest: %v", err)
	}
	lambda.Start(b.Pipeline().IngestStep)
}
