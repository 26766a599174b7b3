// Package awsemu holds what AWS SDK clients need when they talk to an
// emulator (MiniStack, LocalStack) through an endpoint override instead of
// to AWS. The S3 and DynamoDB adapters both use it, so the two cannot drift.
package awsemu

import (
	"net/http"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// IdleTimeout is how long a client built for an emulator keeps an idle
// connection: below the 5 s keep-alive of the HTTP servers MiniStack and
// LocalStack run on.
const IdleTimeout = 2 * time.Second

// HTTPClient returns the HTTP client for an SDK client built for an
// emulator. It drops idle connections before the emulator's keep-alive
// does: a request written on a connection the server is closing fails, and
// the SDK retries it even when the server had already applied it, so a
// conditional write would then fail its own condition.
func HTTPClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.IdleConnTimeout = IdleTimeout
	})
}
