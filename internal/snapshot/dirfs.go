package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultMaxFileBytes bounds each file of a month directory that Load
// reads: far above a month of millions of customers (a users.csv of 10
// million rows is about 1 GB), low enough that a mistaken path (a link to
// /dev/zero, a disk image) fails at once instead of filling memory.
// Callers raise it with LoadContext's maxFileBytes (`churnops ingest
// --max-file-bytes`).
const DefaultMaxFileBytes int64 = 4 << 30

// Errors of DirFS's Open, wrapped in an *fs.PathError.
var (
	// ErrNotRegular: the name is a FIFO, a device, a socket or a
	// directory. A FIFO would block the reader forever; a device like
	// /dev/zero never ends.
	ErrNotRegular = errors.New("not a regular file")
	// ErrTooLarge: the file is larger than the limit.
	ErrTooLarge = errors.New("file larger than the limit")
)

// DirFS is the directory dir as a read-only file system that opens only
// regular files (symbolic links are followed to one) of at most maxBytes,
// and whose files stop reading with ctx's error once ctx ends. Load reads
// month directories through it: they are given on the command line and may
// hold anything.
func DirFS(ctx context.Context, dir string, maxBytes int64) fs.FS {
	return dirFS{ctx: ctx, dir: dir, max: maxBytes}
}

type dirFS struct {
	ctx context.Context
	dir string
	max int64
}

func (d dirFS) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if err := d.ctx.Err(); err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	path := filepath.Join(d.dir, filepath.FromSlash(name))
	before, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := d.check(name, before); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should a FIFO replace the file between Stat and here,
	// opening it must not wait for a writer (on a regular file the flag
	// does nothing).
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	after, err := f.Stat()
	if err == nil && !os.SameFile(before, after) {
		err = &fs.PathError{Op: "open", Path: name, Err: errors.New("replaced while being opened")}
	}
	if err == nil {
		err = d.check(name, after)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &limitedFile{File: f, ctx: d.ctx, name: name, left: d.max}, nil
}

func (d dirFS) check(name string, info fs.FileInfo) error {
	switch {
	case !info.Mode().IsRegular():
		return &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w (%s)", ErrNotRegular, info.Mode().Type())}
	case info.Size() > d.max:
		return &fs.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, info.Size(), d.max)}
	}
	return nil
}

// limitedFile reads a file up to its limit (it may grow after the check)
// and until its context ends.
type limitedFile struct {
	*os.File
	ctx  context.Context
	name string
	left int64
}

func (f *limitedFile) Read(p []byte) (int, error) {
	if err := f.ctx.Err(); err != nil {
		return 0, err
	}
	if f.left <= 0 {
		// One byte more than the limit tells a file that grew from one
		// that ends exactly there.
		var one [1]byte
		if n, _ := f.File.Read(one[:]); n > 0 {
			return 0, &fs.PathError{Op: "read", Path: f.name, Err: ErrTooLarge}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > f.left {
		p = p[:f.left]
	}
	n, err := f.File.Read(p)
	f.left -= int64(n)
	return n, err
}
