package localstore

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/crashpoint"
)

// tmpDir holds files being written, inside the blob root so that a link to
// the final path stays on one file system. Keys cannot start with '.', so
// it never collides with a key and List skips it.
const tmpDir = ".tmp"

// staleTmp is the age past which a temporary file is a leftover of a
// crashed Put and is removed at open.
const staleTmp = 24 * time.Hour

// Blobs is the embedded blob.Store: one file per key under a directory,
// blobs/<key>. All access goes through an os.Root, so no key (and no
// symlink planted in the directory) reaches outside it.
//
// A file system cannot hold both a key and keys below it ("a" and "a/b");
// S3 can. Put refuses the second of such a pair with blob.ErrBadKey; the
// pipeline's keys (datasets/…, models/…, reports/…) never form one.
type Blobs struct {
	dir  string
	root *os.Root
}

var _ blob.Store = (*Blobs)(nil)

func openBlobs(dir string) (*Blobs, error) {
	if err := os.MkdirAll(filepath.Join(dir, tmpDir), 0o700); err != nil {
		return nil, fmt.Errorf("open blobs: %w", err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open blobs: %w", err)
	}
	b := &Blobs{dir: dir, root: root}
	b.removeStaleTmp()
	return b, nil
}

// removeStaleTmp removes temporary files old enough that no Put can still
// be writing them. It is best effort: a leftover only wastes space.
func (b *Blobs) removeStaleTmp() {
	entries, err := fs.ReadDir(b.root.FS(), tmpDir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > staleTmp {
			_ = b.root.Remove(path.Join(tmpDir, e.Name()))
		}
	}
}

func (b *Blobs) close() error {
	if err := b.root.Close(); err != nil {
		return fmt.Errorf("close blobs %s: %w", b.dir, err)
	}
	return nil
}

// Put writes data to a temporary file, fsyncs it, and hard-links it to the
// key's path. link(2) fails if the path exists, so of concurrent Puts (from
// any process) exactly one wins, an existing key is never replaced, and the
// key only ever names a complete file. (rename would replace an existing
// key; creating the final path with O_EXCL would expose a half-written
// file, and leave one after a crash.)
func (b *Blobs) Put(ctx context.Context, key string, data []byte) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := b.put(ctx, key, data); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	return nil
}

func (b *Blobs) put(ctx context.Context, key string, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	name := filepath.FromSlash(key)
	dir := filepath.Dir(name)
	if err := b.root.MkdirAll(dir, 0o700); err != nil {
		if conflict := b.prefixIsKey(key); conflict != "" {
			return fmt.Errorf("key %s is taken by a file, so no key can be below it here: %w", conflict, blob.ErrBadKey)
		}
		return err
	}

	tmp := filepath.Join(tmpDir, rand.Text())
	f, err := b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	// After the link the key keeps the data; a leftover is cleaned at open.
	defer b.root.Remove(tmp)
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if err := b.root.Link(tmp, name); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return err
		}
		if info, serr := b.root.Lstat(name); serr == nil && info.IsDir() {
			return fmt.Errorf("keys exist below it, so it cannot be a key here: %w", blob.ErrBadKey)
		}
		return blob.ErrExists
	}
	if err := b.syncDirs(dir); err != nil {
		return err
	}
	crashpoint.Hit("blob put " + key)
	return nil
}

// prefixIsKey returns the first proper prefix of key (at a '/') that is
// stored as a file, or "".
func (b *Blobs) prefixIsKey(key string) string {
	for i, c := range key {
		if c != '/' {
			continue
		}
		if info, err := b.root.Lstat(filepath.FromSlash(key[:i])); err == nil && !info.IsDir() {
			return key[:i]
		}
	}
	return ""
}

// syncDirs fsyncs dir and its parents up to the root, so the new directory
// entries (the key's link and any directory MkdirAll made) survive a crash.
// Windows cannot fsync a directory and does not need to.
func (b *Blobs) syncDirs(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	for {
		d, err := b.root.Open(dir)
		if err != nil {
			return err
		}
		err = d.Sync()
		if cerr := d.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("sync %s: %w", dir, err)
		}
		if dir == "." {
			return nil
		}
		dir = filepath.Dir(dir)
	}
}

// Get reads the file of key.
func (b *Blobs) Get(ctx context.Context, key string) ([]byte, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	data, err := b.get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	return data, nil
}

func (b *Blobs) get(ctx context.Context, key string) ([]byte, error) {
	f, size, err := b.open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Files are complete when linked and never rewritten, so the size is
	// final.
	data := make([]byte, size)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, err
	}
	return data, nil
}

// open opens the file of key for reading and returns its size.
func (b *Blobs) open(ctx context.Context, key string) (*os.File, int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, err
	}
	f, err := b.root.Open(filepath.FromSlash(key))
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil, 0, blob.ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	if !info.Mode().IsRegular() { // a "directory" of keys is not a key
		f.Close()
		return nil, 0, blob.ErrNotFound
	}
	return f, info.Size(), nil
}

// Open streams the file of key.
func (b *Blobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("open: %w", err)
	}
	f, _, err := b.open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", key, err)
	}
	return f, nil
}

// Delete unlinks the file of key and syncs its directory, so the removal
// survives a crash. A reader that opened the file before keeps reading the
// complete old bytes (the inode lives until it is closed).
func (b *Blobs) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	name := filepath.FromSlash(key)
	info, err := b.root.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		return nil
	case err != nil:
		return fmt.Errorf("delete %s: %w", key, err)
	case info.IsDir(): // keys below it, not a key: nothing to delete
		return nil
	}
	if err := b.root.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	if err := b.syncDirs(filepath.Dir(name)); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	crashpoint.Hit("blob delete " + key)
	return nil
}

// List walks only the directories that can hold keys with prefix, then
// sorts, since a per-directory walk orders "a/b" before "a-c".
func (b *Blobs) List(ctx context.Context, prefix string) ([]string, error) {
	start := "."
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = prefix[:i]
		if blob.CheckKey(start) != nil {
			return nil, nil // no valid key lies below an invalid one
		}
	}
	var keys []string
	err := fs.WalkDir(b.root.FS(), start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && (errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.IsDir() {
			if p == "." {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") || // tmpDir, or not ours
				!strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() && strings.HasPrefix(p, prefix) && blob.CheckKey(p) == nil {
			keys = append(keys, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	slices.Sort(keys)
	return keys, nil
}

// ModTime is when key's file was linked into place (its modification
// time): what an S3 listing reports as LastModified.
func (b *Blobs) ModTime(ctx context.Context, key string) (time.Time, error) {
	if err := blob.CheckKey(key); err != nil {
		return time.Time{}, fmt.Errorf("stat: %w", err)
	}
	f, _, err := b.open(ctx, key)
	if err != nil {
		return time.Time{}, fmt.Errorf("stat %s: %w", key, err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return info.ModTime(), nil
}
