package awsemu_test

import (
	"testing"

	"github.com/churnops/churnops/internal/awsemu"
)

func TestHTTPClientDropsIdleConnectionsEarly(t *testing.T) {
	tr := awsemu.HTTPClient().GetTransport()
	if tr.IdleConnTimeout != awsemu.IdleTimeout {
		t.Fatalf("IdleConnTimeout %v, want %v", tr.IdleConnTimeout, awsemu.IdleTimeout)
	}
	// Below the emulators' 5 s keep-alive, with room for a slow write.
	if awsemu.IdleTimeout <= 0 || awsemu.IdleTimeout > 4e9 {
		t.Fatalf("IdleTimeout %v must be positive and well below 5s", awsemu.IdleTimeout)
	}
}
