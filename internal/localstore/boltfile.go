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
	// damage is the ErrDamaged met reading the file, returned at once by
	// later operations until the file changes (restored from a backup):
	// reading a damaged file again only fails again, each time leaking
	// the mapping of a panicked open.
	damage    error
	damagedAt os.FileInfo // the file when damage was met
}

// openBoltFile opens path once, creating it if it does not exist, so a bad
// path or a damaged file is reported at Open; in shared mode it closes it
// again. An empty file is refused: bbolt would initialise it as a new,
// empty database, and every record it held would silently vanish.
func openBoltFile(path string, opts Options) (*boltFile, error) {
	f := &boltFile{path: path, timeout: opts.LockTimeout, hold: opts.HoldLock}
	if info, err := os.Stat(path); err == nil && info.Size() == 0 {
		return nil, f.damaged(errors.New("it is empty (0 bytes)"))
	}
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
	db, err := f.boltOpen(timeout)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout) && byDeadline:
		return nil, fmt.Errorf("open %s: waiting for the lock: %w", f.path, context.DeadlineExceeded)
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("open %s: %w (waited %s)", f.path, ErrLocked, timeout)
	case errors.Is(err, ErrDamaged):
		return nil, err
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum), errors.Is(err, bolterrors.ErrVersionMismatch):
		return nil, f.damaged(err)
	case err != nil:
		return nil, fmt.Errorf("open %s: %w", f.path, err)
	}
	return db, nil
}

// boltOpen is bbolt.Open, with a panic on a damaged file (bbolt panics on
// a garbled freelist) turned into ErrDamaged. bbolt has locked and mapped
// the file when it panics, and gives back no handle to close: the lock of
// the file it opened is released here (closing it would not: the mapping,
// which cannot be undone from here, keeps the open file alive).
func (f *boltFile) boltOpen(timeout time.Duration) (db *bbolt.DB, err error) {
	var opened *os.File
	defer func() {
		if p := recover(); p != nil {
			if opened != nil {
				unlock(opened)
				_ = opened.Close()
			}
			db, err = nil, f.damaged(fmt.Errorf("%v", p))
		}
	}()
	return bbolt.Open(f.path, 0o600, &bbolt.Options{Timeout: timeout, OpenFile: func(name string, flag int, perm os.FileMode) (*os.File, error) {
		file, err := os.OpenFile(name, flag, perm)
		opened = file
		return file, err
	}})
}

// recoverDamage turns a panic of bbolt reading a damaged file into an
// ErrDamaged error naming the file (deferred; the deferred release of the
// operation still runs, so the lock is not kept).
func (f *boltFile) recoverDamage(err *error) {
	if p := recover(); p != nil {
		*err = f.damaged(fmt.Errorf("%v", p))
	}
}

// damaged is the error for a database file that cannot be read, saying
// what to do: churnops never re-initialises an existing state.
func (f *boltFile) damaged(cause error) error {
	return fmt.Errorf("%s is damaged (%v): %w; restore it from a backup, or move it aside and start a new state directory — churnops never re-initialises an existing one", f.path, cause, ErrDamaged)
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
	if f.damage != nil {
		if info, err := os.Stat(f.path); err == nil && sameFile(info, f.damagedAt) {
			return nil, f.damage
		}
		f.damage, f.damagedAt = nil, nil
	}
	if f.db == nil {
		db, err := f.open(ctx)
		if errors.Is(err, ErrDamaged) {
			f.noteDamage(err)
		}
		if err != nil {
			return nil, err
		}
		f.db = db
	}
	f.users++
	return f.db, nil
}

// noteDamage records damage met reading the file; f.mu is held.
func (f *boltFile) noteDamage(err error) {
	if info, serr := os.Stat(f.path); serr == nil {
		f.damage, f.damagedAt = err, info
	}
}

// release ends one operation, closing the file (and so releasing the lock
// for other processes) when it was the last one and the file is not held.
// An operation that met damage (err) closes it at once, even if held.
func (f *boltFile) release(err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users--
	if errors.Is(err, ErrDamaged) {
		f.noteDamage(err)
		if f.users == 0 && f.db != nil {
			return f.closeDB()
		}
	}
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

// update runs fn in one read-write transaction: all of it commits, or none
// (bbolt rolls back a transaction that panics too).
func (f *boltFile) update(ctx context.Context, fn func(tx *bbolt.Tx) error) (err error) {
	db, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	defer func() { err = joinRelease(err, f.release(err)) }()
	defer f.recoverDamage(&err)
	if err = db.Update(fn); err == nil {
		crashpoint.Hit("commit " + filepath.Base(f.path))
	}
	return err
}

// view runs fn in one read-only transaction.
func (f *boltFile) view(ctx context.Context, fn func(tx *bbolt.Tx) error) (err error) {
	db, err := f.acquire(ctx)
	if err != nil {
		return err
	}
	defer func() { err = joinRelease(err, f.release(err)) }()
	defer f.recoverDamage(&err)
	return db.View(fn)
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
