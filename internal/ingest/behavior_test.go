package ingest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
	"github.com/churnops/churnops/internal/synth"
)

// putTree writes files under prefix in store (names ending in .gz gzipped).
func putTree(t *testing.T, store blob.Store, prefix string, files map[string]string) {
	t.Helper()
	for name, text := range files {
		data := []byte(text)
		if strings.HasSuffix(name, ".gz") {
			data = gz(t, data)
		}
		if err := store.Put(context.Background(), prefix+name, data); err != nil {
			t.Fatal(err)
		}
	}
}

// TestIncomingPrefix ingests a month landed in the blob store in part
// files, some gzipped: not before its marker is written, then like the
// lab's files.
func TestIncomingPrefix(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	parts, _ := splitParts(snapshottest.TinyMonth(), 2, false)
	files := map[string]string{}
	for name, text := range parts {
		if strings.HasPrefix(name, "usage") || strings.HasPrefix(name, "labels") {
			name += ".gz"
		}
		files[name] = text
	}
	files["users/_committed_123"] = "spark side file"
	const prefix = "incoming/as_of=2024-01-31/"
	putTree(t, store, prefix, files)
	src := ingest.Blob(store, prefix)

	_, err := ingest.Run(ctx, src, store, asOf0, ingest.Options{})
	var nr *ingest.NotReadyError
	if !errors.As(err, &nr) || nr.Source != prefix {
		t.Fatalf("without a marker: err %v, want *NotReadyError for %s", err, prefix)
	}
	if asOfs, _ := dataset.List(ctx, store); len(asOfs) > 0 {
		t.Fatalf("visible before the marker: %v", asOfs)
	}
	putTree(t, store, prefix, map[string]string{"_SUCCESS": ""})
	res, err := ingest.Run(ctx, src, store, asOf0, ingest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan.Rows != 3 || res.Plan.K != 1 || len(res.Plan.Parts) != 12 {
		t.Errorf("plan: rows %d, k %d, %d parts; want 3, 1, 12", res.Plan.Rows, res.Plan.K, len(res.Plan.Parts))
	}
	if m := res.Commit.Manifest; m.Rows != 3 || m.Churners != 1 || m.Source != prefix {
		t.Errorf("manifest %+v", m)
	}
	// The plan survives JSON and opens its source again.
	b, _ := json.Marshal(res.Plan)
	var p ingest.Plan
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	again, err := ingest.OpenSource(p.Source, store)
	if err != nil || again.Ref() != src.Ref() {
		t.Errorf("OpenSource(%+v) = %v, %v", p.Source, again, err)
	}
}

// TestLayoutProblems: unknown files, a table in two layouts, a table
// missing — all reported at once, like Load's problems.
func TestLayoutProblems(t *testing.T) {
	files := snapshottest.TinyMonth()
	files["notes.txt"] = "hello"
	files["users/part-00000.csv"] = files["users.csv"]
	files["labels/data.csv"] = "x"
	files["payments_agg_90d.csv.gz"] = files["payments_agg_90d.csv"]
	delete(files, "payments_agg_90d.csv")
	delete(files, "support_agg_90d.csv")
	files["_SUCCESS"] = ""
	files[".DS_Store"] = "x"
	store := newStore(t)
	_, err := run(t, ingest.Dir(writeTree(t, files)), store, 0)
	verrs := validationErrors(t, err)
	text := err.Error()
	for _, want := range []string{
		"labels/data.csv: unknown file",
		"notes.txt: unknown file",
		"users: table in more than one layout (users.csv, users/part-00000.csv)",
		"support_agg_90d.csv: missing file",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no %q in:\n%s", want, text)
		}
	}
	// users.csv is not read at all: no user can be joined, so no user is
	// reported missing from the other tables.
	if strings.Contains(text, "missing from") || strings.Contains(text, "not in") || len(verrs.Problems) != 4 {
		t.Errorf("want exactly the four layout problems:\n%s", text)
	}
	assertNothingStored(t, store)
}

// TestReingest: the same data again is a no-op (whatever the budget now
// says, the stored K is kept), other data for a stored as_of is refused,
// and a month stored before sharding counts as stored.
func TestReingest(t *testing.T) {
	ctx := context.Background()
	dir, want := genMonth(t, 900)
	store := newStore(t)
	first, err := ingest.Run(ctx, ingest.Dir(dir), store, asOf0, ingest.Options{PlanOptions: ingest.PlanOptions{RowBudget: 400}})
	if err != nil {
		t.Fatal(err)
	}
	if first.Plan.Rows != 900 || first.Plan.K != 3 {
		t.Fatalf("rows %d k %d, want 900 and 3 (budget 400)", first.Plan.Rows, first.Plan.K)
	}
	before := keysOf(t, store)

	again, err := ingest.Run(ctx, ingest.Dir(dir), store, asOf0, ingest.Options{})
	if err != nil || !again.Commit.AlreadyIngested || again.Plan.K != 3 {
		t.Fatalf("same data again: %v, already=%v, k=%d", err, again.Commit.AlreadyIngested, again.Plan.K)
	}
	for _, s := range again.Shards {
		if s.Written {
			t.Errorf("shard %d rewritten", s.Shard)
		}
	}

	files := readDir(t, dir)
	files[snapshot.LabelsFile] = strings.Replace(files[snapshot.LabelsFile], "False", "True", 1)
	_, err = run(t, ingest.Dir(writeTree(t, files)), store, 0)
	var ce *ingest.ConflictError
	if !errors.As(err, &ce) || ce.Stored != first.Commit.Manifest.Fingerprint {
		t.Fatalf("other data: err %v, want *ConflictError", err)
	}
	if after := keysOf(t, store); !maps.Equal(before, after) {
		t.Error("a refused ingest changed the store")
	}

	t.Run("legacy month", func(t *testing.T) {
		store := newStore(t)
		data, err := snapshot.MarshalParquet(want)
		if err != nil {
			t.Fatal(err)
		}
		if err := store.Put(ctx, dataset.LegacyKey("2024-01-31"), data); err != nil {
			t.Fatal(err)
		}
		if asOfs, _ := dataset.List(ctx, store); len(asOfs) != 1 {
			t.Fatalf("legacy month not listed: %v", asOfs)
		}
		res, err := run(t, ingest.Dir(dir), store, 0)
		if err != nil || !res.Commit.AlreadyIngested || res.Plan.K != 1 || res.Commit.Manifest.Rows != 900 {
			t.Fatalf("same data as the legacy month: %v %+v", err, res)
		}
		if keys := keysOf(t, store); len(keys) != 1 {
			t.Errorf("keys after re-ingesting a legacy month: %v", keys)
		}
		_, err = run(t, ingest.Dir(writeTree(t, files)), store, 0)
		if !errors.As(err, &ce) {
			t.Fatalf("other data than the legacy month: err %v, want *ConflictError", err)
		}
		m, err := dataset.Open(ctx, store, "2024-01-31")
		if err != nil || !m.Legacy {
			t.Fatal(m, err)
		}
		sample, err := dataset.Sample(ctx, store, m, 0)
		if err != nil || sample.Fingerprint() != want.Fingerprint() {
			t.Errorf("legacy month sampled whole: %v", err)
		}
	})
}

func keysOf(t *testing.T, store blob.Store) map[string]bool {
	t.Helper()
	keys, err := store.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// TestPhasesOneByOne drives the phases as a state machine would, each
// from the plan read back from JSON, out of order first.
func TestPhasesOneByOne(t *testing.T) {
	ctx := context.Background()
	dir, want := genMonth(t, 500)
	store := newStore(t)
	src := ingest.Dir(dir)
	planned, err := ingest.NewPlan(ctx, src, store, asOf0, ingest.PlanOptions{Shards: 4})
	if err != nil {
		t.Fatal(err)
	}
	p, err := ingest.LoadPlan(ctx, store, planned.AsOf, planned.Attempt)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := ingest.NewPlan(ctx, src, store, asOf0, ingest.PlanOptions{Attempt: p.Attempt}); err != nil || again.K != 4 {
		t.Fatalf("planning the attempt again: %+v, %v", again, err)
	}
	var inc *ingest.IncompleteError
	if _, _, err := ingest.BuildShard(ctx, store, p, 0); !errors.As(err, &inc) {
		t.Fatalf("build before partitioning: %v", err)
	}
	for i := range p.Parts {
		r1, err := ingest.Partition(ctx, src, store, p, i)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := ingest.Partition(ctx, src, store, p, i) // a retried task
		if err != nil || fmt.Sprint(r1) != fmt.Sprint(r2) {
			t.Fatalf("partition %d again: %+v, %v; first %+v", i, r2, err, r1)
		}
	}
	if _, err := ingest.Commit(ctx, store, p, time.Now()); !errors.As(err, &inc) {
		t.Fatalf("commit before building: %v", err)
	}
	total := 0
	for k := p.K - 1; k >= 0; k-- {
		r, m, err := ingest.BuildShard(ctx, store, p, k)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := ingest.BuildShard(ctx, store, p, k); err != nil { // a retried task
			t.Fatal(err)
		}
		if m == nil || len(m.Customers) != r.Rows || r.Key != dataset.PartKey(p.AsOf, k) || !r.Written {
			t.Fatalf("shard %d: %+v", k, r)
		}
		total += r.Rows
	}
	if asOfs, _ := dataset.List(ctx, store); len(asOfs) > 0 || total != len(want.Customers) {
		t.Fatalf("before the commit: visible %v, %d rows built", asOfs, total)
	}
	res, err := ingest.Commit(ctx, store, p, time.Now())
	if err != nil || res.AlreadyIngested || res.Manifest.Rows != len(want.Customers) {
		t.Fatalf("commit: %+v, %v", res, err)
	}
	if keys := keysOf(t, store); len(keys) != p.K+2 {
		t.Errorf("after the commit: %d keys %v, want %d parts, the drift summary and the manifest", len(keys), keys, p.K)
	}
}

// TestUncommittedLeftovers: a part file left by an attempt that never
// committed is adopted when it holds the same bytes, never overwritten when
// it does not (the attempt writes its own file, and the leftover goes once
// the month is committed); shards without users have no file.
func TestUncommittedLeftovers(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	const k = 7
	taken := shard.Of("0001-AAAAA", k)
	// The leftovers of an attempt that crashed an hour ago: too young for
	// RemoveStale.
	crashed := ingest.StagingPrefix + "as_of=2024-01-31/attempt=" + ingest.NewAttempt(time.Now().Add(-time.Hour)) + "/plan.json"
	if err := store.Put(ctx, crashed, []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, dataset.PartKey("2024-01-31", taken), []byte("not this")); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, dataset.PartKey("2024-01-31", 9), []byte("an attempt with more shards")); err != nil {
		t.Fatal(err)
	}
	res, err := run(t, ingest.Dir(writeTree(t, snapshottest.TinyMonth())), store, k)
	if err != nil {
		t.Fatal(err)
	}
	m := res.Commit.Manifest
	empty := 0
	for _, s := range m.Shards {
		if s.Key == "" {
			empty++
		}
	}
	if m.Rows != 3 || empty < 4 {
		t.Errorf("rows %d, %d empty shards of 7", m.Rows, empty)
	}
	if key := m.Shards[taken].Key; key == dataset.PartKey("2024-01-31", taken) || !strings.Contains(key, res.Plan.Attempt) {
		t.Errorf("shard %d written to %s over a leftover", taken, key)
	}
	_, shards := storedMonth(t, store, "2024-01-31")
	n := 0
	for _, s := range shards {
		n += len(s)
	}
	if n != 3 {
		t.Errorf("%d customers read back", n)
	}
	keys := keysOf(t, store)
	if keys[dataset.PartKey("2024-01-31", 9)] || keys[dataset.PartKey("2024-01-31", taken)] {
		t.Errorf("parts the manifest does not name were left: %v", keys)
	}

	// The same data again, from scratch, adopts nothing but writes the
	// same bytes to the shards' own keys: a fresh store is the same.
	fresh := newStore(t)
	res2, err := run(t, ingest.Dir(writeTree(t, snapshottest.TinyMonth())), fresh, k)
	if err != nil || res2.Commit.Manifest.Fingerprint != m.Fingerprint {
		t.Fatalf("fresh: %v", err)
	}
}

// TestInterleavedAttempts runs two attempts with different data for one
// as_of, phase by phase, interleaved: whichever commits first is stored,
// whole and correct; the other is refused.
func TestInterleavedAttempts(t *testing.T) {
	ctx := context.Background()
	dirA, wantA := genMonth(t, 400)
	files := readDir(t, dirA)
	files[snapshot.UsageFile] = strings.Replace(files[snapshot.UsageFile], ",1\n", ",2\n", 50)
	dirB := writeTree(t, files)
	wantB, err := snapshot.Load(dirB, asOf0)
	if err != nil {
		t.Fatal(err)
	}
	for _, bFirst := range []bool{false, true} {
		t.Run(fmt.Sprint("b first=", bFirst), func(t *testing.T) {
			store := newStore(t)
			now := clock()
			plan := func(dir string) *ingest.Plan {
				p, err := ingest.NewPlan(ctx, ingest.Dir(dir), store, asOf0, ingest.PlanOptions{Shards: 3, Now: now})
				if err != nil {
					t.Fatal(err)
				}
				return p
			}
			pa, pb := plan(dirA), plan(dirB)
			for _, x := range []struct {
				p   *ingest.Plan
				dir string
			}{{pa, dirA}, {pb, dirB}} {
				for i := range x.p.Parts {
					if _, err := ingest.Partition(ctx, ingest.Dir(x.dir), store, x.p, i); err != nil {
						t.Fatal(err)
					}
				}
			}
			for k := range 3 {
				for _, p := range []*ingest.Plan{pa, pb} {
					if _, _, err := ingest.BuildShard(ctx, store, p, k); err != nil {
						t.Fatal(err)
					}
				}
			}
			first, second, want := pa, pb, wantA
			if bFirst {
				first, second, want = pb, pa, wantB
			}
			if _, err := ingest.Commit(ctx, store, first, now()); err != nil {
				t.Fatal(err)
			}
			// The second is refused: for its data, or, when it is the
			// older attempt, because the first one's commit removed its
			// staging (an older attempt has nothing left to do).
			var ce *ingest.ConflictError
			var ie *ingest.IncompleteError
			_, err := ingest.Commit(ctx, store, second, now())
			if !errors.As(err, &ce) && !(bFirst && errors.As(err, &ie)) {
				t.Fatalf("second commit: %v, want *ConflictError", err)
			}
			if !checkOldOrNew(t, store, want) {
				t.Fatal("no month visible")
			}
		})
	}
}

// TestRemoveStale: staging of old attempts and part files of months that
// no attempt will commit are removed; young attempts and their months
// stay.
func TestRemoveStale(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	old := ingest.NewAttempt(now.Add(-25 * time.Hour))
	young := ingest.NewAttempt(now.Add(-time.Hour))
	put := func(key string) {
		if err := store.Put(ctx, key, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	put(ingest.StagingPrefix + "as_of=2024-01-31/attempt=" + old + "/plan.json")
	put(ingest.StagingPrefix + "as_of=2024-01-31/attempt=" + old + "/rows/k=00000/t=0/p=00000/c=00000")
	put(dataset.PartKey("2024-01-31", 0)) // that attempt's uncommitted shard
	put(ingest.StagingPrefix + "as_of=2024-02-29/attempt=" + young + "/plan.json")
	put(dataset.PartKey("2024-02-29", 0)) // a live attempt's shard
	put(ingest.StagingPrefix + "as_of=2024-03-31/attempt=exec-name/plan.json")
	put(dataset.ManifestKey("2024-04-30"))
	put(dataset.PartKey("2024-04-30", 0)) // a committed month's
	n, err := ingest.RemoveStale(ctx, store, now, ingest.StaleAge)
	if err != nil {
		t.Fatal(err)
	}
	keys := keysOf(t, store)
	if n != 3 || len(keys) != 5 || keys[dataset.PartKey("2024-01-31", 0)] || !keys[dataset.PartKey("2024-02-29", 0)] {
		t.Errorf("removed %d, left %v", n, keys)
	}
}

// TestGeneratedIncoming ingests what `churnops gen --parts 4 --gzip
// --incoming` writes, uploaded to the bucket's incoming/ prefix, and gets
// the month Load reads from the lab's layout of the same seed.
func TestGeneratedIncoming(t *testing.T) {
	ctx := context.Background()
	cfg := synth.Config{Users: 2500, Months: 2, Seed: 12}
	plain, parted := t.TempDir(), t.TempDir()
	if _, err := synth.Stream(plain, cfg, synth.StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := synth.Stream(parted, cfg, synth.StreamOptions{Parts: 4, Gzip: true, Incoming: true}); err != nil {
		t.Fatal(err)
	}
	store := newStore(t)
	err := filepath.WalkDir(parted, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(parted, path)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return store.Put(ctx, filepath.ToSlash(rel), data)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range cfg.Months {
		want, err := snapshot.Load(filepath.Join(plain, synth.MonthDir(i)), synth.AsOf(i))
		if err != nil {
			t.Fatal(err)
		}
		prefix := filepath.ToSlash(synth.IncomingDir(synth.AsOf(i))) + "/"
		res, err := ingest.Run(ctx, ingest.Blob(store, prefix), store, synth.AsOf(i), ingest.Options{PlanOptions: ingest.PlanOptions{RowBudget: 1000}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Plan.K != 3 || len(res.Plan.Parts) != 24 || res.Plan.Rows != 2500 {
			t.Errorf("month %d: k=%d, %d parts, %d rows; want 3, 24, 2500", i, res.Plan.K, len(res.Plan.Parts), res.Plan.Rows)
		}
		_, shards := storedMonth(t, store, synth.AsOf(i).Format(snapshot.DateLayout))
		got := map[string]snapshot.Customer{}
		for _, s := range shards {
			for _, c := range s {
				got[c.UserID] = c
			}
		}
		if len(got) != len(want.Customers) {
			t.Fatalf("month %d: %d customers, want %d", i, len(got), len(want.Customers))
		}
		for _, c := range want.Customers {
			if !sameCustomer(c, got[c.UserID]) {
				t.Fatalf("month %d: %s differs", i, c.UserID)
			}
		}
	}
}

// TestCorruptStagedChunk: a staged chunk that does not decode fails the
// build with an error naming it, rather than reporting data problems.
func TestCorruptStagedChunk(t *testing.T) {
	ctx := context.Background()
	dir, _ := genMonth(t, 300)
	store := newStore(t)
	p, err := ingest.NewPlan(ctx, ingest.Dir(dir), store, asOf0, ingest.PlanOptions{Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Parts {
		if _, err := ingest.Partition(ctx, ingest.Dir(dir), store, p, i); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := store.List(ctx, ingest.StagingPrefix)
	if err != nil {
		t.Fatal(err)
	}
	var victim string
	for _, k := range keys {
		if strings.Contains(k, "/rows/k=00001/t=2/") {
			victim = k
		}
	}
	if victim == "" {
		t.Fatalf("no chunk of table 2 for shard 1 in %v", keys)
	}
	if err := store.Delete(ctx, victim); err != nil {
		t.Fatal(err)
	}
	if err := store.Put(ctx, victim, []byte{1, 5, 3, 200}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ingest.BuildShard(ctx, store, p, 1); err == nil || !strings.Contains(err.Error(), victim) {
		t.Errorf("build over a corrupt chunk: %v", err)
	}
	if _, _, err := ingest.BuildShard(ctx, store, p, 0); err != nil {
		t.Errorf("the other shard: %v", err)
	}
}
