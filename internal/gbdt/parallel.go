package gbdt

import (
	"runtime"
	"sync"
	"sync/atomic"
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
// caller's goroutine. Waking a goroutine on another core costs microseconds
// on an idle machine and can cost milliseconds on a busy one, so only
// pieces of a good tenth of a millisecond or more are spread. It only
// decides where pieces run, never what they compute (tests lower it to run
// every path in parallel on small data).
var minParallelWork = 1 << 16

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
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	run := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= n {
				return
			}
			f(i)
		}
	}
	for range workers - 1 {
		go func() { defer wg.Done(); run() }()
	}
	run()
	wg.Wait()
}

// blocks is the number of row blocks of n rows.
func blocks(n int) int { return (n + blockRows - 1) / blockRows }

// blockRange is block b of n rows.
func blockRange(b, n int) (lo, hi int) { return b * blockRows, min((b+1)*blockRows, n) }
