package localstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/churnops/churnops/internal/crashpoint"
)

// boltFile is one bbolt database file and the lock discipline around it:
// open per operation (shared mode) or from Open to Close (HoldLock).
type boltFile struct {
	path    string
	timeout time.Duration
	hold    bool

	mu     sync.Mutex // guards the fields below; held while opening
	db     *bbolt.DB  // non-nil while open
	users  int        // operations in flight on db
	closed bool
}

// openBoltFile opens path once, creating it, so a bad path or a corrupt
// file is reported at Open; in shared mode it closes it again.
func openBoltFile(path string, opts Options) (*boltFile, error) {
	f := &boltFile{path: path, timeout: opts.LockTimeout, hold: opts.HoldLock}
	db, err := f.open(context.Background())
	if err != nil {
		return nil, err
	}
	if f.hold {
		f.db = db
		return f, nil
	}
	if err := db.Close(); err != nil {
		return nil, fmt.Errorf("close %s: %w", path, err)
	}
	return f, nil
}

// open opens the file, waiting for the lock up to the timeout or ctx's
// deadline, whichever is sooner. (bbolt polls the lock and cannot be
// interrupted, so a cancellation without a deadline waits the timeout.)
func (f *boltFile) open(ctx context.Context) (*bbolt.DB, error) {
	timeout, byDeadline := f.timeout, false
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)
		if left <= 0 {
			return nil, fmt.Errorf("open %s: %w", f.path, context.DeadlineExceeded)
		}
		if left < timeout {
			timeout, byDeadline = left, true
		}
	}
	db, err := bbolt.Open(f.path, 0o600, &bbolt.Options{Timeout: timeout})
	switch {
	case errors.Is(err, bolterrors.ErrTimeout) && byDeadline:
		return nil, fmt.Errorf("open %s: waiting for the lock: %w", f.path, context.DeadlineExceeded)
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", f.path, ErrLocked, timeout)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", f.path, err)
	}
	return db, nil
}

// acquire returns the open database for one operation; release must follow.
func (f *boltFile) acquire(ctx context.Context) (*bbolt.DB, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%s: %w", f.path, os.ErrClosed)
	}
	if f.db == nil {
		db, err := f.open(ctx)
		if err != nil {
			return nil, err
		}
		f.db = db
	}
	f.users++
	return f.db, nil
}

// release ends one operation, closing the file (and so releasing the lock
// for other processes) when it was the last one and the file is not held.
func (f *boltFile) release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users--
	if f.users > 0 || f.db == nil || (f.hold && !f.closed) {
		return nil
	}
	return f.closeDB()
}

// close marks the file closed and closes it now, or when the operations
// in flight end.
func (f *boltFile) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.users > 0 || f.db == nil {
		return nil
	}
	return f.closeDB()
}

// closeDB closes the open database; f.mu is held.
func (f *boltFile) closeDB() error {
	db := f.db
	f.db = nil
	if err := db.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.path, err)
	}
	return nil
}

// update runs fn in one read-write transaction: all of it commits, or none.
func (f *boltFile) update(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	db, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	err = db.Update(fn)
	if err == nil {
		crashpoint.Hit("commit " + filepath.Base(f.path))
	}
	return joinRelease(err, f.release())
}

// view runs fn in one read-only transaction.
func (f *boltFile) view(ctx context.Context, fn func(tx *bbolt.Tx) error) error {
	db, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	return joinRelease(db.View(fn), f.release())
}

// joinRelease adds a failure to release the file to the operation's own
// result, keeping err as is in the common case.
func joinRelease(err, releaseErr error) error {
	if releaseErr == nil {
		return err
	}
	return errors.Join(err, releaseErr)
}

// readAll decodes every JSON value of bucket, in key order, in one read
// transaction; a missing bucket holds nothing.
func readAll[T any](ctx context.Context, f *boltFile, bucket []byte) ([]T, error) {
	var out []T
	err := f.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucket)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, raw []byte) error {
			var v T
			if err := json.Unmarshal(raw, &v); err != nil {
				return fmt.Errorf("decode %s: %w", k, err)
			}
			out = append(out, v)
			return nil
		})
	})
	return out, err
}
