//go:build unix

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestIngestRefusesWhatIsNotAFile (#13 defect 10): ingest reads only
// regular files, within --max-file-bytes; a FIFO named users.csv used to
// hang it (deaf to Ctrl-C), a link to /dev/zero to fill memory.
func TestIngestRefusesWhatIsNotAFile(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "1", "--users", "600", "--seed", "5")
	month := filepath.Join(data, "month_000")
	users := filepath.Join(month, "users.csv")
	cases := []struct {
		name    string
		setup   func(t *testing.T)
		extra   []string
		wantErr string
	}{
		{"larger than --max-file-bytes", func(*testing.T) {}, []string{"--max-file-bytes", "1000"}, "users.csv: file larger than the limit"},
		{"a FIFO", func(t *testing.T) {
			if err := os.Rename(users, users+".real"); err != nil {
				t.Fatal(err)
			}
			if err := syscall.Mkfifo(users, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, nil, "users.csv: not a regular file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.setup(t)
			type result struct {
				code      int
				out, errs string
			}
			done := make(chan result, 1)
			go func() {
				code, out, errs := churnops(t, append([]string{"ingest", "--state", filepath.Join(dir, "state"), "--data", month, "--as-of", "2024-01-31"}, tc.extra...)...)
				done <- result{code, out, errs}
			}()
			select {
			case r := <-done:
				if r.code != 1 || !strings.Contains(r.errs, tc.wantErr) {
					t.Errorf("exit %d, stderr %q; want exit 1 with %q", r.code, r.errs, tc.wantErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("ingest still running after 10 s")
			}
		})
	}
}
