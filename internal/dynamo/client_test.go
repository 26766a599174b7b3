package dynamo_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/config"
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
		if got := dynamo.NewClient(cfg).Options().DisableValidateResponseChecksum; got != tc.want {
			t.Errorf("endpoint %q: DisableValidateResponseChecksum %v, want %v", tc.endpoint, got, tc.want)
		}
	}
}
