package asl

import (
	"fmt"
	"time"
)

const (
	typeTask    = "Task"
	typeChoice  = "Choice"
	typePass    = "Pass"
	typeWait    = "Wait"
	typeSucceed = "Succeed"
	typeFail    = "Fail"
	typeMap     = "Map"
)

// state is one compiled state; which fields are set depends on typ.
type state struct {
	name string
	typ  string
	next string // "" with end

	inputPath, outputPath, resultPath *dataPath
	parameters, resultSelector        *tmpl
	result                            any
	hasResult                         bool

	// Task
	res              resource
	staticFunction   string // lambda:invoke FunctionName, when not computed
	retry            []retrier
	catch            []catcher
	timeoutSeconds   int
	heartbeatSeconds int

	// Choice
	choices     []*choiceRule
	defaultNext string

	// Wait
	seconds       int64
	secondsPath   *refPath
	timestamp     time.Time
	timestampPath *refPath

	// Fail
	errorName, cause    string
	errorExpr, causeExp *tmpl // ErrorPath / CausePath: a path or intrinsic

	// Map (also uses resultSelector, retry and catch)
	mp *mapSpec
}

// successors lists a state's outgoing transitions with the field that
// names each, for dangling-reference messages.
func (st *state) successors() [][2]string {
	var out [][2]string
	if st.next != "" {
		out = append(out, [2]string{"Next", st.next})
	}
	for i, c := range st.choices {
		out = append(out, [2]string{fmt.Sprintf("Choices[%d].Next", i), c.next})
	}
	if st.defaultNext != "" {
		out = append(out, [2]string{"Default", st.defaultNext})
	}
	for i, c := range st.catch {
		out = append(out, [2]string{fmt.Sprintf("Catch[%d].Next", i), c.next})
	}
	return out
}
