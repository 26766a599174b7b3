package main

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// ingestWorkers is how many partition and build tasks an in-process ingest
// runs at once: the machine's cores, as the local executor runs a Map.
func ingestWorkers() int { return runtime.GOMAXPROCS(0) }

// progressEvery is the least time between two progress lines of one phase
// (its first and last lines are always printed).
const progressEvery = 5 * time.Second

// throttle prints "n/total" progress lines of named phases without
// flooding: the first and the last of each phase, and in between at most
// one every progressEvery, and only when a tenth more is done.
type throttle struct {
	mu    sync.Mutex
	print func(what string, done, total int)
	last  map[string]progressMark
	now   func() time.Time
}

type progressMark struct {
	at   time.Time
	done int
}

func newThrottle(print func(what string, done, total int)) *throttle {
	return &throttle{print: print, last: map[string]progressMark{}, now: time.Now}
}

// update reports that done of total items of what are finished.
func (t *throttle) update(what string, done, total int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	m, seen := t.last[what]
	switch {
	case !seen, done >= total:
	case now.Sub(m.at) >= progressEvery && (done-m.done)*10 >= total:
	default:
		return
	}
	if seen && done == m.done {
		return // the last line said it already
	}
	t.last[what] = progressMark{at: now, done: done}
	t.print(what, done, total)
}

// phaseProgress prints an in-process step's phases ("ingest  build 7/20")
// on a terminal (a.progress), throttled.
func (a *app) phaseProgress(step string) func(phase string, done, total int) {
	th := newThrottle(func(phase string, done, total int) {
		a.progress(step, fmt.Sprintf("%s %d/%d", phase, done, total))
	})
	return th.update
}
