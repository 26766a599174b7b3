package execlog

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/pipeline"
)

// SchemaVersion is the record format's version, stored in every record.
// A reader refuses a newer one instead of misreading it.
const SchemaVersion = 1

// Outcomes of an execution, besides the decisions the pipeline records
// (registry.OutcomePromoted, OutcomeSkipped, OutcomeRejected,
// pipeline.OutcomePendingApproval) and NoRetrain's "no_drift".
const (
	OutcomeNoDrift  = "no_drift"
	OutcomeFailed   = "failed"    // FAILED: Error names the typed error
	OutcomeTimedOut = "timed_out" // TIMED_OUT
	OutcomeAborted  = "aborted"   // ABORTED: cancelled (Ctrl-C locally)
	// OutcomeUnknown is a SUCCEEDED execution whose data holds no decision
	// (never for the repo's state machine; kept so a record always says
	// something).
	OutcomeUnknown = "unknown"
)

// Record is one execution of the retraining state machine, as stored.
type Record struct {
	Schema int `json:"schema"`
	// ExecutionARN and Name identify the execution ($$.Execution.Id and
	// Name); the ARN is the run_id prefix of the versions it trained.
	ExecutionARN string `json:"execution_arn"`
	Name         string `json:"name"`
	// Status is the execution's status as Step Functions spells it
	// (SUCCEEDED, FAILED, TIMED_OUT, ABORTED) or PAUSED while it waits for
	// a person.
	Status string `json:"status"`
	// Outcome is what the execution decided last: promoted, skipped,
	// rejected, no_drift, pending_approval; or failed, timed_out, aborted.
	Outcome string    `json:"outcome"`
	Start   time.Time `json:"start"`
	// Stop is when it ended, or paused.
	Stop time.Time `json:"stop"`
	// ReferenceAsOf and CurrentAsOf are the months compared, as the Drift
	// state resolved them ("previous" and "latest" become dates); the
	// input's values when the execution ended before Drift.
	ReferenceAsOf string `json:"reference_as_of,omitempty"`
	CurrentAsOf   string `json:"current_as_of,omitempty"`
	// Error and Cause say why a FAILED, TIMED_OUT or ABORTED execution
	// ended: Error is the typed error the state machine's Fail state names
	// (SnapshotNotFoundError, RegistryConflictError, …).
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Input is the execution's input (pipeline.ExecutionInput).
	Input json.RawMessage `json:"input,omitempty"`
	// States are the states visited, in order, top level only (a Map
	// state's iterations are inside its visit).
	States []Visit `json:"states"`
	// Data is the state data the execution ended with: the output of a
	// SUCCEEDED execution, else the data the last state received. It
	// decodes into pipeline.ExecutionState.
	Data json.RawMessage `json:"data,omitempty"`
}

// Visit is one entry into a state.
type Visit struct {
	Name    string    `json:"name"`
	Type    string    `json:"type"` // Task, Choice, Pass, Wait, Map, Succeed, Fail, Parallel
	Entered time.Time `json:"entered"`
	// Duration is the time from entering the state to leaving it (to the
	// execution's end for a state it ended in, to the pause for a state
	// still waiting).
	Duration time.Duration `json:"duration_ns"`
	// Next is the state it went to; empty for the last one.
	Next string `json:"next,omitempty"`
	// Retries counts the retries of a Task.
	Retries int `json:"retries,omitempty"`
	// Error is the error a Catch caught here, or the one the execution
	// failed with in this state.
	Error string `json:"error,omitempty"`
	// Waiting is set on the state a PAUSED execution waits in.
	Waiting bool `json:"waiting,omitempty"`
}

// State decodes the record's data; a record without data gives the zero
// state.
func (r *Record) State() (pipeline.ExecutionState, error) {
	var s pipeline.ExecutionState
	if len(r.Data) == 0 {
		return s, nil
	}
	if err := json.Unmarshal(r.Data, &s); err != nil {
		return s, fmt.Errorf("execution %s: state data: %w", r.Name, err)
	}
	return s, nil
}

// Duration is the time from start to stop.
func (r *Record) Duration() time.Duration { return r.Stop.Sub(r.Start) }

// ErrIncomplete means a history has no ExecutionStarted event or never
// reaches an end or a pause: it is not an execution's whole history.
var ErrIncomplete = errors.New("execution history is incomplete")

// FromHistory builds the record of the execution id (its ARN) named name
// from its history, which must run from ExecutionStarted to the
// execution's end (ExecutionSucceeded, Failed, TimedOut, Aborted) or its
// pause (ExecutionPaused). Events of states inside Map iterations are left
// out of the path. Durations are StateExited's Duration when set (the
// local executor's), else the time between the events' timestamps (Step
// Functions').
func FromHistory(id, name string, history []asl.Event) (Record, error) {
	r := Record{Schema: SchemaVersion, ExecutionARN: id, Name: name, States: []Visit{}}
	open := -1 // index in r.States of the visit not yet left
	end := func(ts time.Time) {
		if open >= 0 {
			r.States[open].Duration = ts.Sub(r.States[open].Entered)
		}
	}
	started, ended := false, false
	for _, ev := range history {
		if ev.Map != nil {
			continue // a Map Run's own events, or a state inside an iteration
		}
		switch ev.Type {
		case asl.EventExecutionStarted:
			started = true
			r.Start, r.Input = ev.Timestamp, ev.Input
		case asl.EventStateEntered:
			end(ev.Timestamp) // a visit left without a StateExited
			r.States = append(r.States, Visit{Name: ev.State, Type: ev.StateType, Entered: ev.Timestamp})
			open = len(r.States) - 1
			r.Data = ev.Input
		case asl.EventStateRetried:
			if open >= 0 {
				r.States[open].Retries++
			}
		case asl.EventStateCaught:
			// The local executor's: StateExited follows and closes the visit.
			if open >= 0 {
				end(ev.Timestamp)
				r.States[open].Next, r.States[open].Error = ev.Next, ev.Error
			}
			r.Data = ev.Output
		case asl.EventStateExited:
			if open >= 0 {
				end(ev.Timestamp)
				if ev.Duration > 0 {
					r.States[open].Duration = ev.Duration
				}
				r.States[open].Next = ev.Next
				open = -1
			}
			r.Data = ev.Output
		case asl.EventExecutionPaused:
			end(ev.Timestamp)
			if open >= 0 {
				r.States[open].Waiting = true
			}
			r.Status, r.Stop = string(asl.StatusPaused), ev.Timestamp
		case asl.EventExecutionResumed:
			if open >= 0 {
				r.States[open].Waiting = false
			}
			r.Status = ""
		case asl.EventExecutionSucceeded:
			end(ev.Timestamp)
			ended, open = true, -1
			r.Status, r.Stop, r.Data = string(asl.StatusSucceeded), ev.Timestamp, ev.Output
		case asl.EventExecutionFailed, asl.EventExecutionTimedOut, asl.EventExecutionAborted:
			end(ev.Timestamp)
			if open >= 0 && ev.Type == asl.EventExecutionFailed {
				r.States[open].Error = ev.Error
			}
			ended, open = true, -1
			r.Stop, r.Error, r.Cause = ev.Timestamp, ev.Error, ev.Cause
			r.Status = map[asl.EventType]string{
				asl.EventExecutionFailed:   string(asl.StatusFailed),
				asl.EventExecutionTimedOut: string(asl.StatusTimedOut),
				asl.EventExecutionAborted:  string(asl.StatusAborted),
			}[ev.Type]
		}
	}
	if !started || (!ended && r.Status != string(asl.StatusPaused)) {
		return Record{}, fmt.Errorf("execution %s: %w", name, ErrIncomplete)
	}
	if err := r.summarize(); err != nil {
		return Record{}, err
	}
	return r, nil
}

// summarize fills Outcome and the months from the status and the data.
func (r *Record) summarize() error {
	var in pipeline.ExecutionInput
	if len(r.Input) > 0 {
		if err := json.Unmarshal(r.Input, &in); err != nil {
			return fmt.Errorf("execution %s: input: %w", r.Name, err)
		}
	}
	s, err := r.State()
	if err != nil {
		return err
	}
	r.ReferenceAsOf, r.CurrentAsOf = in.ReferenceAsOf, in.CurrentAsOf
	if d := s.Drift; d != nil {
		r.ReferenceAsOf, r.CurrentAsOf = d.ReferenceAsOf, d.CurrentAsOf
	}
	switch r.Status {
	case string(asl.StatusSucceeded):
		r.Outcome = s.Outcome()
		if r.Outcome == "" {
			r.Outcome = OutcomeUnknown
		}
	case string(asl.StatusPaused):
		r.Outcome = pipeline.OutcomePendingApproval
	case string(asl.StatusFailed):
		r.Outcome = OutcomeFailed
	case string(asl.StatusTimedOut):
		r.Outcome = OutcomeTimedOut
	case string(asl.StatusAborted):
		r.Outcome = OutcomeAborted
	}
	return nil
}

// FinishAt ends the history of an execution that is still running its
// last state, the way that state ends it: the state machine's final step
// on AWS (a Task that records the execution and renders the dashboard)
// reads the history before the execution is over. With errName empty the
// execution succeeds at `at` with data (the state's input: the whole
// state data); otherwise it fails with errName and cause (the $.error a
// Catch stored). FromHistory then builds the same record the local run
// writes at its end.
func FinishAt(history []asl.Event, at time.Time, data json.RawMessage, errName, cause string) []asl.Event {
	end := asl.Event{Type: asl.EventExecutionSucceeded, Timestamp: at, Output: data}
	if errName != "" {
		end = asl.Event{Type: asl.EventExecutionFailed, Timestamp: at, Error: errName, Cause: cause}
	}
	return append(slices.Clip(history), end)
}
