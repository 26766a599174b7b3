package ingest

import (
	"context"
	"runtime"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/snapshot"
)

// Options tune Run. The zero value is the default.
type Options struct {
	PlanOptions
	// Concurrency bounds the partition and build tasks run at once (0:
	// GOMAXPROCS). Each build holds one shard in memory.
	Concurrency int
	// OnShard, when set, is called with each shard's customers once built
	// without problems (concurrently for different shards), before the
	// commit: the place to write the shard's online features or drift
	// summary. An error fails the ingest before anything is committed.
	OnShard func(ctx context.Context, k int, m *snapshot.Month) error
	// Progress, when set, is called after each task (serialized).
	Progress func(Progress)
}

// Progress is how far Run is.
type Progress struct {
	Phase      string `json:"phase"` // "partition", "build", "commit" or "done"
	Parts      int    `json:"parts"`
	PartsDone  int    `json:"parts_done"`
	Shards     int    `json:"shards"`
	ShardsDone int    `json:"shards_done"`
	// Rows counts the rows read by the partition tasks done, then the
	// customers of the shards built.
	Rows int `json:"rows"`
}

// Result is everything a Run did.
type Result struct {
	Plan   *Plan         `json:"plan"`
	Parts  []PartResult  `json:"parts"`
	Shards []ShardResult `json:"shards"`
	Commit CommitResult  `json:"commit"`
}

// Run ingests the month in src for asOf into store on this machine: it
// removes stale attempts, plans, partitions the parts concurrently, builds
// the shards concurrently and commits — the phases a state machine runs as
// Map states, each a function of the plan. Data problems come back as one
// *snapshot.ValidationErrors (with the result so far); a month already
// stored with other data as a *ConflictError. Run again after a failure or
// a crash, it redoes the month in a new attempt (or resumes the attempt
// given in Options.Attempt) and the commit cleans what the failed attempt
// left.
func Run(ctx context.Context, src Source, store blob.Store, asOf time.Time, opts Options) (*Result, error) {
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if _, err := RemoveStale(ctx, store, now(), StaleAge); err != nil {
		return nil, err
	}
	p, err := NewPlan(ctx, src, store, asOf, opts.PlanOptions)
	if err != nil {
		return nil, err
	}
	res := &Result{Plan: p, Parts: make([]PartResult, len(p.Parts)), Shards: make([]ShardResult, p.K)}
	workers := opts.Concurrency
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var mu sync.Mutex
	prog := Progress{Phase: "partition", Parts: len(p.Parts), Shards: p.K}
	report := func(update func(*Progress)) {
		mu.Lock()
		defer mu.Unlock()
		update(&prog)
		if opts.Progress != nil {
			opts.Progress(prog)
		}
	}

	err = parallel(ctx, len(p.Parts), workers, func(ctx context.Context, i int) error {
		r, err := Partition(ctx, src, store, p, i)
		if err != nil {
			return err
		}
		res.Parts[i] = r
		report(func(pr *Progress) { pr.PartsDone++; pr.Rows += r.Rows })
		return nil
	})
	if err != nil {
		return res, err
	}

	report(func(pr *Progress) { pr.Phase, pr.Rows = "build", 0 })
	err = parallel(ctx, p.K, workers, func(ctx context.Context, k int) error {
		r, m, err := BuildShard(ctx, store, p, k)
		if err != nil {
			return err
		}
		res.Shards[k] = r
		if m != nil && opts.OnShard != nil {
			if err := opts.OnShard(ctx, k, m); err != nil {
				return err
			}
		}
		report(func(pr *Progress) { pr.ShardsDone++; pr.Rows += r.Rows })
		return nil
	})
	if err != nil {
		return res, err
	}

	report(func(pr *Progress) { pr.Phase = "commit" })
	res.Commit, err = Commit(ctx, store, p, now())
	if err != nil {
		return res, err
	}
	report(func(pr *Progress) { pr.Phase = "done" })
	return res, nil
}

// parallel runs fn(0…n-1) on up to workers goroutines and returns the
// first error, cancelling the others' context.
func parallel(ctx context.Context, n, workers int, fn func(context.Context, int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs error
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(ctx, i); err != nil {
					mu.Lock()
					if errs == nil {
						errs = err
					}
					mu.Unlock()
					cancel()
				}
			}
		}()
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if errs == nil {
		return ctx.Err() // the caller's context, ended before every task ran
	}
	return errs
}
