package asl

// resultOutput turns the raw result of a Task or Map state into the
// state's output: ResultSelector, then ResultPath (into the raw input),
// then OutputPath.
func (x *run) resultOutput(fr *frame, st *state, raw, result any, rs *retryState) (any, *stateError) {
	if st.resultSelector != nil {
		var err *stateError
		if result, err = st.resultSelector.eval(x.env(result, x.contextObject(fr, st, rs.entered, rs.retryCount, "")), "ResultSelector"); err != nil {
			return nil, err
		}
	}
	out, err := st.resultPath.merge(raw, result)
	if err != nil {
		return nil, err
	}
	return st.outputPath.apply(out, "OutputPath")
}
