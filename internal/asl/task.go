package asl

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"
)

var lambdaInvokeParams = []string{"FunctionName", "Payload", "InvocationType", "Qualifier", "ClientContext", "LogType"}

func (p *parser) parseTask(f objFields, st *state) {
	arn, ok := f.str("Resource")
	if !ok || arn == "" {
		if !f.has("Resource") || ok {
			f.errf("Resource", "a Task needs a Resource")
		}
		return
	}
	st.res = classifyResource(arn)
	st.resultSelector = f.template("ResultSelector")
	if n, ok := f.integer("TimeoutSeconds", 1, 99999999); ok {
		st.timeoutSeconds = int(n)
	}
	if n, ok := f.integer("HeartbeatSeconds", 1, 99999999); ok {
		st.heartbeatSeconds = int(n)
		if st.timeoutSeconds > 0 && st.heartbeatSeconds >= st.timeoutSeconds {
			f.errf("HeartbeatSeconds", "must be smaller than TimeoutSeconds (%d)", st.timeoutSeconds)
		}
	}
	params, _ := f.m["Parameters"].(map[string]any)
	if st.res.callback && p.mapDepth > 0 {
		f.errf("Resource", "a .waitForTaskToken task cannot run inside a Map's processor here: the local executor pauses a whole execution at one task (a Checkpoint), not a Map's iterations")
	}
	if strings.Contains(arn, ".waitForTaskToken") && !st.res.callback {
		f.errf("Resource", "%q: .waitForTaskToken is only valid on a service integration (arn:aws:states:::service:action.waitForTaskToken)", arn)
	}
	if st.res.kind == kindLambdaInvoke {
		if params == nil {
			f.errf("Parameters", "%s needs Parameters with FunctionName", arn)
		} else {
			for _, k := range sortedKeys(params) {
				if !slices.Contains(lambdaInvokeParams, strings.TrimSuffix(k, ".$")) {
					f.errf("Parameters."+k, "not a lambda:invoke parameter (allowed: %s)", strings.Join(lambdaInvokeParams, ", "))
				}
			}
			fn, static := params["FunctionName"]
			_, dynamic := params["FunctionName.$"]
			switch {
			case static && dynamic:
				f.errf("Parameters.FunctionName", "give FunctionName or FunctionName.$, not both")
			case static:
				s, isStr := fn.(string)
				if !isStr || s == "" {
					f.errf("Parameters.FunctionName", "must be a non-empty string")
				}
				st.staticFunction = s
			case !dynamic:
				f.errf("Parameters.FunctionName", "%s needs a FunctionName", arn)
			}
		}
	}
	if st.parameters != nil {
		uses := st.parameters.usesTaskToken()
		switch {
		case st.res.callback && !uses:
			f.errf("Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
		case !st.res.callback && uses:
			f.errf("Parameters", "$$.Task.Token exists only in .waitForTaskToken tasks")
		}
	} else if st.res.callback {
		f.errf("Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
	}
	st.retry = p.parseRetry(f)
	st.catch = p.parseCatch(f)
}

// taskOutcome is a result or error delivered by Resume/ResumeFailure.
type taskOutcome struct {
	result any
	err    *stateError
}

// task runs a Task with its Retry and Catch policy. rs.pending, when set,
// is the outcome of the attempt a Resume answered.
func (x *run) task(ctx context.Context, fr *frame, st *state, raw any, rs *retryState) stepResult {
	return x.withPolicy(ctx, fr, st, raw, rs, func() attemptResult { return x.attempt(ctx, fr, st, raw, rs) })
}

// attempt invokes a Task's resource once. It returns the raw result, or
// the error the state raised, or a checkpoint when a callback task now
// waits for its token.
func (x *run) attempt(ctx context.Context, fr *frame, st *state, raw any, rs *retryState) attemptResult {
	eff, serr := st.inputPath.apply(raw, "InputPath")
	if serr != nil {
		return attemptResult{err: serr}
	}
	token := ""
	if st.res.callback {
		var err error
		if token, err = x.token(); err != nil {
			return attemptResult{err: runtimeError("creating a task token: %v", err)}
		}
	}
	params := eff
	if st.parameters != nil {
		if params, serr = st.parameters.eval(x.env(eff, x.contextObject(fr, st, rs.entered, rs.retryCount, token)), "Parameters"); serr != nil {
			return attemptResult{err: serr}
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
			return attemptResult{err: runtimeError("lambda:invoke Parameters.FunctionName must be a non-empty string, got %s", rawJSON(m["FunctionName"]))}
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
		x.emitIn(fr, Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
		return attemptResult{err: serr}
	}
	in, err := toJSON(payload)
	if err != nil {
		return attemptResult{err: runtimeError("encoding the task input: %v", err)}
	}
	x.emitIn(fr, Event{Type: EventTaskScheduled, State: st.name, StateType: st.typ, Resource: st.res.arn, Input: in})
	var deadline time.Time
	if st.timeoutSeconds > 0 {
		deadline = x.clock.Now().Add(time.Duration(st.timeoutSeconds) * time.Second)
	}
	out, herr, timedOut, abort := x.invoke(ctx, st, h, in)
	switch {
	case abort != nil:
		return attemptResult{abort: abort}
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
		x.emitIn(fr, Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
		return attemptResult{err: serr}
	}
	if st.res.callback {
		x.emitIn(fr, Event{Type: EventTaskSubmitted, State: st.name, StateType: st.typ, Resource: st.res.arn, Token: token})
		x.emitIn(fr, Event{Type: EventExecutionPaused, State: st.name, StateType: st.typ, Token: token})
		return attemptResult{pause: &Checkpoint{
			Version:          checkpointVersion,
			MachineDigest:    x.m.digest,
			Execution:        x.info,
			State:            st.name,
			StateEnteredTime: rs.entered,
			Input:            rawJSON(raw),
			Parameters:       rawJSON(params),
			Token:            token,
			Deadline:         deadline,
			RetryCounts:      slices.Clone(rs.retries),
			Transitions:      fr.transitions,
			History:          x.historySnapshot(),
		}}
	}
	var result any
	if len(out) > 0 {
		if result, err = parseJSON(out); err != nil {
			serr = runtimeError("the handler for %q returned invalid JSON: %v", keys[0], err)
			x.emitIn(fr, Event{Type: EventTaskFailed, State: st.name, StateType: st.typ, Resource: st.res.arn, Error: serr.Name, Cause: serr.Cause})
			return attemptResult{err: serr}
		}
	}
	if st.res.kind == kindLambdaInvoke {
		result = x.lambdaInvokeResult(result)
	}
	x.emitIn(fr, Event{Type: EventTaskSucceeded, State: st.name, StateType: st.typ, Resource: st.res.arn, Output: rawJSON(result)})
	return attemptResult{result: result}
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
