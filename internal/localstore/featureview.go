package localstore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/shard"
)

// view is the served version as a reader sees it: the CURRENT it was read
// from, and the version's files, opened on first use and kept until the
// view is retired (by a switch, or Close) and its last reader is done.
type view struct {
	stamp fs.FileInfo // of CURRENT when read; nil if there was none
	asOf  string
	err   error // why nothing can be served (no version, a damaged CURRENT)
	slots []slot
	vdir  string
	refs  atomic.Int64 // readers in flight + 1 while installed
}

type slot struct {
	ff    atomic.Pointer[featureFile]
	mu    sync.Mutex
	err   error
	errAt time.Time
}

func (v *view) tryAcquire() bool {
	for {
		n := v.refs.Load()
		if n <= 0 {
			return false
		}
		if v.refs.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

func (v *view) release() {
	if v.refs.Add(-1) == 0 {
		for i := range v.slots {
			if ff := v.slots[i].ff.Load(); ff != nil {
				ff.close()
			}
		}
	}
}

// file returns shard k's open file, opening it on first use.
func (v *view) file(k int) (*featureFile, error) {
	s := &v.slots[k]
	if ff := s.ff.Load(); ff != nil {
		return ff, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ff := s.ff.Load(); ff != nil {
		return ff, nil
	}
	if s.err != nil && time.Since(s.errAt) < retryOpen {
		return nil, s.err
	}
	ff, err := openPart(v.vdir, v.asOf, k, len(v.slots))
	if err != nil {
		s.err, s.errAt = err, time.Now()
		return nil, err
	}
	s.ff.Store(ff)
	return ff, nil
}

// sameFile reports whether two stats are of the same, unchanged file (of
// CURRENT, or of a database file found damaged): same inode, size and
// modification time (a rename replaces the inode; the time tells apart an
// inode number reused later). Two nil stats (no file) are the same too.
func sameFile(a, b fs.FileInfo) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

// acquire returns the current view, reloading it if CURRENT changed;
// release must follow.
func (f *Features) acquire() (*view, error) {
	if err := f.checkOpen(); err != nil {
		return nil, err
	}
	stamp, err := os.Stat(filepath.Join(f.dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		stamp, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("online features: %w", err)
	}
	if v := f.view.Load(); v != nil && sameFile(v.stamp, stamp) && v.tryAcquire() {
		return v, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.checkOpen(); err != nil {
		return nil, err
	}
	if v := f.view.Load(); v != nil && sameFile(v.stamp, stamp) && v.tryAcquire() {
		return v, nil
	}
	v := f.loadView()
	v.refs.Store(2) // installed, and this reader
	if old := f.view.Swap(v); old != nil {
		old.release()
	}
	return v, nil
}

// loadView reads CURRENT into a new view; f.mu is held.
func (f *Features) loadView() *view {
	v := &view{}
	file, err := os.Open(filepath.Join(f.dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		v.err = f.noVersion()
		return v
	}
	if err != nil {
		v.err = fmt.Errorf("online features: %w", err)
		return v
	}
	defer file.Close()
	if v.stamp, err = file.Stat(); err != nil {
		v.err = fmt.Errorf("online features: %w", err)
		return v
	}
	raw := make([]byte, min(v.stamp.Size(), 4096))
	n, err := file.ReadAt(raw, 0)
	if int64(n) != int64(len(raw)) {
		v.err = fmt.Errorf("online features: read %s: %w", file.Name(), err)
		return v
	}
	p, err := parsePointer(raw)
	if err != nil {
		v.err = f.describePointerErr(err)
		return v
	}
	v.asOf, v.vdir, v.slots = p.AsOf, f.versionDir(p.AsOf), make([]slot, p.Shards)
	return v
}

// noVersion is ErrNoVersion, explained when the old layout's features.db
// is what the state holds.
func (f *Features) noVersion() error {
	if _, err := os.Stat(f.legacy); err == nil {
		return fmt.Errorf("%s holds online features in the layout of an earlier churnops, which is no longer read: "+
			"ingest the newest month again to rebuild them (churnops ingest --data MONTH_DIR --as-of DATE): %w", f.legacy, featurestore.ErrNoVersion)
	}
	return fmt.Errorf("online features %s: %w", f.dir, featurestore.ErrNoVersion)
}

func (f *Features) describePointerErr(err error) error {
	if !errors.Is(err, errDamaged) {
		return err
	}
	return fmt.Errorf("online features: %s is damaged (%s): ingest the newest month again to publish it anew (churnops ingest --data MONTH_DIR --as-of DATE)",
		filepath.Join(f.dir, currentFile), damageDetail(err))
}

// Current implements featurestore.Store: the served version, once each of
// its files is open and verified.
func (f *Features) Current(ctx context.Context) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	v, err := f.acquire()
	if err != nil {
		return "", err
	}
	defer v.release()
	if v.err != nil {
		return "", v.err
	}
	for k := range v.slots {
		if _, err := v.file(k); err != nil {
			return "", err
		}
	}
	return v.asOf, nil
}

// Get implements featurestore.Store: one stat of CURRENT, a binary search
// in the shard's index and one read of a block.
func (f *Features) Get(ctx context.Context, userID string) (featurestore.Record, error) {
	if err := ctx.Err(); err != nil {
		return featurestore.Record{}, err
	}
	v, err := f.acquire()
	if err != nil {
		return featurestore.Record{}, err
	}
	defer v.release()
	if v.err != nil {
		return featurestore.Record{}, v.err
	}
	if userID == "" {
		return featurestore.Record{}, fmt.Errorf("get features: empty user_id: %w", featurestore.ErrNotFound)
	}
	ff, err := v.file(shard.Of(userID, len(v.slots)))
	if err != nil {
		return featurestore.Record{}, err
	}
	rec, ok, err := ff.get(userID)
	if err != nil {
		return featurestore.Record{}, fmt.Errorf("online features file %s: read %s: %w", ff.path, userID, err)
	}
	if !ok {
		return featurestore.Record{}, fmt.Errorf("user %s in as_of %s: %w", userID, v.asOf, featurestore.ErrNotFound)
	}
	return rec, nil
}
