// Command compare is the Compare Lambda function of the retraining state machine:
// pipeline.Pipeline.Compare behind aws-lambda-go, on S3 and DynamoDB.
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
		log.Fatalf("compare: %v", err)
	}
	lambda.Start(b.Pipeline().Compare)
}
