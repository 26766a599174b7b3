package gbdt

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestForEachRunsEveryPieceOnce: forEach runs each piece exactly once and
// returns only when all are done, whatever GOMAXPROCS is, also when
// several goroutines call it at once (the helpers join one job at a time;
// a caller runs whatever of its own job no helper took), and back to back
// (the helpers spinning between jobs, or parked after spinFor).
func TestForEachRunsEveryPieceOnce(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 4} {
		runtime.GOMAXPROCS(procs)
		for _, callers := range []int{1, 3} {
			var wg sync.WaitGroup
			for c := range callers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for round := range 200 {
						n := 1 + (round*7+c)%97
						counts := make([]atomic.Int32, n)
						forEach(n, minParallelWork, func(i int) { counts[i].Add(1) })
						for i := range counts {
							if got := counts[i].Load(); got != 1 {
								t.Errorf("GOMAXPROCS=%d, %d callers, round %d: piece %d of %d ran %d times when forEach returned", procs, callers, round, i, n, got)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
		}
	}
}
