package asl

import (
	"context"
	"math"
	"time"
)

func (p *parser) parseWait(f objFields, st *state) {
	var given []string
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if f.has(k) {
			given = append(given, k)
		}
	}
	if len(given) != 1 {
		f.errf("Seconds", "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (got %d)", len(given))
		return
	}
	switch given[0] {
	case "Seconds":
		st.seconds, _ = f.integer("Seconds", 0, 99999999)
	case "Timestamp":
		s, _ := f.str("Timestamp")
		t, ok := parseTimestamp(s)
		if !ok {
			f.errf("Timestamp", "%q is not an RFC 3339 timestamp", s)
		}
		st.timestamp = t
	default:
		s, ok := f.str(given[0])
		if !ok {
			return
		}
		rp, err := parseRefPath(s)
		if err != nil {
			f.errf(given[0], "%v", err)
			return
		}
		if given[0] == "SecondsPath" {
			st.secondsPath = rp
		} else {
			st.timestampPath = rp
		}
	}
}

func (x *run) wait(ctx context.Context, fr *frame, st *state, raw any, entered time.Time) stepResult {
	eff, serr := st.inputPath.apply(raw, "InputPath")
	if serr != nil {
		return stepResult{err: serr}
	}
	ctxObj := x.contextObject(fr, st, entered, 0, "")
	var d time.Duration
	switch {
	case st.secondsPath != nil:
		v, ok := st.secondsPath.get(eff, ctxObj)
		n, isNum := numberValue(v)
		if !ok || !isNum || n < 0 || n != math.Trunc(n) {
			return stepResult{err: runtimeError("SecondsPath '%s' must select a non-negative integer, got %s", st.secondsPath.text, describe(v, ok))}
		}
		d = time.Duration(n * float64(time.Second))
	case st.timestampPath != nil:
		v, ok := st.timestampPath.get(eff, ctxObj)
		t, isTS := parseTimestamp(v)
		if !ok || !isTS {
			return stepResult{err: runtimeError("TimestampPath '%s' must select an RFC 3339 timestamp, got %s", st.timestampPath.text, describe(v, ok))}
		}
		d = t.Sub(x.clock.Now())
	case !st.timestamp.IsZero():
		d = st.timestamp.Sub(x.clock.Now())
	default:
		d = time.Duration(st.seconds) * time.Second
	}
	if d > 0 {
		x.emitIn(fr, Event{Type: EventWaitStarted, State: st.name, StateType: st.typ, Delay: d})
		if err := x.clock.Sleep(ctx, d); err != nil {
			return stepResult{abort: err}
		}
	}
	out, serr := st.outputPath.apply(eff, "OutputPath")
	return stepResult{next: st.next, output: out, err: serr}
}

func describe(v any, ok bool) string {
	if !ok {
		return "nothing (no such node)"
	}
	return string(rawJSON(v))
}
