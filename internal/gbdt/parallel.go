package gbdt

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Parallel work, deterministically.
//
// Training splits its work into fixed pieces: one per feature (histograms,
// binning) or one per block of blockRows consecutive rows (gradients,
// partitioning, the hold-out's scores). What a piece computes depends only
// on its index, never on which goroutine runs it or when, and pieces that
// add up (the hold-out's loss) are summed in index order afterwards. So a
// model is the same bytes whatever GOMAXPROCS is; more cores only finish
// the pieces sooner.

// blockRows is the size of a row block. Fixed, so that the blocks, and any
// sum taken block by block, do not depend on the number of cores.
const blockRows = 8192

// minParallelWork is the least work (row visits, weighted by their cost)
// worth handing to other goroutines; below it a piece list runs on the
// caller's goroutine. It only decides where pieces run, never what they
// compute (tests lower it to run every path in parallel on small data).
var minParallelWork = 1 << 16

// job is one forEach call's pieces, shared with the helpers.
type job struct {
	n    int
	f    func(i int)
	next atomic.Int64 // the next piece to claim
	done atomic.Int64 // pieces finished
}

// run claims and runs pieces until none is left.
func (j *job) run() {
	for {
		i := int(j.next.Add(1) - 1)
		if i >= j.n {
			return
		}
		j.f(i)
		j.done.Add(1)
	}
}

// The helpers: goroutines that run the pieces of the current job beside
// the caller. A tree of 31 leaves is a hundred or so forEach calls, each a
// fraction of a millisecond to a few; starting a goroutine for each makes
// the runtime wake a parked thread every time, which on a virtual machine
// costs tens of microseconds before the second core starts. Helpers that
// have just finished a job spin for a while (spinFor) watching for the
// next one, and only then park, so back-to-back calls start on both cores
// at once. Spinning burns CPU, not wall time; once training stops they
// park.
var helpers struct {
	mu      sync.Mutex
	started int                 // helpers running
	cur     atomic.Pointer[job] // the job to join, nil between jobs
	wake    chan struct{}       // one token per parked helper to wake
	parked  atomic.Int32
}

// spinFor is how long an idle helper watches for the next job before it
// parks.
const spinFor = 200 * time.Microsecond

// ensureHelpers starts helpers until there are n.
func ensureHelpers(n int) {
	helpers.mu.Lock()
	defer helpers.mu.Unlock()
	if helpers.wake == nil {
		helpers.wake = make(chan struct{}, 1024)
	}
	for ; helpers.started < n; helpers.started++ {
		go helper()
	}
}

func helper() {
	for {
		if j := helpers.cur.Load(); j != nil {
			j.run()
		}
		// Watch for the next job, then park.
		deadline := time.Now().Add(spinFor)
		for spins := 0; helpers.cur.Load() == nil; spins++ {
			if spins%64 == 63 {
				if time.Now().After(deadline) {
					helpers.parked.Add(1)
					if helpers.cur.Load() == nil {
						<-helpers.wake
					}
					helpers.parked.Add(-1)
					break
				}
				runtime.Gosched()
			}
		}
	}
}

// forEach calls f(i) for every i in [0, n), spread over up to GOMAXPROCS
// goroutines when work (the total row visits) is large enough. f must only
// write to what piece i owns.
func forEach(n, work int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 || work < minParallelWork {
		for i := range n {
			f(i)
		}
		return
	}
	ensureHelpers(workers - 1)
	j := &job{n: n, f: f}
	helpers.cur.Store(j)
	for range helpers.parked.Load() {
		select {
		case helpers.wake <- struct{}{}:
		default:
		}
	}
	j.run()
	for spins := 0; int(j.done.Load()) < n; spins++ {
		if spins%64 == 63 {
			runtime.Gosched()
		}
	}
	helpers.cur.CompareAndSwap(j, nil)
}

// blocks is the number of row blocks of n rows.
func blocks(n int) int { return (n + blockRows - 1) / blockRows }

// blockRange is block b of n rows.
func blockRange(b, n int) (lo, hi int) { return b * blockRows, min((b+1)*blockRows, n) }
