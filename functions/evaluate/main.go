// Command evaluate is the Evaluate Lambda function of the retraining state machine:
// pipeline.Pipeline.Evaluate behind aws-lambda-go, on S3 and DynamoDB.
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
		log.Fatalf("evaluate: %v", err)
	}
	lambda.Start(b.Pipeline().Evaluate)
}
