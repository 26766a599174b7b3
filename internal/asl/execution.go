package asl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
		ID:               localARNPrefix + "execution:" + smName + ":" + name,
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
