package asl

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
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
	// ObjectStore is the S3 a DISTRIBUTED Map's ItemReader and
	// ResultWriter use; needed only by machines that have them.
	ObjectStore ObjectStore
	// MapWorkers bounds how many iterations of one Map Run run at once, on
	// top of the state's MaxConcurrency (where 0 means no bound, as on
	// AWS): an unbounded Map of 40 CPU-heavy items runs MapWorkers at a
	// time. 0 means runtime.GOMAXPROCS(0), the cores Go may use. The bound
	// is per Map Run: nested Maps multiply.
	MapWorkers int
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
	if err := r.check(); err != nil {
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
	return x.loop(ctx, x.topFrame(0), r.Machine.startAt, in, nil)
}

// check finds wiring mistakes before an execution starts: Task resources
// without a Handler, S3 use without an ObjectStore.
func (r *Runner) check() error {
	if err := r.Machine.CheckHandlers(r.Handlers); err != nil {
		return err
	}
	if r.ObjectStore == nil {
		for _, st := range r.Machine.all {
			if st.mp == nil {
				continue
			}
			switch {
			case st.mp.reader != nil:
				return &MissingObjectStoreError{State: st.name, Field: "ItemReader"}
			case st.mp.writer != nil:
				return &MissingObjectStoreError{State: st.name, Field: "ResultWriter"}
			}
		}
	}
	return nil
}

// run is one execution in progress. Map iterations run concurrently in
// their own frames; what they share (the history, the random source) is
// guarded by mu and rndMu.
type run struct {
	r     *Runner
	m     *Machine
	clock Clock
	max   int
	info  ExecutionInfo // the execution's, for its ARN, timeout and result
	input any

	mu      sync.Mutex // guards history and serializes Observer calls
	history []Event

	rndMu sync.Mutex // guards rnd, which need not be safe for concurrent use
	rnd   io.Reader
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

// frame is where a sequence of states runs: the execution itself, or one
// iteration of a Map state. Each frame has its own transition budget and
// is walked by one goroutine.
type frame struct {
	g           *graph
	transitions int           // state transitions so far (MaxTransitions)
	exec        ExecutionInfo // $$.Execution and $$.StateMachine
	execInput   any           // $$.Execution.Input
	mapEv       *MapEvent     // the Map iteration the frame runs, nil at top level
}

// topFrame is the frame of the execution's own states.
func (x *run) topFrame(transitions int) *frame {
	return &frame{g: &x.m.graph, transitions: transitions, exec: x.info, execInput: x.input}
}

// stepResult is what executing one state produced.
type stepResult struct {
	next     string // "" ends the frame successfully (with output)
	output   any
	err      *stateError // the frame fails
	pause    *Checkpoint // the execution pauses
	abort    error       // ctx was cancelled
	timedOut bool        // the machine's TimeoutSeconds passed
}

// walkEnd is how a frame's walk ended; state is the last state run.
type walkEnd struct {
	stepResult
	state *state
}

// loop walks the execution's own states and turns the end into an
// Execution.
func (x *run) loop(ctx context.Context, fr *frame, name string, input any, resume *retryState) (*Execution, error) {
	end := x.walk(ctx, fr, name, input, resume)
	switch {
	case end.abort != nil:
		return x.abort(end.abort)
	case end.timedOut:
		return x.timedOut(), nil
	case end.pause != nil:
		return x.paused(end.pause), nil
	case end.err != nil:
		return x.failed(end.state, end.err), nil
	}
	return x.succeeded(end.output), nil
}

// walk runs fr's states from name until one ends the frame, fails it,
// pauses or aborts the execution. resume, when set, continues the Task
// name a Resume answered.
func (x *run) walk(ctx context.Context, fr *frame, name string, input any, resume *retryState) walkEnd {
	for {
		st := fr.g.states[name]
		var res stepResult
		var entered time.Time
		if resume != nil {
			entered = resume.entered
			res = x.task(ctx, fr, st, input, resume)
			resume = nil
		} else {
			if err := ctx.Err(); err != nil {
				return walkEnd{stepResult{abort: err}, st}
			}
			if x.machineTimedOut() {
				return walkEnd{stepResult{timedOut: true}, st}
			}
			if fr.transitions >= x.max {
				return walkEnd{stepResult{err: x.tooManyTransitions(st)}, st}
			}
			fr.transitions++
			entered = x.clock.Now()
			x.emitIn(fr, Event{Type: EventStateEntered, State: st.name, StateType: st.typ, Input: rawJSON(input)})
			res = x.step(ctx, fr, st, input, entered)
		}
		if res.abort != nil || res.timedOut || res.pause != nil || res.err != nil {
			return walkEnd{res, st}
		}
		x.emitIn(fr, Event{Type: EventStateExited, State: st.name, StateType: st.typ, Output: rawJSON(res.output), Next: res.next,
			Duration: x.clock.Now().Sub(entered)})
		if res.next == "" {
			return walkEnd{stepResult{output: res.output}, st}
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

func (x *run) step(ctx context.Context, fr *frame, st *state, input any, entered time.Time) stepResult {
	switch st.typ {
	case typeTask:
		return x.task(ctx, fr, st, input, &retryState{entered: entered, retries: make([]int, len(st.retry))})
	case typePass:
		return x.pass(fr, st, input, entered)
	case typeChoice:
		return x.choice(fr, st, input, entered)
	case typeWait:
		return x.wait(ctx, fr, st, input, entered)
	case typeSucceed:
		return x.succeed(st, input)
	case typeFail:
		return x.fail(fr, st, input, entered)
	case typeMap:
		return x.mapState(ctx, fr, st, input, entered)
	}
	return stepResult{err: runtimeError("state type %q cannot run", st.typ)}
}

// emitIn records an event of a state running in fr, which places it in
// its Map iteration, if any.
func (x *run) emitIn(fr *frame, e Event) {
	e.Map = fr.mapEv
	x.emit(e)
}

// emit records an event and shows it to the Observer. Concurrent Map
// iterations emit too: events are numbered and observed one at a time.
func (x *run) emit(e Event) {
	x.mu.Lock()
	defer x.mu.Unlock()
	e.ID = len(x.history) + 1
	e.Timestamp = x.clock.Now()
	x.history = append(x.history, e)
	if x.r.Observer != nil {
		x.r.Observer(e)
	}
}

func (x *run) execution(status Status) *Execution {
	x.mu.Lock()
	defer x.mu.Unlock()
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

// random fills b from the Runner's random source.
func (x *run) random(b []byte) error {
	x.rndMu.Lock()
	defer x.rndMu.Unlock()
	_, err := io.ReadFull(x.rnd, b)
	return err
}

// uuid returns a version 4 UUID from the Runner's random source.
func (x *run) uuid() (string, error) {
	var b [16]byte
	if err := x.random(b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// token returns a task token: 32 random bytes in hex.
func (x *run) token() (string, error) {
	var b [32]byte
	if err := x.random(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}

// historySnapshot copies the history so far, for a Checkpoint.
func (x *run) historySnapshot() []Event {
	x.mu.Lock()
	defer x.mu.Unlock()
	return slices.Clone(x.history)
}
