// Package crashpoint lets tests kill a churnops process right after any
// durable step — a committed database transaction, a blob linked into
// place, a switched online-feature version — the way a power cut or an OOM
// kill would, so a crash-point harness can check that every state left on
// disk is either the old one or the new one.
//
// Stores call Hit after each step that reaches the disk. Nothing happens
// unless the process was started with one of these variables (tests only):
//
//	CHURNOPS_CRASH_TRACE=FILE  append "N what" to FILE for every step
//	CHURNOPS_CRASH_AT=N        after the N-th step (1-based), SIGKILL self
//
// A harness first runs a command with CHURNOPS_CRASH_TRACE to count its
// steps, then runs it again once per step with CHURNOPS_CRASH_AT=1…N, and
// after each kill checks the invariants and re-runs the command.
package crashpoint

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
)

// Environment variables read once, at the first Hit.
const (
	EnvAt    = "CHURNOPS_CRASH_AT"
	EnvTrace = "CHURNOPS_CRASH_TRACE"
)

var (
	config = sync.OnceValues(func() (int64, string) {
		at, _ := strconv.ParseInt(os.Getenv(EnvAt), 10, 64)
		return at, os.Getenv(EnvTrace)
	})
	count   atomic.Int64
	traceMu sync.Mutex
)

// Hit records that a durable step named what has just completed. When the
// process runs under a harness, it is traced and may be the step at which
// the process dies (SIGKILL: no deferred function, no flush, no cleanup).
func Hit(what string) {
	at, trace := config()
	if at <= 0 && trace == "" {
		return
	}
	n := count.Add(1)
	if trace != "" {
		traceMu.Lock()
		if f, err := os.OpenFile(trace, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
			fmt.Fprintf(f, "%d %s\n", n, what)
			f.Close()
		}
		traceMu.Unlock()
	}
	if n == at {
		if p, err := os.FindProcess(os.Getpid()); err == nil {
			_ = p.Kill() // SIGKILL on Unix, TerminateProcess on Windows
		}
		select {} // the signal is on its way: never return into the next step
	}
}
