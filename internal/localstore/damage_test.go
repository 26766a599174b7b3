package localstore_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
)

// damaged returns a state directory with one version registered whose
// file is then damaged by do.
func damagedState(t *testing.T, file string, do func(path string) error) string {
	t.Helper()
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{})
	for range 3 {
		if _, err := s.Registry.Register(t.Context(), registry.Version{Model: model}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := do(filepath.Join(dir, file)); err != nil {
		t.Fatal(err)
	}
	return dir
}

// garble overwrites the file's pages after the two meta pages: bbolt opens
// it and panics reading its freelist or its tree.
func garble(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.WriteAt([]byte(strings.Repeat("\xff", 4*4096)), 2*4096)
	return err
}

// TestDamagedFiles (#13 defects 3 and 4): a garbled or empty database file
// is refused with ErrDamaged naming the file — no panic, no new empty
// store in its place — and the refusal leaves no lock behind.
func TestDamagedFiles(t *testing.T) {
	cases := []struct {
		name string
		file string
		do   func(path string) error
	}{
		{"garbled registry.db", "registry.db", garble},
		{"garbled meta pages", "registry.db", func(path string) error {
			f, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = f.WriteAt([]byte(strings.Repeat("x", 2*4096)), 0)
			return err
		}},
		{"empty registry.db", "registry.db", func(path string) error { return os.Truncate(path, 0) }},
		{"registry.db missing beside data", "registry.db", func(path string) error {
			if err := os.WriteFile(filepath.Join(filepath.Dir(path), "blobs", "datasets"), []byte("x"), 0o600); err != nil {
				return err
			}
			return os.Remove(path)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := damagedState(t, tc.file, tc.do)
			before, _ := os.Stat(filepath.Join(dir, tc.file))
			for _, opts := range []localstore.Options{{}, {HoldLock: true}} {
				// At Open, or at the first read of what is garbled.
				s, err := localstore.Open(dir, opts)
				if err == nil {
					_, err = s.Registry.List(t.Context(), model)
					s.Close()
				}
				if !errors.Is(err, localstore.ErrDamaged) || !strings.Contains(err.Error(), tc.file) || !strings.Contains(err.Error(), "backup") {
					t.Errorf("Open %+v and List: %v; want ErrDamaged naming %s and what to do", opts, err, tc.file)
				}
			}
			after, _ := os.Stat(filepath.Join(dir, tc.file))
			if (before == nil) != (after == nil) || before != nil && before.Size() != after.Size() {
				t.Errorf("the refused open changed %s", tc.file)
			}
		})
	}
}

// TestDamageFoundLaterReleasesTheLock: damage met by an operation (not at
// Open: a long-running server's reload) is an error at once, every time,
// and leaves no lock behind: before, the panic kept the file locked and
// every later request waited 10 s for it. Once the file is replaced, it is
// read again.
func TestDamageFoundLaterReleasesTheLock(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{})
	for range 200 { // enough versions for a tree beyond the root page
		if _, err := s.Registry.Register(t.Context(), registry.Version{Model: model, Metrics: map[string]float64{"val_auc": 0.8}}); err != nil {
			t.Fatal(err)
		}
	}
	// Garble the pages past the first six, which Open reads (meta,
	// freelist, root): the tree below is what List walks.
	f, err := os.OpenFile(filepath.Join(dir, "registry.db"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	info, _ := f.Stat()
	if _, err := f.WriteAt([]byte(strings.Repeat("\xee", int(info.Size())-6*4096)), 6*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for i := range 3 {
		start := time.Now()
		if _, err := s.Registry.List(t.Context(), model); !errors.Is(err, localstore.ErrDamaged) {
			t.Fatalf("List #%d of a damaged file: %v, want ErrDamaged", i, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("List #%d took %s: it waited for a lock", i, d)
		}
	}
	other, err := localstore.Open(dir, localstore.Options{LockTimeout: 500 * time.Millisecond})
	if !errors.Is(err, localstore.ErrDamaged) {
		t.Errorf("another Open after the damaged reads: %v, want ErrDamaged (not ErrLocked: no lock is left behind)", err)
	}
	if err == nil {
		other.Close()
	}
	// Restored (here: a new, empty registry in its place), it is read again.
	if err := os.Remove(filepath.Join(dir, "registry.db")); err != nil {
		t.Fatal(err)
	}
	fresh := openState(t, t.TempDir(), localstore.Options{})
	fresh.Close()
	if err := os.Rename(filepath.Join(fresh.Dir, "registry.db"), filepath.Join(dir, "registry.db")); err != nil {
		t.Fatal(err)
	}
	if vs, err := s.Registry.List(t.Context(), model); err != nil || len(vs) != 0 {
		t.Errorf("List after the file was replaced: %d versions, %v; want the new file read", len(vs), err)
	}
}

// TestMustExist (#13 defect 13): a command that needs a state refuses a
// directory without one instead of creating an empty state there.
func TestMustExist(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "typo")
	if _, err := localstore.Open(dir, localstore.Options{MustExist: true}); !errors.Is(err, localstore.ErrNoState) {
		t.Errorf("Open of a missing state: %v, want ErrNoState", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the refused Open created %s", dir)
	}
	openState(t, dir, localstore.Options{}).Close()
	s, err := localstore.Open(dir, localstore.Options{MustExist: true})
	if err != nil {
		t.Fatalf("Open of an existing state: %v", err)
	}
	s.Close()
}
