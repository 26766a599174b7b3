// Command report is the Report Lambda function, the retraining state
// machine's last step: it records the execution and renders the dashboard
// to the bucket (runreport.Reporter.Report).
package main

import (
	"context"
	"log"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/runreport"
)

func main() {
	ctx := context.Background()
	b, err := awsbackend.FromEnv(ctx)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	sf, err := awsbackend.NewStepFunctions(ctx)
	if err != nil {
		log.Fatalf("report: %v", err)
	}
	r := &runreport.Reporter{
		History:  sf.History,
		Blobs:    b.Blobs,
		Registry: b.Registry,
		Model:    b.ModelName,
		// The page is the one object replaced in place (blobs are written once).
		Publish: func(ctx context.Context, key string, page []byte) error {
			return b.Blobs.Replace(ctx, key, "text/html; charset=utf-8", page)
		},
	}
	lambda.Start(r.Report)
}
