package dynamo

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/churnops/churnops/internal/awsemu"
)

// NewClient returns a DynamoDB client for cfg (as loaded by
// config.LoadDefaultConfig). When an endpoint override is configured
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, or cfg.BaseEndpoint), it
// skips the CRC32 check of responses (emulators do not always compute it)
// and drops idle connections after awsemu.IdleTimeout, before an
// emulator's own keep-alive timeout closes them: either makes the SDK
// retry a conditional write that already succeeded, which then fails its
// own condition. optFns apply last.
func NewClient(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	fns := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		if o.BaseEndpoint != nil {
			o.DisableValidateResponseChecksum = true
			o.HTTPClient = awsemu.HTTPClient()
		}
	}}, optFns...)
	return dynamodb.NewFromConfig(cfg, fns...)
}
