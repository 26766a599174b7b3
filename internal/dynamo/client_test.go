package dynamo_test

import (
	"context"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/churnops/churnops/internal/awsemu"
	"github.com/churnops/churnops/internal/dynamo"
)

func TestNewClientEmulatorChecksum(t *testing.T) {
	for _, tc := range []struct {
		endpoint string
		want     bool
	}{{"http://127.0.0.1:4566", true}, {"", false}} {
		t.Setenv("AWS_ENDPOINT_URL", tc.endpoint)
		t.Setenv("AWS_REGION", "us-east-1")
		cfg, err := config.LoadDefaultConfig(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		opts := dynamo.NewClient(cfg).Options()
		if got := opts.DisableValidateResponseChecksum; got != tc.want {
			t.Errorf("endpoint %q: DisableValidateResponseChecksum %v, want %v", tc.endpoint, got, tc.want)
		}
		// The emulator's HTTP client (awsemu), only for an endpoint override.
		hc, ok := opts.HTTPClient.(*awshttp.BuildableClient)
		if !ok {
			t.Fatalf("endpoint %q: HTTP client %T", tc.endpoint, opts.HTTPClient)
		}
		if got := hc.GetTransport().IdleConnTimeout == awsemu.IdleTimeout; got != tc.want {
			t.Errorf("endpoint %q: idle timeout %v, emulator's = %v, want %v", tc.endpoint, hc.GetTransport().IdleConnTimeout, got, tc.want)
		}
	}
}
