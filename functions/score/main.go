// Command score is the Score Lambda function of the retraining state
// machine: one action of a month's batch scoring (plan, shard, summary:
// pipeline.Pipeline.ScoreStep) on S3 and DynamoDB.
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
		log.Fatalf("score: %v", err)
	}
	lambda.Start(b.Pipeline().ScoreStep)
}
