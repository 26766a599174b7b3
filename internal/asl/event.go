package asl

import (
	"encoding/json"
	"time"
)

// Status is an execution's final (or paused) status, spelled as the
// Step Functions API spells it so CLIs print the same words.
type Status string

// Execution statuses.
const (
	// StatusSucceeded: a Succeed state or a state with End was reached.
	StatusSucceeded Status = "SUCCEEDED"
	// StatusFailed: an error nothing caught, or a Fail state.
	StatusFailed Status = "FAILED"
	// StatusTimedOut: the machine-level TimeoutSeconds elapsed.
	StatusTimedOut Status = "TIMED_OUT"
	// StatusAborted: the caller's context was cancelled.
	StatusAborted Status = "ABORTED"
	// StatusPaused: a .waitForTaskToken task is waiting; persist the
	// Checkpoint and call Resume or ResumeFailure with it later. (AWS
	// reports RUNNING here; the local executor returns control instead.)
	StatusPaused Status = "PAUSED"
)

// Execution is the outcome of Run, Resume or ResumeFailure.
type Execution struct {
	// ID is the execution ARN ($$.Execution.Id).
	ID string `json:"executionArn"`
	// Name is the execution name ($$.Execution.Name).
	Name string `json:"name"`
	// Status says how the execution ended, or that it is paused.
	Status Status `json:"status"`
	// Output is the final output when Status is SUCCEEDED.
	Output json.RawMessage `json:"output,omitempty"`
	// Error and Cause describe a FAILED, TIMED_OUT or ABORTED execution.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// StartTime is when the execution started (across pauses).
	StartTime time.Time `json:"startDate"`
	// StopTime is when it ended or paused.
	StopTime time.Time `json:"stopDate"`
	// History lists every event since the execution started, including
	// those before a pause.
	History []Event `json:"history"`
	// Checkpoint is set when Status is PAUSED.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// EventType names a history event.
type EventType string

// History event types. Observers usually print StateEntered,
// StateExited, StateRetried and StateCaught.
const (
	EventExecutionStarted EventType = "ExecutionStarted"
	EventStateEntered     EventType = "StateEntered"
	EventTaskScheduled    EventType = "TaskScheduled"   // Input: what the handler receives
	EventTaskSucceeded    EventType = "TaskSucceeded"   // Output: the raw task result
	EventTaskFailed       EventType = "TaskFailed"      // Error, Cause (including States.Timeout)
	EventTaskSubmitted    EventType = "TaskSubmitted"   // a callback task is waiting for Token
	EventStateRetried     EventType = "StateRetried"    // Error, Attempt, Delay
	EventStateCaught      EventType = "StateCaught"     // Error, Cause, Next, Output
	EventStateExited      EventType = "StateExited"     // Output, Duration
	EventWaitStarted      EventType = "WaitStarted"     // Delay
	EventExecutionPaused  EventType = "ExecutionPaused" // Token

	// A Map state's events, between its StateEntered and StateExited (or
	// StateRetried, StateCaught, ExecutionFailed). Each entry into the
	// state is one Map Run; every event carries Map.
	EventMapRunStarted         EventType = "MapRunStarted"         // Map.RunARN, Map.Items
	EventMapIterationStarted   EventType = "MapIterationStarted"   // Map.Index, Input: the iteration's input
	EventMapIterationSucceeded EventType = "MapIterationSucceeded" // Map.Index, Output
	EventMapIterationFailed    EventType = "MapIterationFailed"    // Map.Index, Error, Cause
	EventMapIterationAborted   EventType = "MapIterationAborted"   // Map.Index: stopped because the Map Run fails
	EventMapRunSucceeded       EventType = "MapRunSucceeded"       // Map counts
	EventMapRunFailed          EventType = "MapRunFailed"          // Error, Cause, Map counts

	EventExecutionResumed   EventType = "ExecutionResumed"   // Token
	EventExecutionSucceeded EventType = "ExecutionSucceeded" // Output
	EventExecutionFailed    EventType = "ExecutionFailed"    // Error, Cause
	EventExecutionTimedOut  EventType = "ExecutionTimedOut"  // Error, Cause
	EventExecutionAborted   EventType = "ExecutionAborted"   // Cause
)

// Event is one history entry. Fields that do not apply to a Type are
// empty (and omitted from JSON).
type Event struct {
	// ID numbers events from 1, in order, across pauses.
	ID int `json:"id"`
	// Type says what happened.
	Type EventType `json:"type"`
	// Timestamp is the Runner's Clock time of the event.
	Timestamp time.Time `json:"timestamp"`
	// State and StateType name the state the event belongs to.
	State     string `json:"state,omitempty"`
	StateType string `json:"stateType,omitempty"`
	// Resource is the Task's Resource (after substitution).
	Resource string `json:"resource,omitempty"`
	// Input is a state's raw input (StateEntered) or what a resource
	// received (TaskScheduled).
	Input json.RawMessage `json:"input,omitempty"`
	// Output is a state's output, a task's raw result or the execution's.
	Output json.RawMessage `json:"output,omitempty"`
	// Error and Cause describe a failure, retry or catch.
	Error string `json:"error,omitempty"`
	Cause string `json:"cause,omitempty"`
	// Next is the state a StateExited or StateCaught transitions to.
	Next string `json:"next,omitempty"`
	// Token is the task token of a callback task.
	Token string `json:"token,omitempty"`
	// Attempt is the retry number (1 for the first retry) of a retrier.
	Attempt int `json:"attempt,omitempty"`
	// Delay is the wait before a retry, or of a Wait state.
	Delay time.Duration `json:"delayNs,omitempty"`
	// Duration is the time spent in the state (StateExited).
	Duration time.Duration `json:"durationNs,omitempty"`
	// Map locates the event in a Map Run: set on MapRun* and MapIteration*
	// events and on every event of a state inside an iteration.
	Map *MapEvent `json:"map,omitempty"`
}

// MapEvent locates an event in a Map Run and says how far the run is, so a
// CLI can show "n of K items done" on a long Map.
type MapEvent struct {
	// RunARN identifies the Map Run (one per entry into the Map state).
	RunARN string `json:"mapRunArn"`
	// State is the Map state (Event.State is the inner state for events of
	// states inside an iteration).
	State string `json:"mapState"`
	// Index is the item's index, from 0; -1 on MapRun* events.
	Index int `json:"index"`
	// Items is how many items the run has.
	Items int `json:"items"`
	// Succeeded and Failed count the iterations finished when a MapRun* or
	// MapIteration* event was recorded (zero on events of inner states).
	Succeeded int `json:"succeeded"`
	Failed    int `json:"failed"`
	// Parent is the enclosing iteration when the Map is itself inside a
	// Map's iteration.
	Parent *MapEvent `json:"parent,omitempty"`
}

// Observer is called synchronously with each event as it is recorded,
// so a CLI can print progress while an execution runs.
type Observer func(Event)
