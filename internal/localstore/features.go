package localstore

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/churnops/churnops/internal/crashpoint"
	"github.com/churnops/churnops/internal/featurestore"
)

// Layout of the online features under the state directory:
//
//	features/CURRENT                                 {"as_of":"2024-02-29","shards":2}: the served version
//	features/LOCK                                    flock(2) taken by writers (shared) and publishers (exclusive)
//	features/as_of=2024-02-29/part-00000-of-00002.kv one features file per shard (see featurefile.go)
//	features/.tmp/                                   files being written, versions being removed
const (
	featuresDir   = "features"
	currentFile   = "CURRENT"
	lockFile      = "LOCK"
	featuresTmp   = ".tmp"
	versionPrefix = "as_of="
	legacyFile    = "features.db" // the bbolt store of churnops before versions
)

// retryOpen is how long a reader remembers that a features file could not
// be opened before it tries again (a repaired file is picked up then),
// so that a damaged file is not re-verified on every request.
const retryOpen = time.Second

// staleFeatureTmp is the age past which a temporary file is a crashed
// writer's leftover, removed by Prune.
const staleFeatureTmp = time.Hour

// ErrFeaturesLocked means another process held the online features'
// publish lock for longer than the lock timeout.
var ErrFeaturesLocked = errors.New("online features are being published or removed by another churnops process")

// Features is the embedded featurestore.Store: immutable files per version
// and shard, and a CURRENT file naming the served version, replaced
// atomically (write, fsync, rename, fsync the directory).
//
// Readers take no lock: they stat CURRENT on each call (a microsecond) and
// keep the served version's files open until CURRENT changes, so nothing a
// writer does makes them wait. Writers of shards take the lock shared only
// to rename their file into place; Publish, Remove and Prune take it
// exclusively, so that a publish compares and switches in one step and
// never removes a file a writer is renaming.
type Features struct {
	dir     string // <state>/features
	legacy  string // <state>/features.db
	timeout time.Duration

	mu     sync.Mutex // serializes view reloads
	view   atomic.Pointer[view]
	closed atomic.Bool
}

var _ featurestore.Store = (*Features)(nil)

func openFeatures(stateDir string, timeout time.Duration) (*Features, error) {
	f := &Features{dir: filepath.Join(stateDir, featuresDir), legacy: filepath.Join(stateDir, legacyFile), timeout: timeout}
	if err := os.MkdirAll(filepath.Join(f.dir, featuresTmp), 0o700); err != nil {
		return nil, fmt.Errorf("open online features: %w", err)
	}
	return f, nil
}

// close releases the served version's files (once reads in flight end).
func (f *Features) close() error {
	f.closed.Store(true)
	f.mu.Lock()
	defer f.mu.Unlock()
	if v := f.view.Swap(nil); v != nil {
		v.release()
	}
	return nil
}

func (f *Features) checkOpen() error {
	if f.closed.Load() {
		return fmt.Errorf("online features %s: %w", f.dir, os.ErrClosed)
	}
	return nil
}

func (f *Features) versionDir(asOf string) string { return filepath.Join(f.dir, versionPrefix+asOf) }

func partName(k, shards int) string { return fmt.Sprintf("part-%05d-of-%05d.kv", k, shards) }

// parsePart parses a part file's name.
func parsePart(name string) (k, shards int, ok bool) {
	if _, err := fmt.Sscanf(name, "part-%05d-of-%05d.kv", &k, &shards); err != nil || partName(k, shards) != name {
		return 0, 0, false
	}
	return k, shards, k >= 0 && k < shards
}

// --- writing -------------------------------------------------------------

// Write implements featurestore.Store: the shard goes to a temporary file,
// fsynced, then renamed into features/as_of=…/ under the shared lock.
func (f *Features) Write(ctx context.Context, asOf string, sh, shards int, recs []featurestore.Record) error {
	if err := featurestore.CheckWrite(asOf, sh, shards, recs); err != nil {
		return fmt.Errorf("write online features: %w", err)
	}
	if err := f.write(ctx, asOf, sh, shards, featurestore.Dedupe(recs)); err != nil {
		return fmt.Errorf("write online features as_of=%s shard %d of %d: %w", asOf, sh, shards, err)
	}
	return nil
}

func (f *Features) write(ctx context.Context, asOf string, sh, shards int, recs []featurestore.Record) error {
	if err := f.checkOpen(); err != nil {
		return err
	}
	tmp, err := f.writeTemp(func(file *os.File) error {
		return writeFeatureFile(file, fileHeader{asOf: asOf, shard: sh, shards: shards}, recs)
	})
	if err != nil {
		return err
	}
	defer os.Remove(tmp) // after the rename there is nothing left to remove
	if err := ctx.Err(); err != nil {
		return err
	}
	unlock, err := f.lock(ctx, false)
	if err != nil {
		return err
	}
	defer unlock()
	vdir := f.versionDir(asOf)
	parts, err := f.parts(asOf)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if p.shards != shards {
			return fmt.Errorf("the version is being written with %d shards, not %d: remove it first (churnops dataset rm %s): %w",
				p.shards, shards, asOf, featurestore.ErrInvalid)
		}
	}
	if err := os.Mkdir(vdir, 0o700); err == nil {
		if err := syncDir(f.dir); err != nil {
			return err
		}
	} else if !errors.Is(err, fs.ErrExist) {
		return err
	}
	final := filepath.Join(vdir, partName(sh, shards))
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := syncDir(vdir); err != nil {
		return err
	}
	crashpoint.Hit("features write " + versionPrefix + asOf + "/" + partName(sh, shards))
	return nil
}

// writeTemp writes a new file in features/.tmp with fill and fsyncs it.
func (f *Features) writeTemp(fill func(*os.File) error) (string, error) {
	path := filepath.Join(f.dir, featuresTmp, rand.Text())
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", err
	}
	err = fill(file)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", err
	}
	return path, nil
}

// pointer is the content of CURRENT.
type pointer struct {
	AsOf   string `json:"as_of"`
	Shards int    `json:"shards"`
}

// Publish implements featurestore.Store.
func (f *Features) Publish(ctx context.Context, asOf string) (string, bool, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", false, fmt.Errorf("publish online features: %w", err)
	}
	cur, switched, err := f.publish(ctx, asOf)
	if err != nil {
		return cur, false, fmt.Errorf("publish online features as_of=%s: %w", asOf, err)
	}
	return cur, switched, nil
}

func (f *Features) publish(ctx context.Context, asOf string) (string, bool, error) {
	if err := f.checkOpen(); err != nil {
		return "", false, err
	}
	unlock, err := f.lock(ctx, true)
	if err != nil {
		return "", false, err
	}
	defer unlock()
	cur, err := f.readPointer()
	if errors.Is(err, errDamaged) {
		// Which version was served is unknown: serve the newest complete
		// one, which never rolls anything back, and repair CURRENT.
		return f.repairPointer(asOf)
	}
	if err != nil {
		return "", false, err
	}
	if cur.AsOf != "" && cur.AsOf >= asOf {
		return cur.AsOf, false, nil
	}
	shards, err := f.verify(asOf)
	if err != nil {
		return cur.AsOf, false, err
	}
	if err := f.switchTo(pointer{AsOf: asOf, Shards: shards}); err != nil {
		return cur.AsOf, false, err
	}
	return asOf, true, nil
}

// repairPointer replaces a damaged CURRENT by the newest complete version,
// asOf or a newer one. The lock is held.
func (f *Features) repairPointer(asOf string) (string, bool, error) {
	vs, err := f.versions("")
	if err != nil {
		return "", false, err
	}
	for _, v := range slices.Backward(vs) {
		if !v.Complete || v.AsOf < asOf {
			continue
		}
		shards, err := f.verify(v.AsOf)
		if err != nil {
			continue
		}
		if err := f.switchTo(pointer{AsOf: v.AsOf, Shards: shards}); err != nil {
			return "", false, err
		}
		return v.AsOf, v.AsOf == asOf, nil
	}
	_, err = f.verify(asOf)
	return "", false, err
}

// switchTo replaces CURRENT: write a temporary file, fsync, rename over
// CURRENT, fsync the directory. Then it retires features.db of the old
// layout, which CURRENT supersedes. The lock is held.
func (f *Features) switchTo(p pointer) error {
	raw, _ := json.Marshal(p)
	tmp, err := f.writeTemp(func(file *os.File) error {
		_, err := file.Write(append(raw, '\n'))
		return err
	})
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(f.dir, currentFile)); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	crashpoint.Hit("features publish " + versionPrefix + p.AsOf)
	if err := os.Remove(f.legacy); err == nil {
		if err := syncDir(filepath.Dir(f.legacy)); err != nil {
			return err
		}
		crashpoint.Hit("features remove " + legacyFile)
	}
	return nil
}

// unpublish removes CURRENT: nothing is served. The lock is held.
func (f *Features) unpublish() error {
	if err := os.Remove(filepath.Join(f.dir, currentFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	crashpoint.Hit("features unpublish")
	return nil
}

// readPointer reads CURRENT: the zero pointer when there is none, an error
// wrapping errDamaged when it does not parse.
func (f *Features) readPointer() (pointer, error) {
	raw, err := os.ReadFile(filepath.Join(f.dir, currentFile))
	if errors.Is(err, fs.ErrNotExist) {
		return pointer{}, nil
	}
	if err != nil {
		return pointer{}, err
	}
	return parsePointer(raw)
}

func parsePointer(raw []byte) (pointer, error) {
	var p pointer
	if len(raw) == 0 {
		return p, damaged("the file is empty")
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, damaged("%v", err)
	}
	if featurestore.CheckAsOf(p.AsOf) != nil || p.Shards < 1 {
		return p, damaged("as_of %q, %d shards", p.AsOf, p.Shards)
	}
	return p, nil
}

// verify checks that version asOf is complete and every file of it reads
// back whole, and returns its shard count. The lock is held.
func (f *Features) verify(asOf string) (int, error) {
	parts, err := f.parts(asOf)
	if err != nil {
		return 0, err
	}
	if len(parts) == 0 {
		return 0, fmt.Errorf("nothing is written: %w", featurestore.ErrIncomplete)
	}
	shards := parts[0].shards
	have := make([]bool, shards)
	for _, p := range parts {
		if p.shards != shards {
			return 0, fmt.Errorf("parts of %d and of %d shards: %w", shards, p.shards, featurestore.ErrIncomplete)
		}
		have[p.k] = true
	}
	var missing []string
	for k, ok := range have {
		if !ok {
			missing = append(missing, fmt.Sprint(k))
		}
	}
	if len(missing) > 0 {
		return 0, fmt.Errorf("%d of %d shards written (missing %s): %w", len(parts), shards, strings.Join(missing, ", "), featurestore.ErrIncomplete)
	}
	for _, p := range parts {
		ff, err := openPart(f.versionDir(asOf), asOf, p.k, p.shards)
		if err != nil {
			return 0, err
		}
		ff.close()
	}
	return shards, nil
}

type part struct{ k, shards int }

// parts lists the part files of version asOf.
func (f *Features) parts(asOf string) ([]part, error) {
	entries, err := os.ReadDir(f.versionDir(asOf))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []part
	for _, e := range entries {
		if k, shards, ok := parsePart(e.Name()); ok && e.Type().IsRegular() {
			out = append(out, part{k, shards})
		}
	}
	return out, nil
}

// openPart opens and verifies one part file, explaining damage: which
// file, and what to do.
func openPart(vdir, asOf string, k, shards int) (*featureFile, error) {
	path := filepath.Join(vdir, partName(k, shards))
	ff, err := openFeatureFile(path)
	if err == nil && (ff.h.asOf != asOf || ff.h.shard != k || ff.h.shards != shards) {
		ff.close()
		err = damaged("it holds as_of %s shard %d of %d", ff.h.asOf, ff.h.shard, ff.h.shards)
	}
	if errors.Is(err, fs.ErrNotExist) {
		err = damaged("the file is missing")
	}
	if errors.Is(err, errDamaged) {
		return nil, fmt.Errorf("online features file %s is damaged (%s): ingest as_of %s again to rewrite it (churnops ingest --data MONTH_DIR --as-of %s)",
			path, damageDetail(err), asOf, asOf)
	}
	if err != nil {
		return nil, fmt.Errorf("read online features file %s: %w", path, err)
	}
	return ff, nil
}

// lock takes features/LOCK, shared or exclusive, waiting up to the lock
// timeout (or ctx's end). The returned function releases it.
func (f *Features) lock(ctx context.Context, exclusive bool) (func(), error) {
	path := filepath.Join(f.dir, lockFile)
	file, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(f.timeout)
	wait := 5 * time.Millisecond
	for {
		ok, err := tryFlock(file, exclusive)
		if ok {
			return func() { file.Close() }, nil
		}
		if err == nil && time.Now().After(deadline) {
			err = fmt.Errorf("%s: %w (waited %s)", path, ErrFeaturesLocked, f.timeout)
		}
		if err == nil {
			err = sleepCtx(ctx, wait)
			wait = min(2*wait, 100*time.Millisecond)
		}
		if err != nil {
			file.Close()
			return nil, err
		}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// syncDir fsyncs a directory so that entries created, renamed or removed
// in it survive a crash. Windows cannot, and need not.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
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
	return nil
}

// --- removing ------------------------------------------------------------

// Remove implements featurestore.Store.
func (f *Features) Remove(ctx context.Context, asOf string, force bool) (string, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", fmt.Errorf("remove online features: %w", err)
	}
	cur, err := f.remove(ctx, asOf, force)
	if err != nil {
		return cur, fmt.Errorf("remove online features as_of=%s: %w", asOf, err)
	}
	return cur, nil
}

func (f *Features) remove(ctx context.Context, asOf string, force bool) (string, error) {
	if err := f.checkOpen(); err != nil {
		return "", err
	}
	unlock, err := f.lock(ctx, true)
	if err != nil {
		return "", err
	}
	defer unlock()
	cur, err := f.readPointer()
	if err != nil {
		return "", f.describePointerErr(err)
	}
	if cur.AsOf == asOf {
		next, err := f.fallback(asOf)
		if err != nil {
			return cur.AsOf, err
		}
		switch {
		case next.AsOf != "":
			err = f.switchTo(next)
		case !force:
			return cur.AsOf, fmt.Errorf("it is served and %w (pass force to serve nothing)", featurestore.ErrLastVersion)
		default:
			err = f.unpublish()
		}
		if err != nil {
			return cur.AsOf, err
		}
		cur = next
	}
	if err := f.removeVersion(asOf); err != nil {
		return cur.AsOf, err
	}
	return cur.AsOf, nil
}

// fallback returns the newest complete version other than asOf that
// verifies, or the zero pointer. The lock is held.
func (f *Features) fallback(asOf string) (pointer, error) {
	vs, err := f.versions("")
	if err != nil {
		return pointer{}, err
	}
	for _, v := range slices.Backward(vs) {
		if v.AsOf == asOf || !v.Complete {
			continue
		}
		if shards, err := f.verify(v.AsOf); err == nil {
			return pointer{AsOf: v.AsOf, Shards: shards}, nil
		}
	}
	return pointer{}, nil
}

// removeVersion makes the version's directory disappear in one rename
// (into .tmp, so that a crash never leaves half a version in place), then
// deletes it. The lock is held.
func (f *Features) removeVersion(asOf string) error {
	vdir := f.versionDir(asOf)
	trash := filepath.Join(f.dir, featuresTmp, "removed-"+asOf+"-"+rand.Text())
	if err := os.Rename(vdir, trash); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	if err := syncDir(f.dir); err != nil {
		return err
	}
	crashpoint.Hit("features remove " + versionPrefix + asOf)
	return os.RemoveAll(trash)
}

// Prune implements featurestore.Store. It also removes what crashed
// writers and removers left in features/.tmp.
func (f *Features) Prune(ctx context.Context) ([]string, error) {
	removed, err := f.prune(ctx)
	if err != nil {
		return removed, fmt.Errorf("prune online features: %w", err)
	}
	return removed, nil
}

func (f *Features) prune(ctx context.Context) ([]string, error) {
	if err := f.checkOpen(); err != nil {
		return nil, err
	}
	unlock, err := f.lock(ctx, true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	f.cleanTmp()
	cur, err := f.readPointer()
	if err != nil {
		return nil, f.describePointerErr(err)
	}
	if cur.AsOf == "" {
		return nil, nil
	}
	vs, err := f.versions("")
	if err != nil {
		return nil, err
	}
	keep := "" // the served version's predecessor
	for _, v := range slices.Backward(vs) {
		if v.AsOf < cur.AsOf && v.Complete {
			keep = v.AsOf
			break
		}
	}
	var removed []string
	for _, v := range vs {
		if v.AsOf >= keep {
			break
		}
		if err := f.removeVersion(v.AsOf); err != nil {
			return removed, err
		}
		removed = append(removed, v.AsOf)
	}
	return removed, nil
}

// cleanTmp removes removed versions and stale temporary files from
// features/.tmp. The exclusive lock is held, so no remover is at work; a
// writer's temporary file is young.
func (f *Features) cleanTmp() {
	dir := filepath.Join(f.dir, featuresTmp)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		info, err := e.Info()
		if err == nil && (strings.HasPrefix(e.Name(), "removed-") || time.Since(info.ModTime()) > staleFeatureTmp) {
			_ = os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// --- listing -------------------------------------------------------------

// Versions implements featurestore.Store.
func (f *Features) Versions(ctx context.Context) ([]featurestore.Version, error) {
	if err := f.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	cur, _ := f.readPointer() // a damaged CURRENT serves nothing
	vs, err := f.versions(cur.AsOf)
	if err != nil {
		return nil, fmt.Errorf("list online feature versions: %w", err)
	}
	return vs, nil
}

// versions lists the version directories, oldest first, marking served.
func (f *Features) versions(served string) ([]featurestore.Version, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, err
	}
	var out []featurestore.Version
	for _, e := range entries {
		asOf, ok := strings.CutPrefix(e.Name(), versionPrefix)
		if !ok || !e.IsDir() || featurestore.CheckAsOf(asOf) != nil {
			continue
		}
		parts, err := f.parts(asOf)
		if err != nil {
			return nil, err
		}
		if len(parts) == 0 {
			continue // an empty directory is no version
		}
		v := featurestore.Version{AsOf: asOf, Shards: parts[0].shards, Served: asOf == served}
		for _, p := range parts {
			if p.shards != v.Shards {
				continue
			}
			v.Written++
			if n, err := readRecordCount(filepath.Join(f.versionDir(asOf), partName(p.k, p.shards))); err == nil {
				v.Records += n
			}
		}
		v.Complete = v.Written == v.Shards
		out = append(out, v)
	}
	return out, nil // ReadDir sorts by name: as_of=YYYY-MM-DD is by date
}
