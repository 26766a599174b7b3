// Command train is the Train Lambda function of the retraining state machine:
// pipeline.Pipeline.Train behind aws-lambda-go, on S3 and DynamoDB.
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
		log.Fatalf("train: %v", err)
	}
	lambda.Start(b.Pipeline().Train)
}
