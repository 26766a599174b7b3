package ingest

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/snapshot"
)

// Source is where a month's input files are: a directory on a laptop, or a
// prefix of the blob store (incoming/as_of=YYYY-MM-DD/ in the bucket).
type Source interface {
	// Files lists every file of the month: names relative to the month's
	// root, '/'-separated, sorted bytewise.
	Files(ctx context.Context) ([]File, error)
	// Open streams one file by its relative name.
	Open(ctx context.Context, name string) (io.ReadCloser, error)
	// Ref says how to open the source again, in another process.
	Ref() SourceRef
}

// File is one file of a source. Size is -1 when the source cannot tell
// without reading it (a blob store lists keys, not sizes).
type File struct {
	Name string `json:"name"`
	Size int64  `json:"size"`
}

// Source kinds.
const (
	KindDir  = "dir"
	KindBlob = "blob"
)

// SourceRef names a source in a plan (JSON): a directory path, or a key
// prefix ending in '/' in the blob store the ingest writes to.
type SourceRef struct {
	Kind string `json:"kind"`
	Path string `json:"path"`
	// MaxFileBytes bounds each file of a directory source (0:
	// snapshot.DefaultMaxFileBytes), so that every process reading it
	// applies the limit the ingest was started with.
	MaxFileBytes int64 `json:"max_file_bytes,omitempty"`
}

// String is the directory or the prefix: what problems name as their source.
func (r SourceRef) String() string { return r.Path }

// OpenSource opens the source r names; blob sources read from store.
func OpenSource(r SourceRef, store blob.Store) (Source, error) {
	switch r.Kind {
	case KindDir:
		return DirLimit(r.Path, r.MaxFileBytes), nil
	case KindBlob:
		if store == nil {
			return nil, fmt.Errorf("ingest: blob source %s: no store", r.Path)
		}
		return Blob(store, r.Path), nil
	}
	return nil, fmt.Errorf("ingest: unknown source kind %q", r.Kind)
}

// Dir is a month in a local directory: the lab's six CSV files, or the
// part-file layout (users/part-00000.csv …). A marker is not required: the
// lab's directories have none. The path is made absolute, so that a plan
// names it for a process started elsewhere. Files are read as Load reads
// them (snapshot.DirFS): regular files only (a FIFO or a link to a device
// is refused, never read), each of at most snapshot.DefaultMaxFileBytes.
func Dir(path string) Source { return DirLimit(path, 0) }

// DirLimit is Dir reading files of at most maxFileBytes (0:
// snapshot.DefaultMaxFileBytes).
func DirLimit(path string, maxFileBytes int64) Source {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if maxFileBytes <= 0 {
		maxFileBytes = snapshot.DefaultMaxFileBytes
	}
	return dirSource{path: filepath.Clean(path), max: maxFileBytes}
}

type dirSource struct {
	path string
	max  int64
}

func (d dirSource) Ref() SourceRef {
	r := SourceRef{Kind: KindDir, Path: d.path}
	if d.max != snapshot.DefaultMaxFileBytes {
		r.MaxFileBytes = d.max
	}
	return r
}

func (d dirSource) Files(ctx context.Context) ([]File, error) {
	st, err := os.Stat(d.path)
	if err != nil {
		return nil, fmt.Errorf("ingest: month directory: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("ingest: month directory %s: not a directory", d.path)
	}
	var files []File
	err = fs.WalkDir(os.DirFS(d.path), ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if e.IsDir() {
			if p != "." && ignored(e.Name()) {
				return fs.SkipDir
			}
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		files = append(files, File{Name: p, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", d.path, err)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

func (d dirSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	f, err := snapshot.DirFS(ctx, d.path, d.max).Open(name)
	if err != nil {
		return nil, fmt.Errorf("ingest: open %s: %w", name, err)
	}
	return f, nil
}

// Blob is a month under prefix (ending in '/') in store, as it lands in
// the bucket: incoming/as_of=YYYY-MM-DD/users.csv or …/users/part-*.csv,
// and a marker written last.
func Blob(store blob.Store, prefix string) Source {
	if prefix != "" && !strings.HasSuffix(prefix, "/") {
		prefix += "/"
	}
	return blobSource{store: store, prefix: prefix}
}

type blobSource struct {
	store  blob.Store
	prefix string
}

func (b blobSource) Ref() SourceRef { return SourceRef{Kind: KindBlob, Path: b.prefix} }

func (b blobSource) Files(ctx context.Context) ([]File, error) {
	keys, err := b.store.List(ctx, b.prefix)
	if err != nil {
		return nil, fmt.Errorf("ingest: list %s: %w", b.prefix, err)
	}
	files := make([]File, len(keys))
	for i, k := range keys {
		files[i] = File{Name: strings.TrimPrefix(k, b.prefix), Size: -1}
	}
	return files, nil
}

func (b blobSource) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	r, err := b.store.Open(ctx, b.prefix+name)
	if err != nil {
		return nil, fmt.Errorf("ingest: open %s: %w", b.prefix+name, err)
	}
	return r, nil
}

// openPart opens a part file, decompressing a .gz one.
func openPart(ctx context.Context, src Source, name string) (io.ReadCloser, error) {
	r, err := src.Open(ctx, name)
	if err != nil || !strings.HasSuffix(name, ".gz") {
		return r, err
	}
	zr, err := gzip.NewReader(r)
	if err != nil {
		r.Close()
		if corruptGzip(err) || err == io.EOF {
			return nil, &gzipError{name: name, err: err}
		}
		return nil, fmt.Errorf("ingest: open %s: %w", name, err)
	}
	return &gzipReadCloser{zr: zr, under: r, name: name}, nil
}

// gzipReadCloser decompresses a part; corrupt or truncated data comes out
// as a *gzipError, so that it is reported as a problem with the file.
type gzipReadCloser struct {
	zr    *gzip.Reader
	under io.Closer
	name  string
}

func (g *gzipReadCloser) Read(p []byte) (int, error) {
	n, err := g.zr.Read(p)
	if corruptGzip(err) {
		err = &gzipError{name: g.name, err: err}
	}
	return n, err
}

// corruptGzip tells bad gzip data from a failure to read the file.
func corruptGzip(err error) bool {
	var ce flate.CorruptInputError
	return errors.Is(err, gzip.ErrChecksum) || errors.Is(err, gzip.ErrHeader) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ce)
}

func (g *gzipReadCloser) Close() error {
	return errors.Join(g.zr.Close(), g.under.Close())
}

// gzipError is a .gz part that is not gzip data: a problem with the data,
// reported like malformed CSV, not an I/O failure.
type gzipError struct {
	name string
	err  error
}

func (e *gzipError) Error() string { return "gzip " + e.name + ": " + e.err.Error() }
func (e *gzipError) Unwrap() error { return e.err }

// ignored reports whether a file or directory name is a side file that
// Spark, Hadoop and editors write next to data (_SUCCESS, _committed_…,
// .part-00000.csv.crc, .DS_Store): never data, never an unknown file.
func ignored(name string) bool {
	base := path.Base(name)
	return strings.HasPrefix(base, "_") || strings.HasPrefix(base, ".")
}
