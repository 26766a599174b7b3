package asl

import (
	"encoding/json"
	"fmt"
	"time"
)

func (p *parser) parseChoice(f objFields, st *state) {
	if d, ok := f.str("Default"); ok {
		if d == "" {
			f.errf("Default", "must be a state name")
		}
		st.defaultNext = d
	}
	raw, ok := f.m["Choices"].([]any)
	if !ok || len(raw) == 0 {
		f.errf("Choices", "a Choice state needs a non-empty Choices array")
		return
	}
	for i, v := range raw {
		r, err := parseChoiceRule(v, fmt.Sprintf("Choices[%d]", i), true)
		if err != nil {
			p.fieldErr(st.name, err)
			continue
		}
		st.choices = append(st.choices, r)
	}
}

func (x *run) choice(fr *frame, st *state, raw any, entered time.Time) stepResult {
	eff, err := st.inputPath.apply(raw, "InputPath")
	if err != nil {
		return stepResult{err: err}
	}
	env := x.env(eff, x.contextObject(fr, st, entered, 0, ""))
	next := ""
	for _, rule := range st.choices {
		ok, err := rule.eval(env)
		if err != nil {
			return stepResult{err: err}
		}
		if ok {
			next = rule.next
			break
		}
	}
	if next == "" {
		if st.defaultNext == "" {
			return stepResult{err: &stateError{Name: ErrorNoChoiceMatched, Cause: fmt.Sprintf(
				"no Choice rule of %q matched the input '%s' and there is no Default", st.name, rawJSON(eff))}}
		}
		next = st.defaultNext
	}
	out, err := st.outputPath.apply(eff, "OutputPath")
	return stepResult{next: next, output: out, err: err}
}

// Choose evaluates the Choice state name on input exactly as an execution
// would and returns the state it leads to. It lets a caller outside an
// execution apply one of the definition's gates — `churnops drift` reports
// the DriftGate's verdict — so that the rule still lives only in the
// definition.
func (m *Machine) Choose(name string, input json.RawMessage) (string, error) {
	st, ok := m.states[name]
	if !ok || st.typ != typeChoice {
		return "", fmt.Errorf("asl: %q is not a Choice state of the machine", name)
	}
	in, err := parseJSON(input)
	if err != nil {
		return "", fmt.Errorf("asl: Choose %s: input is not valid JSON: %w", name, err)
	}
	x := (&Runner{Machine: m}).newRun()
	res := x.choice(x.topFrame(0), st, in, x.clock.Now())
	if res.err != nil {
		return "", res.err
	}
	return res.next, nil
}
