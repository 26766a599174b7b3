package asl

import (
	"slices"
	"time"
)

// failExpr compiles ErrorPath/CausePath: a reference path or an
// intrinsic that returns a string.
func (p *parser) failExpr(f objFields, k string) *tmpl {
	s, ok := f.str(k)
	if !ok {
		return nil
	}
	t, err := compileDynamic(s)
	if err != nil {
		f.errf(k, "%v", err)
		return nil
	}
	if t.kind == tCall && !slices.Contains([]string{"States.Format", "States.JsonToString", "States.UUID"}, t.call.name) {
		f.errf(k, "%s does not return a string", t.call.name)
	}
	return t
}

func (p *parser) parseFail(f objFields, st *state) {
	if f.has("Error") && f.has("ErrorPath") {
		f.errf("ErrorPath", "give Error or ErrorPath, not both")
	}
	if f.has("Cause") && f.has("CausePath") {
		f.errf("CausePath", "give Cause or CausePath, not both")
	}
	st.errorName, _ = f.str("Error")
	st.cause, _ = f.str("Cause")
	st.errorExpr = p.failExpr(f, "ErrorPath")
	st.causeExp = p.failExpr(f, "CausePath")
}

func (x *run) fail(fr *frame, st *state, raw any, entered time.Time) stepResult {
	env := x.env(raw, x.contextObject(fr, st, entered, 0, ""))
	name, cause := st.errorName, st.cause
	for _, f := range []struct {
		expr  *tmpl
		field string
		dst   *string
	}{{st.errorExpr, "ErrorPath", &name}, {st.causeExp, "CausePath", &cause}} {
		if f.expr == nil {
			continue
		}
		v, err := f.expr.eval(env, f.field)
		if err != nil {
			return stepResult{err: err}
		}
		s, ok := v.(string)
		if !ok {
			return stepResult{err: runtimeError("%s '%s' must select a string, got %s", f.field, f.expr.src, rawJSON(v))}
		}
		*f.dst = s
	}
	return stepResult{err: &stateError{Name: name, Cause: cause}}
}
