package dynamo

import (
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// NewClient returns a DynamoDB client for cfg (as loaded by
// config.LoadDefaultConfig). When an endpoint override is configured
// (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_DYNAMODB, or cfg.BaseEndpoint), it
// skips the CRC32 check of responses (emulators do not always compute it)
// and drops idle connections after EmulatorIdleTimeout, before an
// emulator's own keep-alive timeout closes them: either makes the SDK
// retry a conditional write that already succeeded, which then fails its
// own condition. optFns apply last.
func NewClient(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	fns := append([]func(*dynamodb.Options){func(o *dynamodb.Options) {
		if o.BaseEndpoint != nil {
			o.DisableValidateResponseChecksum = true
			o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
				tr.IdleConnTimeout = EmulatorIdleTimeout
			})
		}
	}}, optFns...)
	return dynamodb.NewFromConfig(cfg, fns...)
}

// EmulatorIdleTimeout is how long a client built for an endpoint override
// keeps an idle connection: below the 5 s keep-alive of the HTTP servers
// MiniStack and LocalStack run on.
const EmulatorIdleTimeout = 2 * time.Second
