package asl

import (
	"time"
)

// parsePass keeps a Pass state's Result, any JSON value.
func (p *parser) parsePass(f objFields, st *state) {
	st.result, st.hasResult = f.m["Result"]
}

func (x *run) pass(fr *frame, st *state, raw any, entered time.Time) stepResult {
	eff, err := st.inputPath.apply(raw, "InputPath")
	if err != nil {
		return stepResult{err: err}
	}
	if st.parameters != nil {
		if eff, err = st.parameters.eval(x.env(eff, x.contextObject(fr, st, entered, 0, "")), "Parameters"); err != nil {
			return stepResult{err: err}
		}
	}
	result := eff
	if st.hasResult {
		result = st.result
	}
	out, err := st.resultPath.merge(raw, result)
	if err != nil {
		return stepResult{err: err}
	}
	out, err = st.outputPath.apply(out, "OutputPath")
	return stepResult{next: st.next, output: out, err: err}
}
