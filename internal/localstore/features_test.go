package localstore_test

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/shard"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// monthRecs returns n users' records for version asOf, features telling
// the version apart.
func monthRecs(asOf string, n int) []featurestore.Record {
	recs := make([]featurestore.Record, n)
	for i := range recs {
		recs[i] = featurestore.Record{UserID: fmt.Sprintf("%04d-USER", i), AsOf: asOf, Features: map[string]any{
			"as_of": asOf, "monthly_fee": float64(i) + 0.5, "paperless_billing": i%2 == 0, "plan_stream_tv": nil,
		}}
	}
	return recs
}

func writeVersion(t *testing.T, f *localstore.Features, asOf string, shards int, recs []featurestore.Record) {
	t.Helper()
	for k := range shards {
		var part []featurestore.Record
		for _, r := range recs {
			if shard.Of(r.UserID, shards) == k {
				part = append(part, r)
			}
		}
		if err := f.Write(t.Context(), asOf, k, shards, part); err != nil {
			t.Fatal(err)
		}
	}
}

func publishVersion(t *testing.T, f *localstore.Features, asOf string, shards int, recs []featurestore.Record) {
	t.Helper()
	writeVersion(t, f, asOf, shards, recs)
	if cur, switched, err := f.Publish(t.Context(), asOf); err != nil || !switched {
		t.Fatalf("Publish %s = %s, %v, %v", asOf, cur, switched, err)
	}
}

// TestFeatureFileGolden pins the features file format: a version written
// today must read back with what testdata holds, byte for byte.
func TestFeatureFileGolden(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{})
	recs := []featurestore.Record{
		{UserID: "7590-VHVEG", Features: map[string]any{"monthly_fee": 29.85, "paperless_billing": true, "net_service": "DSL", "plan_stream_tv": nil}},
		{UserID: "3668-QPYBK", Features: map[string]any{"monthly_fee": 53.85, "paperless_billing": false, "net_service": "No"}},
		{UserID: "5575-GNVDE", Features: map[string]any{}},
	}
	writeVersion(t, s.Features, "2024-01-31", 1, recs)
	got, err := os.ReadFile(filepath.Join(dir, "features", "as_of=2024-01-31", "part-00000-of-00001.kv"))
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "part-00000-of-00001.kv")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("the features file format changed (%d bytes, golden %d); if on purpose, bump the format's magic and run go test -update", len(got), len(want))
	}
}

// TestDamagedFeatureFile: a damaged part file of the served version is
// reported, naming it and what to do, by Current and Get (never as an
// empty store), and Publish refuses to serve a damaged version.
func TestDamagedFeatureFile(t *testing.T) {
	cases := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"a flipped byte in a record", func(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }},
		{"a flipped byte in the header", func(b []byte) []byte { b[14] ^= 0x80; return b }},
		{"a flipped byte in the checksum", func(b []byte) []byte { b[len(b)-6] ^= 0x01; return b }},
		{"cut short", func(b []byte) []byte { return b[:len(b)-100] }},
		{"cut to the header", func(b []byte) []byte { return b[:20] }},
		{"empty", func([]byte) []byte { return nil }},
		{"another shard's file", nil}, // filled in below
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openState(t, dir, localstore.Options{})
			recs := monthRecs("2024-01-31", 500)
			publishVersion(t, s.Features, "2024-01-31", 2, recs)
			vdir := filepath.Join(dir, "features", "as_of=2024-01-31")
			path := filepath.Join(vdir, "part-00001-of-00002.kv")
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if tc.damage == nil {
				b, err = os.ReadFile(filepath.Join(vdir, "part-00000-of-00002.kv"))
				if err != nil {
					t.Fatal(err)
				}
			} else {
				b = tc.damage(b)
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			// A fresh open: the damage is found when the file is opened.
			s2, err := localstore.Open(dir, localstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			wantMsg := func(what string, err error) {
				t.Helper()
				if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "damaged") ||
					!strings.Contains(err.Error(), "churnops ingest") || errors.Is(err, featurestore.ErrNotFound) {
					t.Errorf("%s: %v; want an error naming %s as damaged and saying to ingest again", what, err, path)
				}
			}
			_, err = s2.Features.Current(t.Context())
			wantMsg("Current", err)
			var inDamaged string
			for _, r := range recs {
				if shard.Of(r.UserID, 2) == 1 {
					inDamaged = r.UserID
					break
				}
			}
			_, err = s2.Features.Get(t.Context(), inDamaged)
			wantMsg("Get of a user of the damaged shard", err)
			if err := s2.Features.Write(t.Context(), "2024-02-29", 0, 1, monthRecs("2024-02-29", 3)); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "features", "as_of=2024-02-29", "part-00000-of-00001.kv"), b, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err = s2.Features.Publish(t.Context(), "2024-02-29")
			if err == nil || !strings.Contains(err.Error(), "damaged") {
				t.Errorf("Publish of a damaged version: %v, want a refusal", err)
			}
		})
	}
}

// TestFeaturesOfTheOldLayout: a state written by an earlier churnops keeps
// its features in features.db (bbolt), which is no longer read. Reads say
// so and what to do, whatever the file holds; the first publish retires it.
func TestFeaturesOfTheOldLayout(t *testing.T) {
	for _, content := range [][]byte{nil, []byte("garbage, or a bbolt file: never opened")} {
		t.Run(fmt.Sprintf("%d bytes", len(content)), func(t *testing.T) {
			dir := t.TempDir()
			// A state of that churnops: registry.db beside features.db.
			fresh, err := localstore.Open(dir, localstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := fresh.Close(); err != nil {
				t.Fatal(err)
			}
			legacy := filepath.Join(dir, "features.db")
			if err := os.WriteFile(legacy, content, 0o600); err != nil {
				t.Fatal(err)
			}
			s := openState(t, dir, localstore.Options{})
			for what, err := range map[string]error{
				"Get":     func() error { _, err := s.Features.Get(t.Context(), "0001-USER"); return err }(),
				"Current": func() error { _, err := s.Features.Current(t.Context()); return err }(),
			} {
				if !errors.Is(err, featurestore.ErrNoVersion) || !strings.Contains(err.Error(), legacy) || !strings.Contains(err.Error(), "churnops ingest") {
					t.Errorf("%s: %v; want ErrNoVersion naming %s and saying to ingest again", what, err, legacy)
				}
			}
			publishVersion(t, s.Features, "2024-01-31", 1, monthRecs("2024-01-31", 3))
			if _, err := os.Stat(legacy); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("features.db after a publish: %v, want it removed", err)
			}
			if _, err := s.Features.Get(t.Context(), "0001-USER"); err != nil {
				t.Errorf("Get after the publish: %v", err)
			}
		})
	}
}

// TestDamagedCurrent: a damaged CURRENT is reported by name with what to
// do; the next publish repairs it, serving the newest complete version.
func TestDamagedCurrent(t *testing.T) {
	for _, content := range []string{"", "{", `{"as_of":"2024-13-45","shards":1}`, `{"as_of":"2024-02-29","shards":0}`} {
		t.Run(fmt.Sprintf("%q", content), func(t *testing.T) {
			dir := t.TempDir()
			s := openState(t, dir, localstore.Options{})
			publishVersion(t, s.Features, "2024-01-31", 1, monthRecs("2024-01-31", 5))
			publishVersion(t, s.Features, "2024-02-29", 1, monthRecs("2024-02-29", 5))
			current := filepath.Join(dir, "features", "CURRENT")
			if err := os.WriteFile(current, []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := s.Features.Get(t.Context(), "0001-USER")
			if err == nil || !strings.Contains(err.Error(), current) || !strings.Contains(err.Error(), "churnops ingest") {
				t.Fatalf("Get with a damaged CURRENT: %v", err)
			}
			// Publishing the older month serves the newer one: never a rollback.
			cur, switched, err := s.Features.Publish(t.Context(), "2024-01-31")
			if err != nil || cur != "2024-02-29" || switched {
				t.Fatalf("Publish over a damaged CURRENT = %s, %v, %v; want the newest complete version 2024-02-29", cur, switched, err)
			}
			if r, err := s.Features.Get(t.Context(), "0001-USER"); err != nil || r.AsOf != "2024-02-29" {
				t.Fatalf("Get after the repair = %+v, %v", r, err)
			}
		})
	}
}

// TestFeatureReadersTakeNoLock (#13 defect 11): while another process
// holds the publishers' lock, reads answer at once; publishing waits, then
// fails with ErrFeaturesLocked.
func TestFeatureReadersTakeNoLock(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir, localstore.Options{LockTimeout: 200 * time.Millisecond})
	publishVersion(t, s.Features, "2024-01-31", 1, monthRecs("2024-01-31", 5))
	lock, err := os.OpenFile(filepath.Join(dir, "features", "LOCK"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	other := openState(t, dir, localstore.Options{LockTimeout: 200 * time.Millisecond})
	if r, err := other.Features.Get(t.Context(), "0001-USER"); err != nil || r.AsOf != "2024-01-31" {
		t.Errorf("Get while the lock is held = %+v, %v", r, err)
	}
	if cur, err := other.Features.Current(t.Context()); err != nil || cur != "2024-01-31" {
		t.Errorf("Current while the lock is held = %s, %v", cur, err)
	}
	if _, _, err := other.Features.Publish(t.Context(), "2024-01-31"); !errors.Is(err, localstore.ErrFeaturesLocked) {
		t.Errorf("Publish while the lock is held: %v, want ErrFeaturesLocked", err)
	}
	if err := other.Features.Write(t.Context(), "2024-02-29", 0, 1, nil); !errors.Is(err, localstore.ErrFeaturesLocked) {
		t.Errorf("Write while the lock is held exclusively: %v, want ErrFeaturesLocked", err)
	}
}

// TestFeaturePublishesAcrossOpens: publishers and readers in separate opens
// of one state (as separate processes would be) agree at once: a reader
// sees a switch on its next read, and of racing publishes the newest wins.
func TestFeaturePublishesAcrossOpens(t *testing.T) {
	dir := t.TempDir()
	reader := openState(t, dir, localstore.Options{})
	dates := []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31"}
	var wg sync.WaitGroup
	errs := make([]error, len(dates))
	for i, d := range dates {
		wg.Go(func() {
			s, err := localstore.Open(dir, localstore.Options{LockTimeout: time.Minute})
			if err != nil {
				errs[i] = err
				return
			}
			defer s.Close()
			if err := s.Features.Write(t.Context(), d, 0, 1, monthRecs(d, 50)); err != nil {
				errs[i] = err
				return
			}
			_, _, errs[i] = s.Features.Publish(t.Context(), d)
		})
	}
	// Meanwhile every read is of one whole version.
	stop := make(chan struct{})
	var reads sync.WaitGroup
	reads.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			r, err := reader.Features.Get(t.Context(), "0007-USER")
			if errors.Is(err, featurestore.ErrNoVersion) {
				continue
			}
			if err != nil || r.Features["as_of"] != r.AsOf {
				t.Errorf("a read during the publishes = %+v, %v", r, err)
				return
			}
		}
	})
	wg.Wait()
	close(stop)
	reads.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if cur, err := reader.Features.Current(t.Context()); err != nil || cur != dates[len(dates)-1] {
		t.Fatalf("Current = %s, %v; want the newest %s", cur, err, dates[len(dates)-1])
	}
	if removed, err := reader.Features.Prune(t.Context()); err != nil || len(removed) != len(dates)-2 {
		t.Errorf("Prune = %v, %v; want all but the served version and its predecessor", removed, err)
	}
}

// TestFeatureWriteRefusesAnotherShardCount: a version is written with one
// shard count; another is refused until the version is removed.
func TestFeatureWriteRefusesAnotherShardCount(t *testing.T) {
	s := openState(t, t.TempDir(), localstore.Options{})
	writeVersion(t, s.Features, "2024-01-31", 1, monthRecs("2024-01-31", 5))
	err := s.Features.Write(t.Context(), "2024-01-31", 0, 2, nil)
	if !errors.Is(err, featurestore.ErrInvalid) || !strings.Contains(err.Error(), "dataset rm") {
		t.Fatalf("Write with another shard count: %v", err)
	}
	if _, err := s.Features.Remove(t.Context(), "2024-01-31", false); err != nil {
		t.Fatal(err)
	}
	writeVersion(t, s.Features, "2024-01-31", 2, monthRecs("2024-01-31", 5))
}
