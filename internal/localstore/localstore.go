package localstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// DefaultLockTimeout is how long an operation waits for another process's
// lock on a database file when Options.LockTimeout is zero: long enough to
// outlast a pipeline step's write, short enough that a stuck process is
// reported rather than waited for forever.
const DefaultLockTimeout = 10 * time.Second

// ErrLocked means another process (or another Open in this one) held a
// database file for longer than the lock timeout. Retrying later may
// succeed.
var ErrLocked = errors.New("registry is in use by another churnops process")

// Options tune Open. The zero value is the default: shared, per-operation
// locking with DefaultLockTimeout.
type Options struct {
	// LockTimeout bounds the wait for a database file's lock; zero means
	// DefaultLockTimeout.
	LockTimeout time.Duration
	// HoldLock keeps the database files open and locked from Open until
	// Close (see the package documentation).
	HoldLock bool
}

// State is an open state directory: the stores the CLI hands to the
// pipeline, the /predict server and the approval commands.
type State struct {
	// Dir is the state directory, as given to Open.
	Dir string
	// Blobs stores datasets, model artifacts and reports.
	Blobs *Blobs
	// Registry stores model versions.
	Registry *Registry
	// Approvals stores runs paused for a human approval.
	Approvals *Approvals
	// Features stores the online features /predict reads.
	Features *Features

	files []*boltFile
}

// Open opens (creating as needed) the state directory dir. With
// Options.HoldLock it fails with ErrLocked if another process holds the
// directory's databases longer than the lock timeout.
func Open(dir string, opts Options) (*State, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	blobs, err := openBlobs(filepath.Join(dir, "blobs"))
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	s := &State{Dir: dir, Blobs: blobs}
	reg, err := openBoltFile(filepath.Join(dir, "registry.db"), opts)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("open state %s: %w", dir, err), s.Close())
	}
	s.files = append(s.files, reg)
	s.Registry = &Registry{file: reg}
	s.Approvals = &Approvals{file: reg}
	if s.Features, err = openFeatures(dir, opts.LockTimeout); err != nil {
		return nil, errors.Join(fmt.Errorf("open state %s: %w", dir, err), s.Close())
	}
	return s, nil
}

// Close releases the directory: the database locks (once in-flight
// operations end) and the blob directory handle. Stores fail with
// os.ErrClosed afterwards.
func (s *State) Close() error {
	var errs []error
	for _, f := range s.files {
		errs = append(errs, f.close())
	}
	if s.Features != nil {
		errs = append(errs, s.Features.close())
	}
	if s.Blobs != nil {
		errs = append(errs, s.Blobs.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close state %s: %w", s.Dir, err)
	}
	return nil
}

// now is the clock for CreatedAt/UpdatedAt: UTC, without the monotonic
// reading, so a stored time compares Equal to the one returned.
func now() time.Time { return time.Now().UTC() }
