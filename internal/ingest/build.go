package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// ShardResult is what building one shard found and wrote. It is staged
// (shards/k=KKKKK.json) for the commit.
type ShardResult struct {
	Shard int `json:"shard"`
	// Key is the shard's Parquet file (dataset.PartKey, or this attempt's
	// variant when a leftover holds that key), set when the shard has users
	// and no problem was found anywhere in the month so far.
	Key         string `json:"key,omitempty"`
	Rows        int    `json:"rows"`
	Churners    int    `json:"churners"`
	Fingerprint string `json:"fingerprint,omitempty"`
	Bytes       int    `json:"bytes,omitempty"`
	// Written means this attempt wrote Key; false when the file was
	// already there with the same bytes (a retry, a re-run) or the month
	// is already stored (then nothing is written: Commit compares).
	Written bool `json:"written,omitempty"`
	// Problems found in the shard's rows (at most snapshot.MaxProblems, in
	// Load's order); Omitted counts the rest.
	Problems []snapshot.Problem `json:"problems,omitempty"`
	Omitted  int                `json:"omitted,omitempty"`
}

// BuildShard joins and validates shard k of the month from the rows the
// partition tasks staged for it, with Load's rules and messages (problems
// name each row's own file and line), and writes the shard's Parquet file
// (dataset.PartKey: snapshot.WriteParquet's schema). It returns the result
// and, when the shard has no problem, its customers in input order (nil
// otherwise), for the caller to write online features or drift summaries.
//
// Nothing is written when the month cannot be committed anyway: problems in
// this shard, or in any part's file. When the as_of is already stored, the
// shard is only compared (by fingerprint, in Commit). A file left at the
// shard's key by an attempt that never committed is adopted if it holds the
// same bytes; otherwise this attempt writes its own (see putPart).
//
// Every part must have been partitioned (*IncompleteError otherwise).
func BuildShard(ctx context.Context, store blob.Store, p *Plan, k int) (ShardResult, *snapshot.Month, error) {
	if k < 0 || k >= p.K {
		return ShardResult{}, nil, fmt.Errorf("ingest: plan %s/%s has no shard %d (k=%d)", p.AsOf, p.Attempt, k, p.K)
	}
	parts, err := loadPartResults(ctx, store, p)
	if err != nil {
		return ShardResult{}, nil, err
	}
	res, m, err := build(ctx, store, p, k, parts)
	if err != nil {
		return ShardResult{}, nil, fmt.Errorf("ingest: build shard %d of %s: %w", k, p.AsOf, err)
	}
	if err := storeShardResult(ctx, store, p, &res); err != nil {
		return ShardResult{}, nil, err
	}
	return res, m, nil
}

// loadPartResults reads every part's staged result.
func loadPartResults(ctx context.Context, store blob.Store, p *Plan) ([]PartResult, error) {
	out := make([]PartResult, len(p.Parts))
	for i, pt := range p.Parts {
		res, err := loadPartResult(ctx, store, p, i)
		if errors.Is(err, blob.ErrNotFound) {
			return nil, &IncompleteError{AsOf: p.AsOf, Attempt: p.Attempt, Missing: fmt.Sprintf("partition of part %d (%s)", i, pt.File)}
		}
		if err != nil {
			return nil, err
		}
		out[i] = res
	}
	return out, nil
}

// tableStatus is a table's status over all its parts: readable only if it
// is there in one layout and every file has a good header.
func tableStatus(p *Plan, t int, parts []PartResult) snapshot.TableStatus {
	tbl := p.Tables[t]
	st := snapshot.TableStatus{Readable: len(tbl.Parts) > 0, Complete: true}
	for _, i := range tbl.Parts {
		st.Readable = st.Readable && parts[i].Readable
		st.Complete = st.Complete && parts[i].Complete
		st.Rows += parts[i].Rows
	}
	return st
}

// fileProblems reports whether the layout or any part has a problem: the
// month will not be committed.
func fileProblems(p *Plan, parts []PartResult) bool {
	if len(p.Problems) > 0 {
		return true
	}
	for _, r := range parts {
		if len(r.Problems) > 0 || r.Omitted > 0 {
			return true
		}
	}
	return false
}

func build(ctx context.Context, store blob.Store, p *Plan, k int, parts []PartResult) (ShardResult, *snapshot.Month, error) {
	res := ShardResult{Shard: k}
	asOf, err := snapshot.ParseAsOf(p.AsOf)
	if err != nil {
		return res, nil, err
	}
	hint := 0
	if p.Rows > 0 {
		hint = p.Rows/p.K + p.Rows/p.K/16
	}
	j, err := snapshot.NewJoiner(asOf, hint)
	if err != nil {
		return res, nil, err
	}
	keys, err := store.List(ctx, rowsDir(p.AsOf, p.Attempt, k))
	if err != nil {
		return res, nil, fmt.Errorf("list staged rows: %w", err)
	}
	byTable := make([][]string, len(p.Tables))
	for _, key := range keys {
		t, _, _, err := parseChunkKey(strings.TrimPrefix(key, rowsDir(p.AsOf, p.Attempt, k)))
		if err != nil || t < 0 || t >= len(byTable) {
			return res, nil, fmt.Errorf("unexpected staged key %s", key)
		}
		byTable[t] = append(byTable[t], key)
	}
	// Chunks are read one ahead of the one being joined (an S3 GET's
	// latency overlaps the CPU work), in table, part, chunk order.
	statuses := make([]snapshot.TableStatus, len(p.Tables))
	var wanted []string
	for t := range p.Tables {
		statuses[t] = tableStatus(p, t, parts)
		if statuses[t].Readable {
			wanted = append(wanted, byTable[t]...)
		}
	}
	fetchCtx, stop := context.WithCancel(ctx)
	defer stop() // an early return ends the prefetch
	chunks := prefetch(fetchCtx, store, wanted)
	var rec []string
	for t, tbl := range p.Tables {
		j.Table(t, tbl.Name)
		if statuses[t].Readable {
			for _, key := range byTable[t] {
				_, part, _, _ := parseChunkKey(strings.TrimPrefix(key, rowsDir(p.AsOf, p.Attempt, k)))
				if part < 0 || part >= len(p.Parts) || p.Parts[part].Table != t {
					return res, nil, fmt.Errorf("staged key %s: no such part in the plan", key)
				}
				pt := p.Parts[part]
				j.Part(pt.Part, pt.File)
				c := <-chunks
				if c.err != nil {
					return res, nil, fmt.Errorf("read staged rows: %w", c.err)
				}
				if rec, err = replay(c.data, j, rec); err != nil {
					return res, nil, fmt.Errorf("%s: %w", key, err)
				}
			}
		}
		j.EndTable(statuses[t])
	}
	m, problems, omitted := j.Result()
	if m == nil {
		res.Problems, res.Omitted = problems, omitted
		return res, nil, nil
	}
	res.Rows = len(m.Customers)
	for i := range m.Customers {
		if m.Customers[i].Churn {
			res.Churners++
		}
	}
	res.Fingerprint = m.Fingerprint()
	if res.Rows == 0 || fileProblems(p, parts) || p.Committed != CommittedNone {
		return res, m, nil
	}
	data, err := snapshot.MarshalParquetTrusted(m)
	if err != nil {
		return res, nil, err
	}
	res.Bytes = len(data)
	if res.Key, res.Written, err = putPart(ctx, store, p, k, data); err != nil {
		return res, nil, err
	}
	if err := stageShardExtras(ctx, store, p, k, m); err != nil {
		return res, nil, err
	}
	return res, m, nil
}

// stageShardExtras stages what the commit makes of every shard besides
// its Parquet file: the shard's drift summary (merged into the month's)
// and its candidates for the month's stored sample. A retried build
// stages the same bytes.
func stageShardExtras(ctx context.Context, store blob.Store, p *Plan, k int, m *snapshot.Month) error {
	sum, err := drift.Summarize(m.DriftColumns())
	if err != nil {
		return fmt.Errorf("drift summary: %w", err)
	}
	data, err := sum.MarshalBinary()
	if err != nil {
		return fmt.Errorf("drift summary: %w", err)
	}
	if err := putIdentical(ctx, store, summaryStageKey(p.AsOf, p.Attempt, k), data); err != nil {
		return fmt.Errorf("stage drift summary: %w", err)
	}
	if p.SampleBound == 0 {
		return nil
	}
	data, err = snapshot.MarshalParquetTrusted(dataset.Candidates(m, p.SampleBound))
	if err != nil {
		return fmt.Errorf("sample candidates: %w", err)
	}
	if err := putIdentical(ctx, store, sampleStageKey(p.AsOf, p.Attempt, k), data); err != nil {
		return fmt.Errorf("stage sample candidates: %w", err)
	}
	return nil
}

// chunk is a staged object read by prefetch.
type chunk struct {
	data []byte
	err  error
}

// prefetch reads keys in order on a goroutine, at most one ahead of the
// reader, and stops at the first error or when ctx ends. The caller must
// receive len(keys) chunks, or stop at an error.
func prefetch(ctx context.Context, store blob.Store, keys []string) <-chan chunk {
	out := make(chan chunk, 1)
	go func() {
		defer close(out)
		for _, k := range keys {
			data, err := store.Get(ctx, k)
			select {
			case out <- chunk{data, err}:
			case <-ctx.Done():
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return out
}

// putPart writes a shard's Parquet file and returns its key: the shard's
// own (dataset.PartKey), or, when that key already holds other bytes left
// by an attempt that never committed, a key of this attempt's
// (part-NNNNN-ATTEMPT.parquet). No file is ever replaced: another attempt
// may still be about to name it in a manifest; Commit names the files its
// attempt wrote and deletes the others once the month is committed.
func putPart(ctx context.Context, store blob.Store, p *Plan, k int, data []byte) (key string, written bool, err error) {
	for _, key := range []string{dataset.PartKey(p.AsOf, k), attemptPartKey(p, k)} {
		err := store.Put(ctx, key, data)
		if err == nil {
			return key, true, nil
		}
		if !errors.Is(err, blob.ErrExists) {
			return "", false, fmt.Errorf("write %s: %w", key, err)
		}
		old, err := store.Get(ctx, key)
		if err != nil {
			return "", false, fmt.Errorf("read back %s: %w", key, err)
		}
		if bytes.Equal(old, data) { // a retry, or the same data again
			return key, false, nil
		}
	}
	return "", false, fmt.Errorf("write shard %d: %s holds other bytes", k, attemptPartKey(p, k))
}

// attemptPartKey is where an attempt writes shard k when the shard's own
// key is taken by other bytes.
func attemptPartKey(p *Plan, k int) string {
	return fmt.Sprintf("%spart-%05d-%s.parquet", dataset.Dir(p.AsOf), k, p.Attempt)
}

// storeShardResult stages the result. A result already staged by another
// run of the same task keeps its Written flag: it wrote the file this run
// adopted.
func storeShardResult(ctx context.Context, store blob.Store, p *Plan, res *ShardResult) error {
	key := shardResultKey(p.AsOf, p.Attempt, res.Shard)
	if old, err := loadShardResult(ctx, store, p, res.Shard); err == nil {
		res.Written = res.Written || old.Written
		if err := store.Delete(ctx, key); err != nil {
			return fmt.Errorf("ingest: restage result of shard %d: %w", res.Shard, err)
		}
	} else if !errors.Is(err, blob.ErrNotFound) {
		return err
	}
	data, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("ingest: shard %d result: %w", res.Shard, err)
	}
	if err := store.Put(ctx, key, data); err != nil {
		return fmt.Errorf("ingest: stage result of shard %d: %w", res.Shard, err)
	}
	return nil
}

func loadShardResult(ctx context.Context, store blob.Store, p *Plan, k int) (ShardResult, error) {
	var res ShardResult
	data, err := store.Get(ctx, shardResultKey(p.AsOf, p.Attempt, k))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("ingest: decode result of shard %d: %w", k, err)
	}
	return res, nil
}
