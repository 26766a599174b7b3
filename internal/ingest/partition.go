package ingest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
)

// PartResult is what partitioning one input file found. It is staged
// (parts/p=PPPPP.json) for the builds and the commit, which need every
// part's status, so the Map state's own output can be discarded.
type PartResult struct {
	Part  int    `json:"part"`
	Table int    `json:"table"`
	File  string `json:"file"`
	// Readable, Complete and Rows are the file's snapshot.FileStatus.
	Readable bool `json:"readable"`
	Complete bool `json:"complete"`
	Rows     int  `json:"rows"`
	// Bytes counts the bytes read (decompressed).
	Bytes int64 `json:"bytes"`
	// Chunks counts the staging objects written.
	Chunks int `json:"chunks"`
	// Problems with the file itself (empty, bad header, malformed CSV or
	// gzip), at most snapshot.MaxProblems; Omitted counts the rest.
	Problems []snapshot.Problem `json:"problems,omitempty"`
	Omitted  int                `json:"omitted,omitempty"`
}

// Partition reads part (an index in p.Parts) of the month in src, checks
// its header, and stages each row for the shard of its user_id, keeping the
// file's line numbers. Rows whose user_id cannot be read still go to a
// shard, where validation reports them: a row with the wrong field count
// goes by its user_id field when it has one (so the user is not also
// reported missing), else to shard 0; an empty user_id hashes like any
// other.
//
// Memory is bounded whatever the file's size: the file is streamed, and
// each shard's rows are flushed as a staging object once they reach
// p.ChunkBytes, with at most two objects being written at a time.
//
// Partition is idempotent: run again for the same plan (a retried task), it
// returns the result staged by the run that finished, or redoes the part,
// writing the same bytes to the same keys.
func Partition(ctx context.Context, src Source, store blob.Store, p *Plan, part int) (PartResult, error) {
	if part < 0 || part >= len(p.Parts) {
		return PartResult{}, fmt.Errorf("ingest: plan %s/%s has no part %d", p.AsOf, p.Attempt, part)
	}
	pt := p.Parts[part]
	if res, err := loadPartResult(ctx, store, p, part); err == nil {
		return res, nil
	} else if !errors.Is(err, blob.ErrNotFound) {
		return PartResult{}, err
	}
	res, err := partition(ctx, src, store, p, pt)
	if err != nil {
		return PartResult{}, fmt.Errorf("ingest: partition %s: %w", pt.File, err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		return PartResult{}, fmt.Errorf("ingest: partition %s: %w", pt.File, err)
	}
	if err := putIdentical(ctx, store, partResultKey(p.AsOf, p.Attempt, part), data); err != nil {
		if errors.Is(err, blob.ErrExists) { // a concurrent run of the task finished first
			return loadPartResult(ctx, store, p, part)
		}
		return PartResult{}, fmt.Errorf("ingest: partition %s: %w", pt.File, err)
	}
	return res, nil
}

func loadPartResult(ctx context.Context, store blob.Store, p *Plan, part int) (PartResult, error) {
	var res PartResult
	data, err := store.Get(ctx, partResultKey(p.AsOf, p.Attempt, part))
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("ingest: decode result of part %d: %w", part, err)
	}
	return res, nil
}

func partition(ctx context.Context, src Source, store blob.Store, p *Plan, pt Part) (PartResult, error) {
	res := PartResult{Part: pt.Index, Table: pt.Table, File: pt.File}
	up := newUploader(ctx, store)
	s := &partitioner{
		plan: p, part: pt, res: &res, up: up,
		buckets: make([][]byte, p.K), chunks: make([]int, p.K),
	}
	r, err := openPart(ctx, src, pt.File)
	if err != nil {
		var ge *gzipError
		if !errors.As(err, &ge) {
			return res, err
		}
		s.Problem(gzipProblem(pt.File, 0, ge))
		return res, up.wait()
	}
	defer r.Close()
	cr := &countingReader{r: r}
	st, err := snapshot.ReadCSV(cr, pt.Table, pt.File, s)
	res.Bytes = cr.n
	res.Readable, res.Complete, res.Rows = st.Readable, st.Complete, st.Rows
	var ge *gzipError
	switch {
	case errors.As(err, &ge):
		s.Problem(gzipProblem(pt.File, s.lastLine+1, ge))
		res.Complete = false
	case err != nil:
		up.wait()
		return res, err
	}
	for k := range s.buckets {
		s.flush(k)
	}
	if err := up.wait(); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

func gzipProblem(file string, line int, ge *gzipError) *snapshot.ValidationError {
	return &snapshot.ValidationError{File: file, Line: line, Msg: "malformed gzip: " + ge.err.Error() + "; rest of file skipped", Err: ge.err}
}

// partitioner is the snapshot.RowSink of a partition task.
type partitioner struct {
	plan     *Plan
	part     Part
	res      *PartResult
	up       *uploader
	buckets  [][]byte
	chunks   []int
	lastLine int
}

func (s *partitioner) Row(line int, rec []string) {
	s.lastLine = line
	k := shard.Of(rec[0], s.plan.K)
	s.add(k, appendRow(s.bucket(k), line, rec))
}

func (s *partitioner) FieldCount(line, got, want int, id string, hasID bool) {
	s.lastLine = line
	k := 0
	if hasID {
		k = shard.Of(id, s.plan.K)
	}
	s.add(k, appendFieldCount(s.bucket(k), line, got, want, id, hasID))
}

func (s *partitioner) Problem(p *snapshot.ValidationError) {
	if len(s.res.Problems) >= snapshot.MaxProblems {
		s.res.Omitted++
		return
	}
	s.res.Problems = append(s.res.Problems, snapshot.Problem{Table: s.part.Table, Stage: snapshot.StageRead, Part: s.part.Part, Err: p})
}

func (s *partitioner) bucket(k int) []byte {
	if s.buckets[k] == nil {
		s.buckets[k] = append(s.up.buffer(s.plan.ChunkBytes), chunkVersion)
	}
	return s.buckets[k]
}

func (s *partitioner) add(k int, b []byte) {
	s.buckets[k] = b
	if len(b) >= s.plan.ChunkBytes {
		s.flush(k)
	}
}

// flush hands shard k's buffer to the uploader as the next chunk.
func (s *partitioner) flush(k int) {
	b := s.buckets[k]
	if len(b) <= 1 {
		return
	}
	key := chunkKey(s.plan.AsOf, s.plan.Attempt, k, s.part.Table, s.part.Index, s.chunks[k])
	s.chunks[k]++
	s.res.Chunks++
	s.buckets[k] = nil
	s.up.put(key, b)
}

// uploader writes chunks in the background, at most two at a time, so
// that reading the file overlaps the writes (an S3 PUT, an fsync) while
// memory stays bounded: put blocks when both are busy. Buffers come back
// for reuse.
type uploader struct {
	ctx   context.Context
	store blob.Store
	jobs  chan upload
	free  chan []byte
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
}

type upload struct {
	key  string
	data []byte
}

const uploaders = 2

func newUploader(ctx context.Context, store blob.Store) *uploader {
	u := &uploader{ctx: ctx, store: store, jobs: make(chan upload), free: make(chan []byte, uploaders)}
	for range uploaders {
		u.wg.Add(1)
		go func() {
			defer u.wg.Done()
			for j := range u.jobs {
				if u.failed() == nil {
					if err := putIdentical(ctx, store, j.key, j.data); err != nil {
						u.mu.Lock()
						u.err = cmpErr(u.err, fmt.Errorf("stage %s: %w", j.key, err))
						u.mu.Unlock()
					}
				}
				select {
				case u.free <- j.data[:0]:
				default:
				}
			}
		}()
	}
	return u
}

func cmpErr(old, err error) error {
	if old != nil {
		return old
	}
	return err
}

func (u *uploader) failed() error {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.err
}

func (u *uploader) buffer(size int) []byte {
	select {
	case b := <-u.free:
		return b
	default:
		return make([]byte, 0, size+size/8)
	}
}

func (u *uploader) put(key string, data []byte) {
	if u.failed() != nil {
		return
	}
	u.jobs <- upload{key, data}
}

// wait waits for the writes and returns the first error.
func (u *uploader) wait() error {
	close(u.jobs)
	u.wg.Wait()
	return u.failed()
}

// putIdentical stores data under key; a key already holding exactly these
// bytes (a retried task writing what an earlier run wrote) is success.
func putIdentical(ctx context.Context, store blob.Store, key string, data []byte) error {
	err := store.Put(ctx, key, data)
	if !errors.Is(err, blob.ErrExists) {
		return err
	}
	old, gerr := store.Get(ctx, key)
	if gerr != nil {
		return fmt.Errorf("%w (and reading it back: %v)", err, gerr)
	}
	if !bytes.Equal(old, data) {
		return err
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
