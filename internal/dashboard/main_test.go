package dashboard_test

import (
	"os"
	"testing"
)

// fixtureDirs are the shared fixture's directories, removed after the
// tests.
var fixtureDirs []string

func tempDir() (string, error) {
	d, err := os.MkdirTemp("", "dashboard-fixture-")
	if err == nil {
		fixtureDirs = append(fixtureDirs, d)
	}
	return d, err
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared != nil {
		shared.st.Close()
	}
	for _, d := range fixtureDirs {
		os.RemoveAll(d)
	}
	os.Exit(code)
}
