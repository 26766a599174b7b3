// Package awsemutest points integration tests at an emulator, and skips
// them when none is configured: they create and delete buckets, tables and
// stacks, and must never run against a real account by accident.
package awsemutest

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
)

// RequireEndpoint skips t unless AWS_ENDPOINT_URL, or one of the
// service-specific variables named (AWS_ENDPOINT_URL_S3, …), is set.
func RequireEndpoint(t testing.TB, serviceVars ...string) {
	t.Helper()
	for _, v := range append([]string{"AWS_ENDPOINT_URL"}, serviceVars...) {
		if os.Getenv(v) != "" {
			return
		}
	}
	t.Skip("AWS_ENDPOINT_URL is not set: run `make test-integration`, or start an emulator " +
		"(scripts/ministack.sh start) and export AWS_ENDPOINT_URL=http://127.0.0.1:4566 with dummy credentials")
}

// Config is RequireEndpoint, then the SDK's configuration, whose own
// endpoint resolution reads those variables.
func Config(t testing.TB, serviceVars ...string) aws.Config {
	t.Helper()
	RequireEndpoint(t, serviceVars...)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatalf("load AWS config: %v", err)
	}
	return cfg
}
