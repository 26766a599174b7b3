//go:build unix

package ingest_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/snapshot"
)

// TestDirReadsRegularFilesOnly: a directory source reads as Load does —
// a FIFO named like a table is refused at once (never opened for
// reading, which would block), and so is a file over the size limit.
func TestDirReadsRegularFilesOnly(t *testing.T) {
	dir, _ := genMonth(t, 300)
	ctx := context.Background()
	t.Run("larger than the limit", func(t *testing.T) {
		_, err := ingest.Run(ctx, ingest.DirLimit(dir, 1000), newStore(t), asOf0, ingest.Options{})
		if !errors.Is(err, snapshot.ErrTooLarge) || !strings.Contains(err.Error(), "users.csv") {
			t.Errorf("error %v, want users.csv too large", err)
		}
	})
	t.Run("a FIFO", func(t *testing.T) {
		users := filepath.Join(dir, "users.csv")
		if err := os.Rename(users, users+".real"); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Mkfifo(users, 0o600); err != nil {
			t.Skipf("mkfifo: %v", err)
		}
		_, err := ingest.Run(ctx, ingest.Dir(dir), newStore(t), asOf0, ingest.Options{})
		if !errors.Is(err, snapshot.ErrNotRegular) {
			t.Errorf("error %v, want not a regular file", err)
		}
	})
	t.Run("the limit travels with the plan", func(t *testing.T) {
		ref := ingest.DirLimit(dir, 1234).Ref()
		src, err := ingest.OpenSource(ref, nil)
		if err != nil || src.Ref() != ref || ref.MaxFileBytes != 1234 {
			t.Errorf("reopened %+v from %+v: %v", src.Ref(), ref, err)
		}
	})
}
