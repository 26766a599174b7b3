package asl

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// Error names the States language predefines. They are what Retry and
// Catch match and what a failed Execution reports, so callers compare
// against these constants instead of retyping the strings.
const (
	// ErrorAll matches every error except ErrorRuntime and
	// ErrorDataLimitExceeded; it must stand alone and last.
	ErrorAll = "States.ALL"
	// ErrorTaskFailed matches every error except ErrorTimeout (and the
	// terminal ones ErrorAll cannot match either).
	ErrorTaskFailed = "States.TaskFailed"
	// ErrorTimeout is raised when a Task runs longer than its
	// TimeoutSeconds (or the machine longer than its own).
	ErrorTimeout = "States.Timeout"
	// ErrorRuntime is raised for path and data errors (a missing InputPath
	// node, a Parameters path not found, a Choice variable that does not
	// exist). It is terminal: no Retry or Catch applies, as on AWS.
	ErrorRuntime = "States.Runtime"
	// ErrorNoChoiceMatched is raised by a Choice with no match and no Default.
	ErrorNoChoiceMatched = "States.NoChoiceMatched"
	// ErrorResultPathMatchFailure is raised when a Task's ResultPath cannot
	// be applied to its input (e.g. the input is not an object).
	ErrorResultPathMatchFailure = "States.ResultPathMatchFailure"
	// ErrorIntrinsicFailure is raised when an intrinsic function fails at
	// run time (bad argument types, invalid JSON for StringToJson, ...).
	ErrorIntrinsicFailure = "States.IntrinsicFailure"
	// ErrorDataLimitExceeded is terminal like ErrorRuntime; this executor
	// never raises it (payload size limits are not emulated).
	ErrorDataLimitExceeded = "States.DataLimitExceeded"
	// ErrorMaxTransitions is this executor's own error, raised when an
	// execution exceeds Runner.MaxTransitions (an infinite loop, most
	// likely). Nothing can catch it.
	ErrorMaxTransitions = "Executor.MaxTransitionsExceeded"
	// ErrorExceedToleratedFailureThreshold is raised by a DISTRIBUTED Map
	// when more items failed than ToleratedFailureCount or
	// ToleratedFailurePercentage allow (by default: any).
	ErrorExceedToleratedFailureThreshold = "States.ExceedToleratedFailureThreshold"
	// ErrorItemReaderFailed is raised when a Map's ItemReader cannot read
	// its items (a missing object, a listing error, malformed JSON or CSV).
	ErrorItemReaderFailed = "States.ItemReaderFailed"
	// ErrorResultWriterFailed is raised when a Map's ResultWriter cannot
	// write its results.
	ErrorResultWriterFailed = "States.ResultWriterFailed"
	// ErrorLambdaResourceNotFound is raised, as by the Lambda service, when
	// a FunctionName computed at run time has no handler.
	ErrorLambdaResourceNotFound = "Lambda.ResourceNotFoundException"
)

// knownStatesErrors are the "States." names a definition may match on;
// any other "States." name in ErrorEquals is a typo and rejected.
var knownStatesErrors = map[string]bool{
	ErrorAll: true, ErrorTaskFailed: true, ErrorTimeout: true, ErrorRuntime: true,
	ErrorNoChoiceMatched: true, ErrorResultPathMatchFailure: true, ErrorIntrinsicFailure: true,
	ErrorDataLimitExceeded: true, "States.HeartbeatTimeout": true, "States.Permissions": true,
	"States.ParameterPathFailure": true, "States.BranchFailed": true,
	ErrorExceedToleratedFailureThreshold: true, ErrorItemReaderFailed: true,
	ErrorResultWriterFailed: true, "States.QueryEvaluationError": true, "States.Http.Socket": true,
}

// errorMatches reports whether a retrier's or catcher's ErrorEquals
// entry matches an error name, with the AWS wildcard rules.
func errorMatches(pattern, name string) bool {
	switch name {
	case ErrorRuntime, ErrorMaxTransitions:
		return false // "always cause the execution to fail"
	case ErrorDataLimitExceeded:
		return pattern == name // terminal for the wildcards only
	}
	switch pattern {
	case ErrorAll:
		return true
	case ErrorTaskFailed:
		return name != ErrorTimeout
	default:
		return pattern == name
	}
}

// stateError is an error a state raised: a name Retry/Catch match on and a
// human-readable cause, as in the {"Error","Cause"} error output.
type stateError struct {
	Name  string
	Cause string
}

func (e *stateError) Error() string { return e.Name + ": " + e.Cause }

func runtimeError(format string, args ...any) *stateError {
	return &stateError{Name: ErrorRuntime, Cause: fmt.Sprintf(format, args...)}
}

func intrinsicError(format string, args ...any) *stateError {
	return &stateError{Name: ErrorIntrinsicFailure, Cause: fmt.Sprintf(format, args...)}
}

// ErrorName returns the error name Step Functions would see for an error
// returned by a Go Lambda handler, so local runs match the same Retry and
// Catch rules as AWS:
//
//   - an ErrorName() string method, if the error value has one (a local
//     convenience: aws-lambda-go ignores it, so a function relying on it
//     must return a value whose type name is the same string, or a
//     messages.InvokeResponse_Error, at the Lambda boundary);
//   - for an aws-lambda-go messages.InvokeResponse_Error value, its Type;
//   - otherwise the Go type name of the error value itself, without
//     package or pointer, exactly like aws-lambda-go: a
//     *pipeline.NoProductionModelError is "NoProductionModelError", but
//     the same error wrapped by fmt.Errorf("...: %w", err) is "wrapError",
//     and errors.New gives "errorString". Nothing is unwrapped.
func ErrorName(err error) string {
	name, _ := lambdaError(err)
	return name
}

const lambdaMessagesPkg = "github.com/aws/aws-lambda-go/lambda/messages"

// lambdaError returns the errorType and errorMessage aws-lambda-go would
// report for err.
func lambdaError(err error) (name, message string) {
	if err == nil {
		return "", ""
	}
	if n, ok := err.(interface{ ErrorName() string }); ok {
		return n.ErrorName(), err.Error()
	}
	t := reflect.TypeOf(err)
	if t.Kind() == reflect.Struct && t.Name() == "InvokeResponse_Error" && t.PkgPath() == lambdaMessagesPkg {
		v := reflect.ValueOf(err)
		typ, msg := v.FieldByName("Type"), v.FieldByName("Message")
		if typ.Kind() == reflect.String && msg.Kind() == reflect.String {
			return typ.String(), msg.String()
		}
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name(), err.Error()
}

// lambdaCause renders the Cause Step Functions reports for a failed Lambda
// invocation: the function's error response as JSON text.
func lambdaCause(name, message string) string {
	b, err := json.Marshal(struct {
		ErrorMessage string `json:"errorMessage"`
		ErrorType    string `json:"errorType"`
	}{message, name})
	if err != nil {
		return message
	}
	return string(b)
}

// DefinitionError is one reason Parse rejected a definition. Parse joins
// them (errors.Join), so errors.As finds the first and the message lists
// all, each naming the state and field at fault.
type DefinitionError struct {
	// State is the state at fault, "" for top-level fields.
	State string
	// Field is the field at fault, e.g. "Retry[0].BackoffRate".
	Field string
	// Msg says what is wrong.
	Msg string
}

// Error renders `asl: state "X": field F: msg`.
func (e *DefinitionError) Error() string {
	var b strings.Builder
	b.WriteString("asl: ")
	if e.State != "" {
		fmt.Fprintf(&b, "state %q: ", e.State)
	}
	if e.Field != "" {
		fmt.Fprintf(&b, "field %s: ", e.Field)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// MissingHandlerError reports a Task whose resource has no Handler. Runs
// check every statically known resource before starting, so a wiring
// mistake fails fast instead of half-way through a pipeline.
type MissingHandlerError struct {
	// State is the Task state.
	State string
	// Resource is its Resource field after substitution.
	Resource string
	// Keys are the Handlers keys that were tried, in order.
	Keys []string
}

// Error names the state, the resource and the keys tried.
func (e *MissingHandlerError) Error() string {
	return fmt.Sprintf("asl: state %q: no handler for resource %q (tried keys %q)", e.State, e.Resource, e.Keys)
}

// MissingObjectStoreError reports a Map state that reads its items from
// S3 (ItemReader) or writes its results there (ResultWriter) on a Runner
// without an ObjectStore. Like a missing handler, it is found before the
// execution starts.
type MissingObjectStoreError struct {
	// State is the Map state.
	State string
	// Field is ItemReader or ResultWriter.
	Field string
}

// Error names the state and what it needs.
func (e *MissingObjectStoreError) Error() string {
	return fmt.Sprintf("asl: state %q: its %s uses S3 but Runner.ObjectStore is not set", e.State, e.Field)
}

// ErrCheckpoint is wrapped by Resume and ResumeFailure when a checkpoint
// cannot continue on this Runner (wrong version, another definition, not
// a paused callback task).
var ErrCheckpoint = errors.New("asl: unusable checkpoint")

// fieldError is a load-time problem located at a field below a state,
// turned into a DefinitionError by the parser.
type fieldError struct {
	field, msg string
}

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func fieldErr(field, format string, args ...any) *fieldError {
	return &fieldError{field: field, msg: fmt.Sprintf(format, args...)}
}
