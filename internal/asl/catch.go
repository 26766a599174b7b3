package asl

import (
	"slices"
)

// catcher is one Catch entry.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *dataPath
}

func (p *parser) parseCatch(f objFields) []catcher {
	var out []catcher
	items := p.list(f, "Catch")
	for i, cf := range items {
		cf.unknown([]string{"ErrorEquals", "Next", "ResultPath", "Comment"}, "a catcher")
		cf.str("Comment")
		c := catcher{errorEquals: p.errorEquals(cf), resultPath: cf.path("ResultPath")}
		if slices.Contains(c.errorEquals, ErrorAll) && i != len(items)-1 {
			cf.errf("ErrorEquals", "the States.ALL catcher must be the last one")
		}
		next, ok := cf.str("Next")
		if !ok || next == "" {
			cf.errf("Next", "a catcher needs Next")
		}
		c.next = next
		out = append(out, c)
	}
	return out
}

// catch applies the first of st's catchers that matches serr: the error
// output {"Error", "Cause"} goes through the catcher's ResultPath to its
// Next state. caught is false when none matches.
func (x *run) catch(fr *frame, st *state, raw any, serr *stateError) (res stepResult, caught bool) {
	for _, c := range st.catch {
		if !matchErrors(c.errorEquals, serr.Name) {
			continue
		}
		out, err := c.resultPath.merge(raw, map[string]any{"Error": serr.Name, "Cause": serr.Cause})
		if err != nil {
			return stepResult{err: &stateError{Name: ErrorRuntime, Cause: "Catch " + err.Cause}}, true
		}
		x.emitIn(fr, Event{Type: EventStateCaught, State: st.name, StateType: st.typ, Error: serr.Name, Cause: serr.Cause,
			Next: c.next, Output: rawJSON(out)})
		return stepResult{next: c.next, output: out}, true
	}
	return stepResult{}, false
}
