package awsbackend

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/asl"
)

// History reads the whole event history of an execution of the deployed
// state machine (GetExecutionHistory, every page) as the local executor's
// events, for execlog.FromHistory. Called by the execution's own last
// state it ends there: see execlog.FinishAt.
func (s *StepFunctions) History(ctx context.Context, executionArn string) ([]asl.Event, error) {
	var all []sfntypes.HistoryEvent
	p := sfn.NewGetExecutionHistoryPaginator(s.client, &sfn.GetExecutionHistoryInput{
		ExecutionArn: aws.String(executionArn), IncludeExecutionData: aws.Bool(true), MaxResults: 1000,
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("execution history of %s: %w", executionArn, err)
		}
		all = append(all, page.Events...)
	}
	return HistoryEvents(all), nil
}

// HistoryEvents maps Step Functions history events onto the local
// executor's: <Type>StateEntered and <Type>StateExited become
// StateEntered and StateExited (StateType is the <Type>), a Task scheduled
// again within one state is a StateRetried, a task failure followed by the
// state's exit is a StateCaught, and the execution's start and end map one
// to one. The events of states inside an inline Map's iterations are left
// out (the Map state's own entry and exit stay); anything else (task
// scheduling, Map runs, activities) has no counterpart and is dropped.
func HistoryEvents(hist []sfntypes.HistoryEvent) []asl.Event {
	var out []asl.Event
	depth := 0           // inside this many Map iterations
	state, typ := "", "" // the state being visited
	scheduled := 0       // tasks scheduled in it
	failed := ""         // the error of its last failed task attempt
	for _, h := range hist {
		ev := asl.Event{ID: int(h.Id), Timestamp: aws.ToTime(h.Timestamp)}
		t := string(h.Type)
		switch h.Type {
		case sfntypes.HistoryEventTypeMapIterationStarted:
			depth++
			continue
		case sfntypes.HistoryEventTypeMapIterationSucceeded, sfntypes.HistoryEventTypeMapIterationFailed, sfntypes.HistoryEventTypeMapIterationAborted:
			depth--
			continue
		}
		if depth > 0 {
			continue
		}
		switch {
		case h.Type == sfntypes.HistoryEventTypeExecutionStarted:
			ev.Type = asl.EventExecutionStarted
			if d := h.ExecutionStartedEventDetails; d != nil {
				ev.Input = raw(d.Input)
			}
		case strings.HasSuffix(t, "StateEntered"):
			state, typ, scheduled, failed = "", strings.TrimSuffix(t, "StateEntered"), 0, ""
			if d := h.StateEnteredEventDetails; d != nil {
				state, ev.Input = aws.ToString(d.Name), raw(d.Input)
			}
			ev.Type, ev.State, ev.StateType = asl.EventStateEntered, state, typ
		case strings.HasSuffix(t, "StateExited"):
			if failed != "" {
				out = append(out, asl.Event{ID: ev.ID, Type: asl.EventStateCaught, Timestamp: ev.Timestamp, State: state, StateType: typ, Error: failed})
			}
			ev.Type, ev.State, ev.StateType = asl.EventStateExited, state, typ
			if d := h.StateExitedEventDetails; d != nil {
				ev.State, ev.Output = aws.ToString(d.Name), raw(d.Output)
			}
		case h.Type == sfntypes.HistoryEventTypeTaskScheduled, h.Type == sfntypes.HistoryEventTypeLambdaFunctionScheduled, h.Type == sfntypes.HistoryEventTypeActivityScheduled:
			scheduled++
			failed = ""
			if scheduled == 1 {
				continue
			}
			ev.Type, ev.State, ev.StateType, ev.Attempt = asl.EventStateRetried, state, typ, scheduled-1
		case h.Type == sfntypes.HistoryEventTypeTaskFailed:
			if d := h.TaskFailedEventDetails; d != nil {
				failed = aws.ToString(d.Error)
			}
			continue
		case h.Type == sfntypes.HistoryEventTypeTaskTimedOut:
			failed = "States.Timeout"
			continue
		case h.Type == sfntypes.HistoryEventTypeLambdaFunctionFailed:
			if d := h.LambdaFunctionFailedEventDetails; d != nil {
				failed = aws.ToString(d.Error)
			}
			continue
		case h.Type == sfntypes.HistoryEventTypeExecutionSucceeded:
			ev.Type = asl.EventExecutionSucceeded
			if d := h.ExecutionSucceededEventDetails; d != nil {
				ev.Output = raw(d.Output)
			}
		case h.Type == sfntypes.HistoryEventTypeExecutionFailed:
			ev.Type = asl.EventExecutionFailed
			if d := h.ExecutionFailedEventDetails; d != nil {
				ev.Error, ev.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
			}
		case h.Type == sfntypes.HistoryEventTypeExecutionTimedOut:
			ev.Type = asl.EventExecutionTimedOut
			if d := h.ExecutionTimedOutEventDetails; d != nil {
				ev.Error, ev.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
			}
		case h.Type == sfntypes.HistoryEventTypeExecutionAborted:
			ev.Type = asl.EventExecutionAborted
			if d := h.ExecutionAbortedEventDetails; d != nil {
				ev.Error, ev.Cause = aws.ToString(d.Error), aws.ToString(d.Cause)
			}
		default:
			continue
		}
		out = append(out, ev)
	}
	return out
}

// raw is a JSON document from the history, nil when absent or not JSON
// (Step Functions truncates data above 256 KB).
func raw(s *string) json.RawMessage {
	if s == nil || !json.Valid([]byte(*s)) {
		return nil
	}
	return json.RawMessage(*s)
}
