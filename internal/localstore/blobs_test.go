package localstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/localstore"
)

// TestBlobsOnDisk checks what the contract cannot see: where files land,
// that no temporary file is left, and that the directory cannot be escaped.
func TestBlobsOnDisk(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{})
	root := filepath.Join(dir, "blobs")

	if err := s.Blobs.Put(ctx, "reports/drift/a_vs_b.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(root, "reports", "drift", "a_vs_b.json")); err != nil || string(got) != "{}" {
		t.Errorf("file for the key: %q, %v", got, err)
	}
	if tmp, err := os.ReadDir(filepath.Join(root, ".tmp")); err != nil || len(tmp) != 0 {
		t.Errorf("temporary files left: %v, %v", tmp, err)
	}

	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(root, "escape")); err != nil {
		t.Fatal(err)
	}
	// Files a person drops in the directory that are not valid keys.
	for _, name := range []string{".DS_Store", "reports/.hidden"} {
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(name)), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("a symlink out of the directory is not followed", func(t *testing.T) {
		if err := s.Blobs.Put(ctx, "escape/x", []byte("x")); err == nil {
			t.Error("Put through a symlink out of the root succeeded")
		}
		if entries, _ := os.ReadDir(outside); len(entries) != 0 {
			t.Errorf("Put wrote outside the root: %v", entries)
		}
	})

	t.Run("List shows only keys", func(t *testing.T) {
		keys, err := s.Blobs.List(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"reports/drift/a_vs_b.json"}; !slices.Equal(keys, want) {
			t.Errorf("List: %q, want %q", keys, want)
		}
	})

	conflicts := []struct {
		name, key string
	}{
		{"a key below a key", "reports/drift/a_vs_b.json/x"},
		{"a key above keys", "reports/drift"},
	}
	for _, c := range conflicts {
		t.Run(c.name, func(t *testing.T) {
			if err := s.Blobs.Put(ctx, c.key, []byte("x")); !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("Put %q: err %v, want ErrBadKey (a file system cannot hold both)", c.key, err)
			}
		})
	}
}

// TestBlobsRemoveStaleTemporaryFiles checks that leftovers of a crashed Put
// are cleaned at open, and fresh ones (a Put in progress) are not.
func TestBlobsRemoveStaleTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	tmp := filepath.Join(dir, "blobs", ".tmp")
	if err := os.MkdirAll(tmp, 0o700); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name     string
		age      time.Duration
		wantKept bool
	}{
		{"stale", 48 * time.Hour, false},
		{"fresh", time.Minute, true},
	}
	for _, f := range files {
		p := filepath.Join(tmp, f.name)
		if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
			t.Fatal(err)
		}
		old := time.Now().Add(-f.age)
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	openState(t, dir, localstore.Options{})
	for _, f := range files {
		_, err := os.Stat(filepath.Join(tmp, f.name))
		if kept := err == nil; kept != f.wantKept {
			t.Errorf("%s temporary file kept=%v, want %v", f.name, kept, f.wantKept)
		}
	}
}
