package localstore

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultLockTimeout is how long an operation waits for another process's
// lock on a database file when Options.LockTimeout is zero: long enough to
// outlast a pipeline step's write, short enough that a stuck process is
// reported rather than waited for forever.
const DefaultLockTimeout = 10 * time.Second

// ErrNoState means the directory holds no churnops state (no registry.db)
// and Open was not asked to create one: a mistyped --state, say.
var ErrNoState = errors.New("no churnops state")

// ErrDamaged means a file of the state cannot be read: empty, garbled, or
// registry.db missing beside the data it describes. Open never
// re-initialises an existing state, which would silently lose its records.
var ErrDamaged = errors.New("damaged state")

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
	// MustExist refuses a directory that holds no state (no registry.db)
	// with ErrNoState instead of creating a new state there: every command
	// but ingest and the demo, so a mistyped --state is an error.
	MustExist bool
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

// Open opens the state directory dir, creating a new state there if it
// holds none (unless Options.MustExist). It never re-initialises an
// existing state: registry.db missing beside data, or an empty database
// file, is ErrDamaged. With Options.HoldLock it fails with ErrLocked if another
// process holds the directory's databases longer than the lock timeout. A
// damaged file is ErrDamaged, naming it.
func Open(dir string, opts Options) (*State, error) {
	if opts.LockTimeout <= 0 {
		opts.LockTimeout = DefaultLockTimeout
	}
	switch _, err := os.Stat(filepath.Join(dir, "registry.db")); {
	case err == nil:
	case !errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	case opts.MustExist:
		return nil, fmt.Errorf("%s: %w (no registry.db there): check --state, or ingest a month to start one", dir, ErrNoState)
	default:
		if held := heldData(dir); held != "" {
			return nil, fmt.Errorf("%s: registry.db is missing, but the directory holds %s: %w; restore registry.db from a backup (churnops never re-initialises an existing state)", dir, held, ErrDamaged)
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open state %s: %w", dir, err)
		}
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

// heldData describes the churnops data dir holds besides registry.db (a
// blob, a month of online features, or a non-empty features.db of the old
// layout), or "" if none.
func heldData(dir string) string {
	if info, err := os.Stat(filepath.Join(dir, legacyFile)); err == nil && info.Size() > 0 {
		return legacyFile
	}
	for _, sub := range []string{"blobs", featuresDir} {
		held := ""
		_ = fs.WalkDir(os.DirFS(filepath.Join(dir, sub)), ".", func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return fs.SkipAll
			case d.IsDir() && p != "." && strings.HasPrefix(d.Name(), "."): // files being written
				return fs.SkipDir
			case d.Type().IsRegular() && d.Name() != lockFile:
				held = sub + "/" + p
				return fs.SkipAll
			}
			return nil
		})
		if held != "" {
			return held
		}
	}
	return ""
}

// now is the clock for CreatedAt/UpdatedAt: UTC, without the monotonic
// reading, so a stored time compares Equal to the one returned.
func now() time.Time { return time.Now().UTC() }
