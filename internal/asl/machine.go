package asl

import (
	"errors"
	"slices"
)

// Machine is a parsed, validated state machine definition. It is
// immutable and safe to share between Runners and goroutines.
type Machine struct {
	graph
	comment        string
	timeoutSeconds int
	digest         string   // of the substituted definition, binds checkpoints
	all            []*state // every state, those of Map processors too
}

// graph is one state machine's states: the definition's own, or those of a
// Map state's ItemProcessor.
type graph struct {
	startAt string
	states  map[string]*state
	order   []string // definition order, for listings and messages
}

// StartAt returns the name of the first state.
func (m *Machine) StartAt() string { return m.startAt }

// Comment returns the definition's top-level Comment.
func (m *Machine) Comment() string { return m.comment }

// States returns the names of the definition's own states (not those
// inside Map processors) in definition order, so a CLI can list them or
// show progress against them.
func (m *Machine) States() []string { return slices.Clone(m.order) }

// StateType returns the Type of the named state, which may be inside a
// Map's processor ("" if there is none).
func (m *Machine) StateType(name string) string {
	for _, st := range m.all {
		if st.name == name {
			return st.typ
		}
	}
	return ""
}

// CheckHandlers reports every Task whose resource has no entry in h,
// joined into one error of *MissingHandlerError values. Resources only
// known at run time (Parameters "FunctionName.$") cannot be checked.
// Runner.Run calls it before starting, so wiring mistakes surface first.
func (m *Machine) CheckHandlers(h Handlers) error {
	var errs []error
	for _, st := range m.all {
		if st.typ != typeTask {
			continue
		}
		keys := st.res.keys()
		if st.res.kind == kindLambdaInvoke {
			if st.staticFunction == "" {
				continue
			}
			keys = functionKeys(st.staticFunction)
		}
		if _, ok := h.lookup(keys); !ok {
			errs = append(errs, &MissingHandlerError{State: st.name, Resource: st.res.arn, Keys: keys})
		}
	}
	return errors.Join(errs...)
}
