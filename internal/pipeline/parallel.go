package pipeline

import (
	"context"
	"sync"
)

// forEach runs fn(0…n-1) on up to workers goroutines, calls done after
// each success (serialized), and returns the first error, cancelling the
// others' context: the in-process stand-in for a Map state (the local
// executor runs the state machine's Map states itself).
func forEach(ctx context.Context, n, workers int, fn func(context.Context, int) error, done func()) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	next := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for i := range next {
				err := fn(ctx, i)
				mu.Lock()
				if err != nil && first == nil {
					first = err
					cancel()
				}
				if err == nil && done != nil {
					done()
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	return ctx.Err()
}
