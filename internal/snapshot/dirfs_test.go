//go:build unix

package snapshot_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// within runs load and fails the test if it has not returned after d (a
// FIFO blocks a plain open forever; the goroutine is then left behind).
func within(t *testing.T, d time.Duration, load func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- load() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("still reading after %s", d)
		return nil
	}
}

// TestOnlyRegularFiles (#13 defect 10): a month directory's CSV names must
// be regular files within the size limit; a FIFO, a device or a file too
// large is refused at once, naming the file.
func TestOnlyRegularFiles(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(t *testing.T, users string) // replaces users.csv
		max     int64
		wantErr error
	}{
		{"a FIFO", func(t *testing.T, users string) {
			if err := syscall.Mkfifo(users, 0o600); err != nil {
				t.Skipf("mkfifo: %v", err)
			}
		}, snapshot.DefaultMaxFileBytes, snapshot.ErrNotRegular},
		{"a link to /dev/zero", func(t *testing.T, users string) {
			if err := os.Symlink("/dev/zero", users); err != nil {
				t.Fatal(err)
			}
		}, snapshot.DefaultMaxFileBytes, snapshot.ErrNotRegular},
		{"a directory", func(t *testing.T, users string) {
			if err := os.Mkdir(users, 0o700); err != nil {
				t.Fatal(err)
			}
		}, snapshot.DefaultMaxFileBytes, snapshot.ErrNotRegular},
		{"larger than the limit", func(t *testing.T, users string) {
			if err := os.WriteFile(users, []byte(tinyMonth()["users.csv"]), 0o600); err != nil {
				t.Fatal(err)
			}
		}, 64, snapshot.ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			files := tinyMonth()
			delete(files, "users.csv")
			dir := writeFiles(t, files)
			tc.setup(t, filepath.Join(dir, "users.csv"))
			err := within(t, 5*time.Second, func() error {
				_, err := snapshot.LoadContext(t.Context(), dir, asOf0, tc.max)
				return err
			})
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), "users.csv") {
				t.Errorf("LoadContext: %v, want %v naming users.csv", err, tc.wantErr)
			}
		})
	}
}

// TestRegularFilesStillLoad: a symbolic link to a regular file is followed,
// and a file exactly at the limit is read whole.
func TestRegularFilesStillLoad(t *testing.T) {
	files := tinyMonth()
	dir := writeFiles(t, files)
	elsewhere := filepath.Join(t.TempDir(), "users-export.csv")
	if err := os.Rename(filepath.Join(dir, "users.csv"), elsewhere); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, filepath.Join(dir, "users.csv")); err != nil {
		t.Fatal(err)
	}
	largest := int64(0)
	for _, text := range files {
		largest = max(largest, int64(len(text)))
	}
	m, err := snapshot.LoadContext(t.Context(), dir, asOf0, largest)
	if err != nil || len(m.Customers) != 3 {
		t.Fatalf("LoadContext at the limit through a link: %v", err)
	}
}

// TestLoadStopsWhenCancelled: reading stops with the context's error.
func TestLoadStopsWhenCancelled(t *testing.T) {
	dir := writeFiles(t, tinyMonth())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := snapshot.LoadContext(ctx, dir, asOf0, snapshot.DefaultMaxFileBytes); !errors.Is(err, context.Canceled) {
		t.Errorf("LoadContext with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestFileGrowingPastTheLimit: a file that grows after its size was
// checked is cut off with ErrTooLarge, not read on without end.
func TestFileGrowingPastTheLimit(t *testing.T) {
	dir := writeFiles(t, tinyMonth())
	fsys := snapshot.DirFS(t.Context(), dir, 1000)
	f, err := fsys.Open("users.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	grow, err := os.OpenFile(filepath.Join(dir, "users.csv"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := grow.WriteString(strings.Repeat("x", 2000)); err != nil {
		t.Fatal(err)
	}
	grow.Close()
	buf := make([]byte, 4096)
	var total int
	for {
		n, err := f.Read(buf)
		total += n
		if err != nil {
			if !errors.Is(err, snapshot.ErrTooLarge) || total != 1000 {
				t.Errorf("read %d bytes, then %v; want 1000 and ErrTooLarge", total, err)
			}
			return
		}
	}
}
