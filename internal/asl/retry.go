package asl

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// retrier is one Retry entry.
type retrier struct {
	errorEquals []string
	interval    float64 // seconds
	maxAttempts int
	backoffRate float64
	maxDelay    float64 // seconds, 0 = none
	jitterFull  bool
}

func (p *parser) parseRetry(f objFields) []retrier {
	var out []retrier
	items := p.list(f, "Retry")
	for i, rf := range items {
		rf.unknown([]string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}, "a retrier")
		rf.str("Comment")
		r := retrier{errorEquals: p.errorEquals(rf), interval: 1, maxAttempts: 3, backoffRate: 2}
		if slices.Contains(r.errorEquals, ErrorAll) && i != len(items)-1 {
			rf.errf("ErrorEquals", "the States.ALL retrier must be the last one")
		}
		if n, ok := rf.integer("IntervalSeconds", 1, 99999999); ok {
			r.interval = float64(n)
		}
		if n, ok := rf.integer("MaxAttempts", 0, 99999999); ok {
			r.maxAttempts = int(n)
		}
		if n, ok := rf.integer("MaxDelaySeconds", 1, 31622401); ok {
			r.maxDelay = float64(n)
		}
		if v, ok := rf.m["BackoffRate"]; ok {
			b, isNum := numberValue(v)
			if !isNum || b < 1 {
				rf.errf("BackoffRate", "must be a number >= 1.0, got %s", rawJSON(v))
			}
			r.backoffRate = b
		}
		if js, ok := rf.str("JitterStrategy"); ok {
			switch js {
			case "FULL":
				r.jitterFull = true
			case "NONE":
			default:
				rf.errf("JitterStrategy", "must be FULL or NONE, got %q", js)
			}
		}
		out = append(out, r)
	}
	return out
}

// errorEquals validates an ErrorEquals list.
func (p *parser) errorEquals(f objFields) []string {
	raw, ok := f.m["ErrorEquals"].([]any)
	if !ok || len(raw) == 0 {
		f.errf("ErrorEquals", "must be a non-empty array of error names")
		return nil
	}
	var out []string
	for i, v := range raw {
		s, ok := v.(string)
		if !ok || s == "" {
			f.errf(fmt.Sprintf("ErrorEquals[%d]", i), "must be a non-empty string")
			continue
		}
		if strings.HasPrefix(s, "States.") && !knownStatesErrors[s] {
			f.errf(fmt.Sprintf("ErrorEquals[%d]", i), "unknown predefined error %q", s)
		}
		out = append(out, s)
	}
	if slices.Contains(out, ErrorAll) && len(out) > 1 {
		f.errf("ErrorEquals", "States.ALL must appear alone")
	}
	return out
}

func matchErrors(list []string, name string) bool {
	for _, p := range list {
		if errorMatches(p, name) {
			return true
		}
	}
	return false
}

func findRetrier(rs []retrier, name string) int {
	for i, r := range rs {
		if matchErrors(r.errorEquals, name) {
			return i
		}
	}
	return -1
}

// backoff is IntervalSeconds × BackoffRate^done, capped by
// MaxDelaySeconds, drawn uniformly from [0, that] with FULL jitter.
func (x *run) backoff(r retrier, done int) time.Duration {
	secs := r.interval * math.Pow(r.backoffRate, float64(done))
	if r.maxDelay > 0 && secs > r.maxDelay {
		secs = r.maxDelay
	}
	if r.jitterFull {
		var b [8]byte
		if err := x.random(b[:]); err == nil {
			secs *= float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
		}
	}
	return time.Duration(secs * float64(time.Second))
}

// retryState is the retry bookkeeping of a Task or Map state across its
// attempts and, for a Task, across a pause.
type retryState struct {
	entered    time.Time
	retries    []int // attempts used, per retrier
	retryCount int   // $$.State.RetryCount
	pending    *taskOutcome
}

// attemptResult is what one attempt of a Task or Map produced: a raw
// result, the error it raised, or a reason to stop the execution.
type attemptResult struct {
	result   any
	err      *stateError
	pause    *Checkpoint
	abort    error
	timedOut bool
}

// withPolicy runs attempts of st until one succeeds (its result then goes
// through ResultSelector, ResultPath and OutputPath) or fails with an
// error no retrier retries any more, which a catcher may catch. rs.pending,
// when set, stands for the first attempt (a Resume's answer).
func (x *run) withPolicy(ctx context.Context, fr *frame, st *state, raw any, rs *retryState, attempt func() attemptResult) stepResult {
	for {
		var res attemptResult
		if rs.pending != nil {
			res = attemptResult{result: rs.pending.result, err: rs.pending.err}
			rs.pending = nil
		} else {
			res = attempt()
			if res.abort != nil || res.pause != nil || res.timedOut {
				return stepResult{abort: res.abort, pause: res.pause, timedOut: res.timedOut}
			}
		}
		serr := res.err
		if serr == nil {
			out, err := x.resultOutput(fr, st, raw, res.result, rs)
			if err == nil {
				return stepResult{next: st.next, output: out}
			}
			serr = err
		}
		if i := findRetrier(st.retry, serr.Name); i >= 0 && rs.retries[i] < st.retry[i].maxAttempts {
			if fr.transitions >= x.max {
				return stepResult{err: x.tooManyTransitions(st)}
			}
			fr.transitions++
			delay := x.backoff(st.retry[i], rs.retries[i])
			rs.retries[i]++
			rs.retryCount++
			x.emitIn(fr, Event{Type: EventStateRetried, State: st.name, StateType: st.typ, Error: serr.Name, Cause: serr.Cause,
				Attempt: rs.retries[i], Delay: delay})
			if err := x.clock.Sleep(ctx, delay); err != nil {
				return stepResult{abort: err}
			}
			continue
		}
		if res, caught := x.catch(fr, st, raw, serr); caught {
			return res
		}
		return stepResult{err: serr}
	}
}
