package asl

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// DefaultMaxTransitions is the transition budget when
// Runner.MaxTransitions is zero: far above any real run of this project's
// machines, low enough to stop a Choice loop quickly.
const DefaultMaxTransitions = 1000

// Local ARNs: the executor has no account or region, so it uses AWS's
// own documentation placeholders' shape with "local".
const (
	localARNPrefix = "arn:aws:states:local:000000000000:"
	localRoleARN   = "arn:aws:iam::000000000000:role/churnops-local"
)

// Runner executes a Machine with local Handlers. The zero value of every
// field but Machine is usable. A Runner may run several executions
// concurrently if its Handlers, Observer and Random allow it (the
// default Random, crypto/rand, does).
type Runner struct {
	// Machine is the definition to run.
	Machine *Machine
	// Handlers implement the Task resources.
	Handlers Handlers
	// Observer, if set, sees every history event as it happens.
	Observer Observer
	// Clock defaults to SystemClock; tests inject one that does not wait.
	Clock Clock
	// Random feeds task tokens, execution names, States.UUID and retry
	// jitter; defaults to crypto/rand. A seeded reader makes runs
	// reproducible.
	Random io.Reader
	// MaxTransitions bounds state transitions (retries count, as on AWS)
	// per execution; 0 means DefaultMaxTransitions.
	MaxTransitions int
	// StateMachineName appears in the execution ARN and the context
	// object ($$.StateMachine.Name); defaults to "local".
	StateMachineName string
}

// Run starts an execution named name (a UUID if empty) with input (an
// empty input is {}, as on AWS) and runs it until it ends or pauses on a
// .waitForTaskToken task.
//
// Execution failures are reported in the Execution (Status FAILED with
// Error and Cause), not as a Go error. A Go error means the execution
// could not run: invalid input JSON, missing Handlers (see
// CheckHandlers), or ctx cancelled, in which case the Execution is also
// returned, with Status ABORTED.
func (r *Runner) Run(ctx context.Context, name string, input json.RawMessage) (*Execution, error) {
	if r.Machine == nil {
		return nil, errors.New("asl: Runner has no Machine")
	}
	if err := r.Machine.CheckHandlers(r.Handlers); err != nil {
		return nil, err
	}
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	in, err := parseJSON(input)
	if err != nil {
		return nil, fmt.Errorf("asl: execution input is not valid JSON: %w", err)
	}
	x := r.newRun()
	if name == "" {
		if name, err = x.uuid(); err != nil {
			return nil, fmt.Errorf("asl: naming the execution: %w", err)
		}
	}
	smName := r.StateMachineName
	if smName == "" {
		smName = "local"
	}
	x.info = ExecutionInfo{
		ID:               ExecutionARN(smName, name),
		Name:             name,
		StateMachineID:   localARNPrefix + "stateMachine:" + smName,
		StateMachineName: smName,
		Input:            rawJSON(in),
		StartTime:        x.clock.Now(),
	}
	x.input = in
	x.emit(Event{Type: EventExecutionStarted, Input: x.info.Input})
	return x.loop(ctx, r.Machine.startAt, in, nil)
}

// ExecutionARN is the ID ($$.Execution.Id) Run gives the execution named
// name of the state machine named stateMachine, so a caller can find what
// an earlier execution of that name left behind.
func ExecutionARN(stateMachine, name string) string {
	return localARNPrefix + "execution:" + stateMachine + ":" + name
}

// Resume continues a paused execution as SendTaskSuccess does: output
// becomes the Task's result and goes through its ResultSelector,
// ResultPath and OutputPath. If the Task's TimeoutSeconds has passed, the
// Task fails with States.Timeout instead (through its Retry and Catch),
// as it would have on AWS.
func (r *Runner) Resume(ctx context.Context, cp *Checkpoint, output json.RawMessage) (*Execution, error) {
	v, err := parseJSON(output)
	if err != nil {
		return nil, fmt.Errorf("asl: task output is not valid JSON: %w", err)
	}
	return r.resume(ctx, cp, &taskOutcome{result: v})
}

// ResumeFailure continues a paused execution as SendTaskFailure does: the
// Task fails with errorName and cause, and its Retry (re-invoking the
// resource with a new token) and Catch apply.
func (r *Runner) ResumeFailure(ctx context.Context, cp *Checkpoint, errorName, cause string) (*Execution, error) {
	return r.resume(ctx, cp, &taskOutcome{err: &stateError{Name: errorName, Cause: cause}})
}

// CheckCheckpoint reports why cp cannot be resumed by r (an ErrCheckpoint:
// another definition, another layout, not a callback task), or nil.
func (r *Runner) CheckCheckpoint(cp *Checkpoint) error {
	_, err := r.checkpointState(cp)
	return err
}

// checkpointState returns the paused task state of a resumable cp.
func (r *Runner) checkpointState(cp *Checkpoint) (*state, error) {
	if r.Machine == nil {
		return nil, errors.New("asl: Runner has no Machine")
	}
	if cp == nil {
		return nil, fmt.Errorf("%w: nil checkpoint", ErrCheckpoint)
	}
	if cp.Version != checkpointVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrCheckpoint, cp.Version, checkpointVersion)
	}
	if cp.MachineDigest != r.Machine.digest {
		return nil, fmt.Errorf("%w: taken with another state machine definition", ErrCheckpoint)
	}
	st, ok := r.Machine.states[cp.State]
	if !ok || st.typ != typeTask || !st.res.callback {
		return nil, fmt.Errorf("%w: state %q is not a .waitForTaskToken task", ErrCheckpoint, cp.State)
	}
	if cp.Token == "" || len(cp.RetryCounts) != len(st.retry) {
		return nil, fmt.Errorf("%w: missing token or retry counts", ErrCheckpoint)
	}
	return st, nil
}

func (r *Runner) resume(ctx context.Context, cp *Checkpoint, outcome *taskOutcome) (*Execution, error) {
	st, err := r.checkpointState(cp)
	if err != nil {
		return nil, err
	}
	if err := r.Machine.CheckHandlers(r.Handlers); err != nil {
		return nil, err
	}
	raw, err := parseJSON(cp.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: state input: %v", ErrCheckpoint, err)
	}
	in, err := parseJSON(cp.Execution.Input)
	if err != nil {
		return nil, fmt.Errorf("%w: execution input: %v", ErrCheckpoint, err)
	}
	x := r.newRun()
	x.info = cp.Execution
	x.input = in
	x.history = slices.Clone(cp.History)
	x.transitions = cp.Transitions
	x.emit(Event{Type: EventExecutionResumed, State: st.name, StateType: st.typ, Token: cp.Token})
	if err := ctx.Err(); err != nil {
		return x.abort(err)
	}
	if x.machineTimedOut() {
		return x.timedOut(), nil
	}
	if !cp.Deadline.IsZero() && !x.clock.Now().Before(cp.Deadline) {
		outcome = &taskOutcome{err: &stateError{Name: ErrorTimeout, Cause: fmt.Sprintf(
			"the task was not answered within TimeoutSeconds (%d); the output sent is discarded", st.timeoutSeconds)}}
	}
	if outcome.err != nil {
		x.emit(Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: outcome.err.Name, Cause: outcome.err.Cause})
	} else {
		x.emit(Event{Type: EventTaskSucceeded, State: st.name, StateType: st.typ, Resource: st.res.arn, Output: rawJSON(outcome.result)})
	}
	retries := slices.Clone(cp.RetryCounts)
	total := 0
	for _, n := range retries {
		total += n
	}
	ts := &taskState{entered: cp.StateEnteredTime, retries: retries, retryCount: total, pending: outcome}
	return x.loop(ctx, st.name, raw, ts)
}

// run is one execution in progress.
type run struct {
	r           *Runner
	m           *Machine
	clock       Clock
	rnd         io.Reader
	max         int
	info        ExecutionInfo
	input       any
	history     []Event
	transitions int
}

func (r *Runner) newRun() *run {
	x := &run{r: r, m: r.Machine, clock: r.Clock, rnd: r.Random, max: r.MaxTransitions}
	if x.clock == nil {
		x.clock = SystemClock()
	}
	if x.rnd == nil {
		x.rnd = rand.Reader
	}
	if x.max <= 0 {
		x.max = DefaultMaxTransitions
	}
	return x
}

// stepResult is what executing one state produced.
type stepResult struct {
	next   string // "" ends the execution successfully (with output)
	output any
	err    *stateError // the execution fails
	pause  *Checkpoint // the execution pauses
	abort  error       // ctx was cancelled
}

// taskState is a Task's retry bookkeeping across attempts and pauses.
type taskState struct {
	entered    time.Time
	retries    []int // attempts used, per retrier
	retryCount int   // $$.State.RetryCount
	pending    *taskOutcome
}

// taskOutcome is a result or error delivered by Resume/ResumeFailure.
type taskOutcome struct {
	result any
	err    *stateError
}

func (x *run) loop(ctx context.Context, name string, input any, resume *taskState) (*Execution, error) {
	for {
		st := x.m.states[name]
		var res stepResult
		var entered time.Time
		if resume != nil {
			entered = resume.entered
			res = x.task(ctx, st, input, resume)
			resume = nil
		} else {
			if err := ctx.Err(); err != nil {
				return x.abort(err)
			}
			if x.machineTimedOut() {
				return x.timedOut(), nil
			}
			if x.transitions >= x.max {
				return x.failed(st, x.tooManyTransitions(st)), nil
			}
			x.transitions++
			entered = x.clock.Now()
			x.emit(Event{Type: EventStateEntered, State: st.name, StateType: st.typ, Input: rawJSON(input)})
			res = x.step(ctx, st, input, entered)
		}
		switch {
		case res.abort != nil:
			return x.abort(res.abort)
		case res.pause != nil:
			return x.paused(res.pause), nil
		case res.err != nil:
			return x.failed(st, res.err), nil
		}
		x.emit(Event{Type: EventStateExited, State: st.name, StateType: st.typ, Output: rawJSON(res.output), Next: res.next,
			Duration: x.clock.Now().Sub(entered)})
		if res.next == "" {
			return x.succeeded(res.output), nil
		}
		name, input = res.next, res.output
	}
}

func (x *run) tooManyTransitions(st *state) *stateError {
	return &stateError{Name: ErrorMaxTransitions, Cause: fmt.Sprintf(
		"more than %d state transitions (at state %q): probably an endless loop; raise Runner.MaxTransitions if not", x.max, st.name)}
}

func (x *run) machineTimedOut() bool {
	return x.m.timeoutSeconds > 0 && x.clock.Now().Sub(x.info.StartTime) >= time.Duration(x.m.timeoutSeconds)*time.Second
}

func (x *run) step(ctx context.Context, st *state, input any, entered time.Time) stepResult {
	switch st.typ {
	case typeTask:
		return x.task(ctx, st, input, &taskState{entered: entered, retries: make([]int, len(st.retry))})
	case typePass:
		return x.pass(st, input, entered)
	case typeChoice:
		return x.choice(st, input, entered)
	case typeWait:
		return x.wait(ctx, st, input, entered)
	case typeSucceed:
		eff, err := st.inputPath.apply(input, "InputPath")
		if err != nil {
			return stepResult{err: err}
		}
		out, err := st.outputPath.apply(eff, "OutputPath")
		return stepResult{output: out, err: err}
	case typeFail:
		return x.fail(st, input, entered)
	}
	return stepResult{err: runtimeError("state type %q cannot run", st.typ)}
}

func (x *run) env(input, contextObj any) *evalEnv {
	return &evalEnv{input: input, context: contextObj, uuid: x.uuid}
}

// contextObject builds $$ for a state.
func (x *run) contextObject(st *state, entered time.Time, retryCount int, token string) map[string]any {
	c := map[string]any{
		"Execution": map[string]any{
			"Id":           x.info.ID,
			"Input":        x.input,
			"Name":         x.info.Name,
			"RoleArn":      localRoleARN,
			"StartTime":    awsTime(x.info.StartTime),
			"RedriveCount": json.Number("0"),
		},
		"State": map[string]any{
			"Name":        st.name,
			"EnteredTime": awsTime(entered),
			"RetryCount":  json.Number(strconv.Itoa(retryCount)),
		},
		"StateMachine": map[string]any{
			"Id":   x.info.StateMachineID,
			"Name": x.info.StateMachineName,
		},
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	return c
}

// awsTime formats times as the context object does.
func awsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func (x *run) pass(st *state, raw any, entered time.Time) stepResult {
	eff, err := st.inputPath.apply(raw, "InputPath")
	if err != nil {
		return stepResult{err: err}
	}
	if st.parameters != nil {
		if eff, err = st.parameters.eval(x.env(eff, x.contextObject(st, entered, 0, "")), "Parameters"); err != nil {
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

func (x *run) choice(st *state, raw any, entered time.Time) stepResult {
	eff, err := st.inputPath.apply(raw, "InputPath")
	if err != nil {
		return stepResult{err: err}
	}
	env := x.env(eff, x.contextObject(st, entered, 0, ""))
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

func (x *run) wait(ctx context.Context, st *state, raw any, entered time.Time) stepResult {
	eff, serr := st.inputPath.apply(raw, "InputPath")
	if serr != nil {
		return stepResult{err: serr}
	}
	ctxObj := x.contextObject(st, entered, 0, "")
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
		x.emit(Event{Type: EventWaitStarted, State: st.name, StateType: st.typ, Delay: d})
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

func (x *run) fail(st *state, raw any, entered time.Time) stepResult {
	env := x.env(raw, x.contextObject(st, entered, 0, ""))
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

// task runs a Task with its Retry and Catch policy. ts.pending, when set,
// is the outcome of the attempt a Resume answered.
func (x *run) task(ctx context.Context, st *state, raw any, ts *taskState) stepResult {
	for {
		var result any
		var serr *stateError
		if ts.pending != nil {
			result, serr = ts.pending.result, ts.pending.err
			ts.pending = nil
		} else {
			var cp *Checkpoint
			var abort error
			result, serr, cp, abort = x.attempt(ctx, st, raw, ts)
			switch {
			case abort != nil:
				return stepResult{abort: abort}
			case cp != nil:
				return stepResult{pause: cp}
			}
		}
		if serr == nil {
			out, err := x.taskOutput(st, raw, result, ts)
			if err == nil {
				return stepResult{next: st.next, output: out}
			}
			serr = err
		}
		if i := findRetrier(st.retry, serr.Name); i >= 0 && ts.retries[i] < st.retry[i].maxAttempts {
			if x.transitions >= x.max {
				return stepResult{err: x.tooManyTransitions(st)}
			}
			x.transitions++
			delay := x.backoff(st.retry[i], ts.retries[i])
			ts.retries[i]++
			ts.retryCount++
			x.emit(Event{Type: EventStateRetried, State: st.name, StateType: st.typ, Error: serr.Name, Cause: serr.Cause,
				Attempt: ts.retries[i], Delay: delay})
			if err := x.clock.Sleep(ctx, delay); err != nil {
				return stepResult{abort: err}
			}
			continue
		}
		for _, c := range st.catch {
			if !matchErrors(c.errorEquals, serr.Name) {
				continue
			}
			out, err := c.resultPath.merge(raw, map[string]any{"Error": serr.Name, "Cause": serr.Cause})
			if err != nil {
				return stepResult{err: &stateError{Name: ErrorRuntime, Cause: "Catch " + err.Cause}}
			}
			x.emit(Event{Type: EventStateCaught, State: st.name, StateType: st.typ, Error: serr.Name, Cause: serr.Cause,
				Next: c.next, Output: rawJSON(out)})
			return stepResult{next: c.next, output: out}
		}
		return stepResult{err: serr}
	}
}

func findRetrier(rs []retrier, name string) int {
	for i, r := range rs {
		if matchErrors(r.errorEquals, name) {
			return i
		}
	}
	return -1
}

// backoff is IntervalSeconds × BackoffRate^done, capped by
// MaxDelaySeconds, drawn uniformly from [0, that] with FULL jitter.
func (x *run) backoff(r retrier, done int) time.Duration {
	secs := r.interval * math.Pow(r.backoffRate, float64(done))
	if r.maxDelay > 0 && secs > r.maxDelay {
		secs = r.maxDelay
	}
	if r.jitterFull {
		var b [8]byte
		if _, err := io.ReadFull(x.rnd, b[:]); err == nil {
			secs *= float64(binary.BigEndian.Uint64(b[:])>>11) / (1 << 53)
		}
	}
	return time.Duration(secs * float64(time.Second))
}

// taskOutput applies ResultSelector, ResultPath and OutputPath to a
// Task's result.
func (x *run) taskOutput(st *state, raw, result any, ts *taskState) (any, *stateError) {
	if st.resultSelector != nil {
		var err *stateError
		if result, err = st.resultSelector.eval(x.env(result, x.contextObject(st, ts.entered, ts.retryCount, "")), "ResultSelector"); err != nil {
			return nil, err
		}
	}
	out, err := st.resultPath.merge(raw, result)
	if err != nil {
		return nil, err
	}
	return st.outputPath.apply(out, "OutputPath")
}

// attempt invokes a Task's resource once. It returns the raw result, or
// the error the state raised, or a checkpoint when a callback task now
// waits for its token.
func (x *run) attempt(ctx context.Context, st *state, raw any, ts *taskState) (any, *stateError, *Checkpoint, error) {
	eff, serr := st.inputPath.apply(raw, "InputPath")
	if serr != nil {
		return nil, serr, nil, nil
	}
	token := ""
	if st.res.callback {
		var err error
		if token, err = x.token(); err != nil {
			return nil, runtimeError("creating a task token: %v", err), nil, nil
		}
	}
	params := eff
	if st.parameters != nil {
		if params, serr = st.parameters.eval(x.env(eff, x.contextObject(st, ts.entered, ts.retryCount, token)), "Parameters"); serr != nil {
			return nil, serr, nil, nil
		}
	}
	payload := params
	lambda := st.res.kind != kindService
	var keys []string
	switch st.res.kind {
	case kindLambdaInvoke:
		m, _ := params.(map[string]any)
		fn, ok := m["FunctionName"].(string)
		if !ok || fn == "" {
			return nil, runtimeError("lambda:invoke Parameters.FunctionName must be a non-empty string, got %s", rawJSON(m["FunctionName"])), nil, nil
		}
		payload = map[string]any{}
		if p, has := m["Payload"]; has {
			payload = p
		}
		keys = functionKeys(fn)
	default:
		keys = st.res.keys()
	}
	h, ok := x.r.Handlers.lookup(keys)
	if !ok {
		serr := &stateError{Name: ErrorLambdaResourceNotFound, Cause: fmt.Sprintf("no local handler for %q (tried keys %q)", keys[0], keys)}
		x.emit(Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
		return nil, serr, nil, nil
	}
	in, err := toJSON(payload)
	if err != nil {
		return nil, runtimeError("encoding the task input: %v", err), nil, nil
	}
	x.emit(Event{Type: EventTaskScheduled, State: st.name, StateType: st.typ, Resource: st.res.arn, Input: in})
	var deadline time.Time
	if st.timeoutSeconds > 0 {
		deadline = x.clock.Now().Add(time.Duration(st.timeoutSeconds) * time.Second)
	}
	out, herr, timedOut, abort := x.invoke(ctx, st, h, in)
	switch {
	case abort != nil:
		return nil, nil, nil, abort
	case timedOut:
		serr = &stateError{Name: ErrorTimeout, Cause: fmt.Sprintf("Task timed out after %d seconds", st.timeoutSeconds)}
	case herr != nil:
		name, msg := lambdaError(herr)
		cause := msg
		if lambda {
			cause = lambdaCause(name, msg)
		}
		serr = &stateError{Name: name, Cause: cause}
	}
	if serr != nil {
		x.emit(Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
		return nil, serr, nil, nil
	}
	if st.res.callback {
		x.emit(Event{Type: EventTaskSubmitted, State: st.name, StateType: st.typ, Resource: st.res.arn, Token: token})
		x.emit(Event{Type: EventExecutionPaused, State: st.name, StateType: st.typ, Token: token})
		return nil, nil, &Checkpoint{
			Version:          checkpointVersion,
			MachineDigest:    x.m.digest,
			Execution:        x.info,
			State:            st.name,
			StateEnteredTime: ts.entered,
			Input:            rawJSON(raw),
			Parameters:       rawJSON(params),
			Token:            token,
			Deadline:         deadline,
			RetryCounts:      slices.Clone(ts.retries),
			Transitions:      x.transitions,
			History:          slices.Clone(x.history),
		}, nil
	}
	var result any
	if len(out) > 0 {
		if result, err = parseJSON(out); err != nil {
			serr = runtimeError("the handler for %q returned invalid JSON: %v", keys[0], err)
			x.emit(Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
			return nil, serr, nil, nil
		}
	}
	if st.res.kind == kindLambdaInvoke {
		result = x.lambdaInvokeResult(result)
	}
	x.emit(Event{Type: EventTaskSucceeded, State: st.name, StateType: st.typ, Resource: st.res.arn, Output: rawJSON(result)})
	return result, nil, nil, nil
}

// lambdaInvokeResult wraps a function's output as the lambda:invoke
// integration returns it, so ResultSelector "$.Payload..." works locally.
func (x *run) lambdaInvokeResult(payload any) any {
	reqID, err := x.uuid()
	if err != nil {
		reqID = "00000000-0000-4000-8000-000000000000"
	}
	return map[string]any{
		"ExecutedVersion": "$LATEST",
		"Payload":         payload,
		"SdkHttpMetadata": map[string]any{
			"HttpHeaders": map[string]any{
				"Content-Type":           "application/json",
				"X-Amz-Executed-Version": "$LATEST",
				"x-amzn-RequestId":       reqID,
			},
			"HttpStatusCode": json.Number("200"),
		},
		"SdkResponseMetadata": map[string]any{"RequestId": reqID},
		"StatusCode":          json.Number("200"),
	}
}

// invoke calls a handler under the Task's timeout. The handler runs in
// its own goroutine so a handler that ignores its context still times
// out (it is then abandoned, as Step Functions abandons a late Lambda).
func (x *run) invoke(ctx context.Context, st *state, h Handler, in json.RawMessage) (out json.RawMessage, err error, timedOut bool, abort error) {
	hctx, cancel := ctx, context.CancelFunc(func() {})
	if st.timeoutSeconds > 0 {
		hctx, cancel = x.clock.WithTimeout(ctx, time.Duration(st.timeoutSeconds)*time.Second)
	}
	defer cancel()
	type result struct {
		out json.RawMessage
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: panicError{value: p}}
			}
		}()
		o, e := h(hctx, in)
		done <- result{o, e}
	}()
	select {
	case r := <-done:
		if ctx.Err() != nil {
			return nil, nil, false, ctx.Err()
		}
		if r.err != nil && errors.Is(hctx.Err(), context.DeadlineExceeded) {
			return nil, nil, true, nil
		}
		return r.out, r.err, false, nil
	case <-hctx.Done():
		if ctx.Err() != nil {
			return nil, nil, false, ctx.Err()
		}
		return nil, nil, true, nil
	}
}

// panicError reports a handler panic the way aws-lambda-go does: named
// after the panic value's type.
type panicError struct{ value any }

func (p panicError) Error() string { return fmt.Sprint(p.value) }

func (p panicError) ErrorName() string {
	if err, ok := p.value.(error); ok {
		return ErrorName(err)
	}
	t := reflect.TypeOf(p.value)
	if t == nil {
		return ""
	}
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Name()
}

func (x *run) emit(e Event) {
	e.ID = len(x.history) + 1
	e.Timestamp = x.clock.Now()
	x.history = append(x.history, e)
	if x.r.Observer != nil {
		x.r.Observer(e)
	}
}

func (x *run) execution(status Status) *Execution {
	return &Execution{ID: x.info.ID, Name: x.info.Name, Status: status, StartTime: x.info.StartTime,
		StopTime: x.clock.Now(), History: x.history}
}

func (x *run) succeeded(output any) *Execution {
	out := rawJSON(output)
	x.emit(Event{Type: EventExecutionSucceeded, Output: out})
	ex := x.execution(StatusSucceeded)
	ex.Output = out
	return ex
}

func (x *run) failed(st *state, err *stateError) *Execution {
	x.emit(Event{Type: EventExecutionFailed, State: st.name, StateType: st.typ, Error: err.Name, Cause: err.Cause})
	ex := x.execution(StatusFailed)
	ex.Error, ex.Cause = err.Name, err.Cause
	return ex
}

func (x *run) timedOut() *Execution {
	cause := fmt.Sprintf("the execution ran longer than the machine's TimeoutSeconds (%d)", x.m.timeoutSeconds)
	x.emit(Event{Type: EventExecutionTimedOut, Error: ErrorTimeout, Cause: cause})
	ex := x.execution(StatusTimedOut)
	ex.Error, ex.Cause = ErrorTimeout, cause
	return ex
}

func (x *run) abort(err error) (*Execution, error) {
	x.emit(Event{Type: EventExecutionAborted, Cause: err.Error()})
	ex := x.execution(StatusAborted)
	ex.Cause = err.Error()
	return ex, fmt.Errorf("asl: execution %q aborted: %w", x.info.Name, err)
}

func (x *run) paused(cp *Checkpoint) *Execution {
	ex := x.execution(StatusPaused)
	ex.Checkpoint = cp
	return ex
}

// uuid returns a version 4 UUID from the Runner's random source.
func (x *run) uuid() (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(x.rnd, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// token returns a task token: 32 random bytes in hex.
func (x *run) token() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(x.rnd, b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
