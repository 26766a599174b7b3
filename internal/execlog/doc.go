// Package execlog keeps one record per execution of the retraining state
// machine: its name, start and stop, input, the states it went through
// with their durations, its outcome (promoted, skipped, no_drift, rejected,
// pending_approval, or failed with the typed error) and the state data it
// ended with. Neither the registry nor the blob store kept this: a version
// remembers its last decision, a drift report its months, but nothing said
// which path a run took, how long each state lasted, or why it failed.
//
// A record is built from an execution's history (FromHistory), which the
// local executor returns (asl.Execution.History) and Step Functions serves
// (GetExecutionHistory; awsbackend.HistoryEvents maps its events onto
// asl.Event), so the local run and a final state on AWS write the same
// document. That final state reads the history while the execution still
// runs: FinishAt ends it as the state will (succeeded with the state data,
// or failed with the error a Catch stored). It is stored as a blob under
//
//	reports/executions/<start>_<name>.json          an execution that ended
//	reports/executions/<start>_<name>.paused.json   one waiting for approval
//
// with <start> the UTC start time as 20060102T150405.000Z, so keys sort by
// start. Blobs are written once: an execution that pauses and is answered
// later leaves both documents, and List keeps the one that ended.
//
// The dashboard (internal/dashboard) reads these records; nothing in the
// pipeline depends on them, so a missing or unreadable record never stops
// a run.
package execlog
