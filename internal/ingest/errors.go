package ingest

import "fmt"

// Typed errors, returned unwrapped so that a Lambda reports their type
// name to the state machine (NotReadyError, ConflictError,
// IncompleteError). Data problems are a *snapshot.ValidationErrors.

// NotReadyError means the month under Source has no marker yet: its
// producer has not finished writing it. Retry later.
type NotReadyError struct {
	Source string
}

func (e *NotReadyError) Error() string {
	return fmt.Sprintf("ingest: %s is not complete yet: no marker (%s) written", e.Source, Markers[0])
}

// ConflictError means a month is already stored for AsOf with different
// data: stored months are never overwritten.
type ConflictError struct {
	AsOf string
	// Stored and Ingested are the month fingerprints.
	Stored, Ingested string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("ingest: a different month is already stored for as_of %s (fingerprint %.12s, this data %.12s); stored datasets are never overwritten",
		e.AsOf, e.Stored, e.Ingested)
}

// IncompleteError means a phase ran before the one it depends on had
// finished: a shard built before every part was partitioned, a commit
// before every shard was built. Running the missing tasks first fixes it.
type IncompleteError struct {
	AsOf, Attempt string
	// Missing says what is not done ("part 3 (users/part-00003.csv)").
	Missing string
}

func (e *IncompleteError) Error() string {
	return fmt.Sprintf("ingest: as_of %s attempt %s: %s not done", e.AsOf, e.Attempt, e.Missing)
}
