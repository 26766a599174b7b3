package asl

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"
)

// Iteration statuses, spelled as Step Functions spells child executions'.
const (
	itemPending   = "" // not started
	itemRunning   = "RUNNING"
	itemSucceeded = "SUCCEEDED"
	itemFailed    = "FAILED"
	itemAborted   = "ABORTED"
)

// mapRun is one run of a Map state: its items, and how each iteration went.
type mapRun struct {
	x       *run
	fr      *frame // where the Map state runs
	st      *state
	spec    *mapSpec
	id      string // the run's UUID: the last part of arn and the results' folder
	arn     string
	childSM string   // DISTRIBUTED children's state machine: <machine>/<label>
	items   []any    // as read, before ItemSelector
	env     *evalEnv // the Map's effective input and context object
	// tolerated failures (DISTRIBUTED): none when neither is set
	countSet, percentSet bool
	count, percent       float64

	mu        sync.Mutex // guards what follows; held while emitting iteration ends
	cancel    context.CancelFunc
	next      int // the next item to start
	stopped   bool
	stopErr   *stateError // why the run fails
	timedOut  bool        // the machine's TimeoutSeconds passed
	succeeded int
	failed    int
	its       []iteration
}

// iteration is one item's run.
type iteration struct {
	status      string
	input       any // after ItemSelector
	output      any
	err         *stateError
	start, stop time.Time
	exec        ExecutionInfo // a DISTRIBUTED child's
}

// mapState runs a Map state under its Retry and Catch; each attempt is a
// new Map Run over freshly read items.
func (x *run) mapState(ctx context.Context, fr *frame, st *state, raw any, entered time.Time) stepResult {
	rs := &retryState{entered: entered, retries: make([]int, len(st.retry))}
	return x.withPolicy(ctx, fr, st, raw, rs, func() attemptResult { return x.mapAttempt(ctx, fr, st, raw, rs) })
}

// mapAttempt is one Map Run: read the items, resolve MaxConcurrency and
// the tolerated failures, run the iterations.
func (x *run) mapAttempt(ctx context.Context, fr *frame, st *state, raw any, rs *retryState) attemptResult {
	ms := st.mp
	eff, serr := st.inputPath.apply(raw, "InputPath")
	if serr != nil {
		return attemptResult{err: serr}
	}
	env := x.env(eff, x.contextObject(fr, st, rs.entered, rs.retryCount, ""))
	id, err := x.uuid()
	if err != nil {
		return attemptResult{err: runtimeError("naming the Map Run: %v", err)}
	}
	mr := &mapRun{x: x, fr: fr, st: st, spec: ms, id: id, env: env,
		childSM: fr.exec.StateMachineName + "/" + ms.label}
	mr.arn = localARNPrefix + "mapRun:" + mr.childSM + ":" + id
	if ms.reader != nil {
		mr.items, serr = x.readItems(ctx, ms.reader, env)
	} else {
		mr.items, serr = itemsAt(ms.itemsPath, env)
	}
	if serr != nil {
		return attemptResult{err: serr}
	}
	maxConc, serr := ms.maxConcurrency.resolve(env, true, 0, 99999999)
	if serr == nil {
		mr.count, serr = ms.toleratedCount.resolve(env, true, 0, 1e15)
	}
	if serr == nil {
		mr.percent, serr = ms.toleratedPercent.resolve(env, false, 0, 100)
	}
	if serr != nil {
		return attemptResult{err: serr}
	}
	mr.countSet, mr.percentSet = ms.toleratedCount.set, ms.toleratedPercent.set
	mr.its = make([]iteration, len(mr.items))
	return mr.run(ctx, x.workers(int(maxConc), len(mr.items)))
}

// itemsAt selects the items from the Map's effective input: ItemsPath, "$"
// by default, must select an array.
func itemsAt(p *refPath, env *evalEnv) ([]any, *stateError) {
	v, ok, text := env.input, true, "$"
	if p != nil {
		v, ok = p.get(env.input, env.context)
		text = p.text
	}
	arr, isArr := v.([]any)
	if !ok || !isArr {
		return nil, runtimeError("ItemsPath '%s' must select an array of items, got %s", text, describe(v, ok))
	}
	return arr, nil
}

// workers is how many iterations run at once: MaxConcurrency (0: no
// bound, as on AWS), further bounded by Runner.MapWorkers (the machine's
// cores by default) so that CPU-heavy items do not oversubscribe it.
func (x *run) workers(maxConcurrency, items int) int {
	n := items
	if maxConcurrency > 0 {
		n = min(n, maxConcurrency)
	}
	local := x.r.MapWorkers
	if local <= 0 {
		local = runtime.GOMAXPROCS(0)
	}
	return min(n, local)
}

// run starts the iterations, workers at a time, and waits for them. The
// first failure that dooms the run stops it: no further item starts and
// the running ones have their context cancelled.
func (mr *mapRun) run(ctx context.Context, workers int) attemptResult {
	x := mr.x
	x.emit(Event{Type: EventMapRunStarted, State: mr.st.name, StateType: mr.st.typ, Map: mr.event(-1)})
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	mr.cancel = cancel
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i, ok := mr.take()
				if !ok {
					return
				}
				mr.iterate(runCtx, ctx, i)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return attemptResult{abort: err}
	}
	if mr.timedOut {
		return attemptResult{timedOut: true}
	}
	var result any
	if mr.spec.writer != nil {
		out, serr := x.writeResults(ctx, mr, mr.env)
		if serr != nil && mr.stopErr == nil {
			mr.stopErr = serr
		}
		result = out
	} else {
		results := make([]any, len(mr.items))
		for i, it := range mr.its {
			results[i] = it.output
			if it.status != itemSucceeded {
				results[i], _ = mr.record(i) // a tolerated failure: its execution record, as AWS returns it
			}
		}
		result = results
	}
	if mr.stopErr != nil {
		x.emit(Event{Type: EventMapRunFailed, State: mr.st.name, StateType: mr.st.typ, Error: mr.stopErr.Name, Cause: mr.stopErr.Cause, Map: mr.event(-1)})
		return attemptResult{err: mr.stopErr}
	}
	x.emit(Event{Type: EventMapRunSucceeded, State: mr.st.name, StateType: mr.st.typ, Map: mr.event(-1)})
	return attemptResult{result: result}
}

// take hands out the next item to start, unless the run has stopped.
func (mr *mapRun) take() (int, bool) {
	mr.mu.Lock()
	defer mr.mu.Unlock()
	if mr.stopped || mr.next >= len(mr.items) {
		return 0, false
	}
	mr.next++
	return mr.next - 1, true
}

// stop ends the run with err (the first reason wins) and cancels the
// running iterations. Callers hold mu.
func (mr *mapRun) stop(err *stateError) {
	if mr.stopErr == nil {
		mr.stopErr = err
	}
	mr.stopped = true
	mr.cancel()
}

// event describes the run (index -1) or one iteration for an event, with
// the counts so far. Callers hold mu or run before the iterations start.
func (mr *mapRun) event(index int) *MapEvent {
	return &MapEvent{RunARN: mr.arn, State: mr.st.name, Index: index, Items: len(mr.items),
		Succeeded: mr.succeeded, Failed: mr.failed, Parent: mr.fr.mapEv}
}

// itemContext is the context object ItemSelector sees for item i: the Map
// state's, plus Map.Item.
func (mr *mapRun) itemContext(i int) map[string]any {
	c := make(map[string]any, len(mr.env.context.(map[string]any))+1)
	for k, v := range mr.env.context.(map[string]any) {
		c[k] = v
	}
	c["Map"] = map[string]any{"Item": map[string]any{"Index": json.Number(strconv.Itoa(i)), "Value": mr.items[i]}}
	return c
}

// itemInput is iteration i's input: the item, or ItemSelector applied to
// the Map's effective input with $$.Map.Item.
func (mr *mapRun) itemInput(i int) (any, *stateError) {
	if mr.spec.selector == nil {
		return mr.items[i], nil
	}
	return mr.spec.selector.eval(mr.x.env(mr.env.input, mr.itemContext(i)), "ItemSelector")
}

// iterate runs item i's iteration. runCtx is cancelled when the run
// stops; ctx, the execution's, when the execution is aborted.
func (mr *mapRun) iterate(runCtx, ctx context.Context, i int) {
	x := mr.x
	input, serr := mr.itemInput(i)
	if serr != nil {
		// The Map state itself fails (ItemSelector is the Map's field, not
		// the iteration's), whatever the tolerated failures.
		mr.mu.Lock()
		defer mr.mu.Unlock()
		mr.its[i] = iteration{status: itemFailed, input: mr.items[i], err: serr, start: x.clock.Now(), stop: x.clock.Now()}
		mr.failed++
		x.emit(Event{Type: EventMapIterationFailed, State: mr.st.name, StateType: mr.st.typ, Error: serr.Name, Cause: serr.Cause, Map: mr.event(i)})
		mr.stop(serr)
		return
	}
	start := x.clock.Now()
	ev := &MapEvent{RunARN: mr.arn, State: mr.st.name, Index: i, Items: len(mr.items), Parent: mr.fr.mapEv}
	cf := &frame{g: mr.spec.processor, exec: mr.fr.exec, execInput: mr.fr.execInput, mapEv: ev}
	if mr.spec.distributed {
		// Each item is a child execution of its own: $$.Execution inside
		// is the child's, as on AWS.
		kind := "execution:"
		if mr.spec.express {
			kind = "express:"
		}
		name := mr.id + "-" + strconv.Itoa(i)
		cf.exec = ExecutionInfo{ID: localARNPrefix + kind + mr.childSM + ":" + name, Name: name,
			StateMachineID: localARNPrefix + "stateMachine:" + mr.childSM, StateMachineName: mr.childSM,
			Input: rawJSON(input), StartTime: start}
		cf.execInput = input
	}
	mr.mu.Lock()
	mr.its[i] = iteration{status: itemRunning, input: input, start: start, exec: cf.exec}
	x.emit(Event{Type: EventMapIterationStarted, State: mr.st.name, StateType: mr.st.typ, Input: rawJSON(input), Map: mr.event(i)})
	mr.mu.Unlock()

	end := x.walk(runCtx, cf, mr.spec.processor.startAt, input, nil)

	mr.mu.Lock()
	defer mr.mu.Unlock()
	it := &mr.its[i]
	it.stop = x.clock.Now()
	switch {
	case end.abort != nil || end.timedOut:
		it.status = itemAborted
		if end.timedOut {
			mr.timedOut = true
			mr.stop(&stateError{Name: ErrorTimeout, Cause: "the execution timed out"})
		}
		if ctx.Err() == nil {
			x.emit(Event{Type: EventMapIterationAborted, State: mr.st.name, StateType: mr.st.typ, Map: mr.event(i)})
		}
	case end.pause != nil: // rejected by Parse: a callback task inside a Map
		it.status, it.err = itemFailed, runtimeError("a Map iteration cannot pause for a task token")
		mr.failed++
		mr.stop(it.err)
	case end.err != nil:
		it.status, it.err = itemFailed, end.err
		mr.failed++
		x.emit(Event{Type: EventMapIterationFailed, State: mr.st.name, StateType: mr.st.typ, Error: end.err.Name, Cause: end.err.Cause, Map: mr.event(i)})
		if err := mr.failure(end.err); err != nil {
			mr.stop(err)
		}
	default:
		it.status, it.output = itemSucceeded, end.output
		mr.succeeded++
		x.emit(Event{Type: EventMapIterationSucceeded, State: mr.st.name, StateType: mr.st.typ, Output: rawJSON(end.output), Map: mr.event(i)})
	}
}

// failure decides whether the failures so far fail the run, and with
// which error: an INLINE Map fails with its first failed item's error; a
// DISTRIBUTED one with States.ExceedToleratedFailureThreshold once more
// items failed than ToleratedFailureCount or ToleratedFailurePercentage
// (of all items) allow, any failure if neither is set. Callers hold mu.
func (mr *mapRun) failure(itemErr *stateError) *stateError {
	if !mr.spec.distributed {
		return itemErr
	}
	failed, total := float64(mr.failed), float64(len(mr.items))
	exceeded := !mr.countSet && !mr.percentSet ||
		mr.countSet && failed > mr.count ||
		mr.percentSet && failed*100 > mr.percent*total
	if !exceeded {
		return nil
	}
	return &stateError{Name: ErrorExceedToleratedFailureThreshold, Cause: "The specified tolerated failure threshold was exceeded"}
}

// record is item i's child execution record as a ResultWriter writes it
// (and a DISTRIBUTED Map returns a tolerated failure), with the results
// file it goes to: SUCCEEDED, FAILED (failed and aborted children) or
// PENDING (never started). Input and Output are JSON text, as on AWS.
func (mr *mapRun) record(i int) (map[string]any, string) {
	it := mr.its[i]
	included := map[string]any{"Included": true}
	if it.status == itemPending {
		input, serr := mr.itemInput(i)
		if serr != nil {
			input = mr.items[i]
		}
		return map[string]any{"Input": string(rawJSON(input)), "InputDetails": included, "Status": "PENDING"}, "PENDING"
	}
	rec := map[string]any{
		"ExecutionArn":    it.exec.ID,
		"Input":           string(rawJSON(it.input)),
		"InputDetails":    included,
		"Name":            it.exec.Name,
		"RedriveCount":    json.Number("0"),
		"StartDate":       awsTime(it.start),
		"StateMachineArn": it.exec.StateMachineID,
		"Status":          it.status,
		"StopDate":        awsTime(it.stop),
	}
	if it.status == itemSucceeded {
		rec["Output"] = string(rawJSON(it.output))
		rec["OutputDetails"] = included
		rec["RedriveStatus"] = "NOT_REDRIVABLE"
		rec["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
		return rec, "SUCCEEDED"
	}
	if it.err != nil {
		rec["Error"], rec["Cause"] = it.err.Name, it.err.Cause
	}
	rec["RedriveStatus"] = "REDRIVABLE"
	rec["RedriveStatusReason"] = fmt.Sprintf("Execution is %s and is redrivable", it.status)
	return rec, "FAILED"
}
