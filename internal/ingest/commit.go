package ingest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// CommitResult is what Commit did.
type CommitResult struct {
	// Manifest is the stored month's manifest: the one written, or the one
	// already there when the same data was ingested before (for a month
	// stored before sharding, the manifest dataset.Open makes up, with this
	// ingest's totals).
	Manifest *dataset.Manifest `json:"manifest"`
	// AlreadyIngested means the month was already stored with the same
	// data: nothing was written.
	AlreadyIngested bool `json:"already_ingested"`
	// Cleaned counts the keys deleted: this attempt's staging, older
	// attempts' staging of the same as_of, stray part files.
	Cleaned int `json:"cleaned"`
}

// Commit makes the month visible once every shard is built: it writes
// datasets/as_of=D/manifest.json, last. Before that it gathers every
// problem found by the plan, the partition tasks and the builds into one
// *snapshot.ValidationErrors in Load's order (nothing is committed, and
// the part files this attempt wrote are deleted), and refuses with a
// *ConflictError a month already stored with other data.
//
// After committing it deletes the attempt's staging, the staging of older
// attempts of the same as_of (crashed ones: the month they were writing is
// now stored, so they have nothing left to do) and part files the manifest
// does not name (left by a crashed attempt with more shards). Running
// Commit again after a crash anywhere in it finishes the same way.
//
// Every shard must have been built (*IncompleteError otherwise).
func Commit(ctx context.Context, store blob.Store, p *Plan, now time.Time) (CommitResult, error) {
	var out CommitResult
	parts, err := loadPartResults(ctx, store, p)
	if err != nil {
		return out, err
	}
	shards := make([]ShardResult, p.K)
	for k := range shards {
		res, err := loadShardResult(ctx, store, p, k)
		if errors.Is(err, blob.ErrNotFound) {
			return out, &IncompleteError{AsOf: p.AsOf, Attempt: p.Attempt, Missing: fmt.Sprintf("build of shard %d", k)}
		}
		if err != nil {
			return out, err
		}
		shards[k] = res
	}

	if verrs := collectProblems(p, parts, shards); verrs != nil {
		n, err := discard(ctx, store, p, shards)
		out.Cleaned = n
		if err != nil {
			return out, errors.Join(verrs, err)
		}
		return out, verrs
	}

	m := &dataset.Manifest{
		Schema: dataset.ManifestSchema, AsOf: p.AsOf, K: p.K,
		RowBudget: p.RowBudget, CreatedAt: now.UTC().Truncate(time.Second), Source: p.Source.String(), Attempt: p.Attempt,
	}
	fps := make([]string, p.K)
	for k, s := range shards {
		m.Shards = append(m.Shards, dataset.Shard{Shard: k, Key: s.Key, Rows: s.Rows, Churners: s.Churners, Fingerprint: s.Fingerprint, Bytes: s.Bytes})
		m.Rows += s.Rows
		m.Churners += s.Churners
		fps[k] = s.Fingerprint
	}
	m.Fingerprint = dataset.MonthFingerprint(p.AsOf, fps)

	stored, err := storedFingerprint(ctx, store, p)
	if err != nil {
		return out, err
	}
	if stored != nil {
		if stored.Fingerprint != m.Fingerprint {
			return out, conflict(ctx, store, p, stored.Fingerprint, m.Fingerprint)
		}
		// The same data: stored before, or by this attempt before a crash.
		out.Manifest, out.AlreadyIngested = stored, stored.Attempt != p.Attempt
	} else {
		for _, s := range m.Shards {
			if s.Key != "" && !exists(ctx, store, s.Key) {
				return out, fmt.Errorf("ingest: commit %s: shard %d's file %s is gone", p.AsOf, s.Shard, s.Key)
			}
		}
		if err := storeExtras(ctx, store, p, m); err != nil {
			return out, fmt.Errorf("ingest: commit %s: %w", p.AsOf, err)
		}
		data, err := dataset.EncodeManifest(m)
		if err != nil {
			return out, fmt.Errorf("ingest: commit %s: %w", p.AsOf, err)
		}
		switch err := store.Put(ctx, dataset.ManifestKey(p.AsOf), data); {
		case errors.Is(err, blob.ErrExists):
			// Committed meanwhile, or by this attempt before a crash.
			other, oerr := dataset.Open(ctx, store, p.AsOf)
			if oerr != nil {
				return out, fmt.Errorf("ingest: commit %s: %w", p.AsOf, oerr)
			}
			if other.Fingerprint != m.Fingerprint {
				return out, conflict(ctx, store, p, other.Fingerprint, m.Fingerprint)
			}
			out.Manifest, out.AlreadyIngested = other, other.Attempt != p.Attempt
		case err != nil:
			return out, fmt.Errorf("ingest: commit %s: %w", p.AsOf, err)
		default:
			out.Manifest = m
		}
	}
	n, err := cleanAfterCommit(ctx, store, p, out.Manifest)
	out.Cleaned = n
	return out, err
}

// storeExtras stores, before the manifest that names them, the month's
// drift summary (the shards' summaries merged: byte for byte the summary of
// the whole month) and, when the plan asks for one, its sample (the
// budget's customers of smallest SampleKey among the shards' candidates,
// which are all the month's customers below the plan's bound: when there
// are at least budget of them, the sample of the month). Both keys are
// named by the month's fingerprint, so a re-run of a crashed commit adopts
// what it wrote.
func storeExtras(ctx context.Context, store blob.Store, p *Plan, m *dataset.Manifest) error {
	var sum *drift.Summary
	for _, s := range m.Shards {
		if s.Key == "" {
			continue // a shard without users
		}
		data, err := store.Get(ctx, summaryStageKey(p.AsOf, p.Attempt, s.Shard))
		if err != nil {
			return fmt.Errorf("drift summary of shard %d: %w", s.Shard, err)
		}
		part, err := drift.UnmarshalSummary(data)
		if err != nil {
			return fmt.Errorf("drift summary of shard %d: %w", s.Shard, err)
		}
		if sum == nil {
			sum = part
		} else if sum, err = drift.Merge(sum, part); err != nil {
			return fmt.Errorf("merge drift summaries: %w", err)
		}
	}
	if sum != nil {
		data, err := sum.MarshalBinary()
		if err != nil {
			return fmt.Errorf("drift summary: %w", err)
		}
		key := dataset.SummaryKey(p.AsOf, m.Fingerprint)
		if err := putIdentical(ctx, store, key, data); err != nil {
			return fmt.Errorf("store drift summary: %w", err)
		}
		m.DriftSummary = key
	}
	if p.SampleBound == 0 || m.Rows <= p.SampleRows {
		return nil
	}
	asOf, err := snapshot.ParseAsOf(p.AsOf)
	if err != nil {
		return err
	}
	candidates := 0
	sample, err := dataset.SampleFrom(asOf, p.SampleRows, p.SampleRows, func(fn func(k int, shard *snapshot.Month) error) error {
		for _, s := range m.Shards {
			if s.Key == "" {
				continue
			}
			data, err := store.Get(ctx, sampleStageKey(p.AsOf, p.Attempt, s.Shard))
			if err != nil {
				return fmt.Errorf("sample candidates of shard %d: %w", s.Shard, err)
			}
			c, err := snapshot.UnmarshalParquet(data)
			if err != nil {
				return fmt.Errorf("sample candidates of shard %d: %w", s.Shard, err)
			}
			candidates += len(c.Customers)
			if err := fn(s.Shard, c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if candidates < p.SampleRows {
		// The month had fewer customers below the bound than the plan
		// expected (its row count was off): Sample reads the month instead.
		return nil
	}
	data, err := snapshot.MarshalParquetTrusted(sample)
	if err != nil {
		return fmt.Errorf("sample: %w", err)
	}
	key := dataset.SampleFileKey(p.AsOf, p.SampleRows, m.Fingerprint)
	if err := putIdentical(ctx, store, key, data); err != nil {
		return fmt.Errorf("store sample: %w", err)
	}
	m.Sample = &dataset.SampleFile{Key: key, Budget: p.SampleRows, Rows: len(sample.Customers)}
	return nil
}

// conflict ends an attempt whose data differs from the stored month's: it
// will never commit, so its staging goes (it wrote no part file: the
// builds of a stored month only compare).
func conflict(ctx context.Context, store blob.Store, p *Plan, stored, ingested string) error {
	err := error(&ConflictError{AsOf: p.AsOf, Stored: stored, Ingested: ingested})
	if _, cerr := deletePrefix(ctx, store, attemptDir(p.AsOf, p.Attempt)); cerr != nil {
		return errors.Join(err, cerr)
	}
	return err
}

// collectProblems merges every problem of the attempt, in Load's order.
func collectProblems(p *Plan, parts []PartResult, shards []ShardResult) *snapshot.ValidationErrors {
	problems := append([]snapshot.Problem(nil), p.Problems...)
	omitted := 0
	for _, r := range parts {
		problems = append(problems, r.Problems...)
		omitted += r.Omitted
	}
	for t, tbl := range p.Tables {
		if st := tableStatus(p, t, parts); st.Readable && st.Complete && st.Rows == 0 {
			problems = append(problems, snapshot.NoRowsProblem(t, p.Parts[tbl.Parts[0]].File))
		}
	}
	for _, s := range shards {
		problems = append(problems, s.Problems...)
		omitted += s.Omitted
	}
	return snapshot.MergeProblems(p.Source.String(), problems, omitted)
}

// storedFingerprint returns the manifest of the month already stored for
// the as_of, nil if none. A month stored before sharding is read whole for
// its fingerprint (such months are the lab's size).
func storedFingerprint(ctx context.Context, store blob.Store, p *Plan) (*dataset.Manifest, error) {
	m, err := dataset.Open(ctx, store, p.AsOf)
	if errors.Is(err, dataset.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ingest: commit %s: %w", p.AsOf, err)
	}
	if !m.Legacy {
		return m, nil
	}
	month, err := dataset.ReadShard(ctx, store, m, 0)
	if err != nil {
		return nil, fmt.Errorf("ingest: commit %s: %w", p.AsOf, err)
	}
	m.Rows, m.Shards[0].Rows = len(month.Customers), len(month.Customers)
	for i := range month.Customers {
		if month.Customers[i].Churn {
			m.Churners++
		}
	}
	m.Shards[0].Churners = m.Churners
	m.Fingerprint = month.Fingerprint()
	m.Shards[0].Fingerprint = m.Fingerprint
	return m, nil
}

func exists(ctx context.Context, store blob.Store, key string) bool {
	keys, err := store.List(ctx, key)
	return err == nil && len(keys) > 0 && keys[0] == key
}

// discard undoes an attempt that will not commit: the part files it wrote
// (when no month is stored: until then nothing names them) and its staging.
func discard(ctx context.Context, store blob.Store, p *Plan, shards []ShardResult) (int, error) {
	n := 0
	if p.Committed == CommittedNone && !exists(ctx, store, dataset.ManifestKey(p.AsOf)) {
		for _, s := range shards {
			if s.Written && s.Key != "" {
				if err := store.Delete(ctx, s.Key); err != nil {
					return n, fmt.Errorf("ingest: discard %s: %w", s.Key, err)
				}
				n++
			}
		}
	}
	m, err := deletePrefix(ctx, store, attemptDir(p.AsOf, p.Attempt))
	return n + m, err
}

// cleanAfterCommit deletes what the committed month leaves behind.
func cleanAfterCommit(ctx context.Context, store blob.Store, p *Plan, m *dataset.Manifest) (int, error) {
	n := 0
	if !m.Legacy {
		named := map[string]bool{}
		for _, s := range m.Shards {
			named[s.Key] = true
		}
		if m.DriftSummary != "" {
			named[m.DriftSummary] = true
		}
		if m.Sample != nil {
			named[m.Sample.Key] = true
		}
		keys, err := store.List(ctx, dataset.Dir(p.AsOf))
		if err != nil {
			return n, fmt.Errorf("ingest: clean %s: %w", p.AsOf, err)
		}
		for _, k := range keys {
			if !named[k] && dataFile(strings.TrimPrefix(k, dataset.Dir(p.AsOf))) {
				if err := store.Delete(ctx, k); err != nil {
					return n, fmt.Errorf("ingest: clean %s: %w", k, err)
				}
				n++
			}
		}
	}
	// Older attempts first, this one's last: a crash in between leaves
	// this attempt's staging, and running Commit again cleans the rest.
	attempts, err := listAttempts(ctx, store, p.AsOf)
	if err != nil {
		return n, err
	}
	for _, a := range attempts {
		if a != p.Attempt && olderAttempt(a, p.Attempt) {
			d, err := deletePrefix(ctx, store, attemptDir(p.AsOf, a))
			n += d
			if err != nil {
				return n, err
			}
		}
	}
	d, err := deletePrefix(ctx, store, attemptDir(p.AsOf, p.Attempt))
	return n + d, err
}

// dataFile reports whether a file of a month's directory is one an ingest
// writes before the manifest names it: a shard's Parquet file, the drift
// summary, the sample. One the manifest does not name was left by an
// attempt that never committed.
func dataFile(name string) bool {
	return strings.HasPrefix(name, "part-") && strings.HasSuffix(name, ".parquet") ||
		strings.HasPrefix(name, "drift-summary-") && strings.HasSuffix(name, ".bin") ||
		strings.HasPrefix(name, "sample-") && strings.HasSuffix(name, ".parquet")
}

// olderAttempt reports whether attempt a started before b: by the start
// times in their ids, or, for ids without one, by id order.
func olderAttempt(a, b string) bool {
	ta, oka := attemptTime(a)
	tb, okb := attemptTime(b)
	if oka && okb {
		return ta.Before(tb) || ta.Equal(tb) && a < b
	}
	return a < b
}

// listAttempts returns the ids of the attempts staged for an as_of.
func listAttempts(ctx context.Context, store blob.Store, asOf string) ([]string, error) {
	prefix := StagingPrefix + "as_of=" + asOf + "/attempt="
	keys, err := store.List(ctx, prefix)
	if err != nil {
		return nil, fmt.Errorf("ingest: list attempts of %s: %w", asOf, err)
	}
	var out []string
	for _, k := range keys {
		a, _, _ := strings.Cut(strings.TrimPrefix(k, prefix), "/")
		if len(out) == 0 || out[len(out)-1] != a {
			out = append(out, a)
		}
	}
	return out, nil
}

// deleters is how many deletes deletePrefix runs at once: a month's
// staging is hundreds of keys, each a round trip to S3 (or an fsync).
const deleters = 8

// deletePrefix deletes every key under prefix; it returns how many.
func deletePrefix(ctx context.Context, store blob.Store, prefix string) (int, error) {
	keys, err := store.List(ctx, prefix)
	if err != nil {
		return 0, fmt.Errorf("ingest: clean %s: %w", prefix, err)
	}
	// The plan goes last, so a crash midway leaves an attempt that can
	// still be found (and whose age is still known) to finish the job.
	var last []string
	for i, k := range keys {
		if strings.HasSuffix(k, "/plan.json") {
			last = []string{k}
			keys = append(keys[:i:i], keys[i+1:]...)
			break
		}
	}
	var (
		mu      sync.Mutex
		deleted int
	)
	for _, batch := range [][]string{keys, last} {
		err := parallel(ctx, len(batch), deleters, func(ctx context.Context, i int) error {
			if err := store.Delete(ctx, batch[i]); err != nil {
				return fmt.Errorf("ingest: clean %s: %w", batch[i], err)
			}
			mu.Lock()
			deleted++
			mu.Unlock()
			return nil
		})
		if err != nil {
			return deleted, err
		}
	}
	return deleted, nil
}
