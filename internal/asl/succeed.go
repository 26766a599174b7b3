package asl

// succeed ends the frame it runs in successfully with its input, through
// InputPath and OutputPath.
func (x *run) succeed(st *state, raw any) stepResult {
	eff, err := st.inputPath.apply(raw, "InputPath")
	if err != nil {
		return stepResult{err: err}
	}
	out, err := st.outputPath.apply(eff, "OutputPath")
	return stepResult{output: out, err: err}
}
