package pipeline

import (
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/snapshot"
)

// InvalidInputError means the event itself is wrong (missing or malformed
// field). Retrying cannot help.
type InvalidInputError struct{ Msg string }

func (e *InvalidInputError) Error() string { return "invalid input: " + e.Msg }

// SnapshotNotFoundError means no month snapshot was ingested for an as_of.
type SnapshotNotFoundError struct{ AsOf string }

func (e *SnapshotNotFoundError) Error() string {
	return fmt.Sprintf("no snapshot ingested for as_of %s (run `churnops ingest --as-of %s` first)", e.AsOf, e.AsOf)
}

// RegistryConflictError means the registry changed under the run: another
// execution promoted a model since this one evaluated Production. Nothing
// was changed; rerun the loop to compare against the new Production model.
type RegistryConflictError struct{ Msg string }

func (e *RegistryConflictError) Error() string { return "registry conflict: " + e.Msg }

// ModelNotFoundError means a model version or its artifact is missing.
type ModelNotFoundError struct{ Msg string }

func (e *ModelNotFoundError) Error() string { return "model not found: " + e.Msg }

// DatasetInUseError means a month was not removed because something
// depends on it: a Production or candidate model trained on it, or the
// online store that would be left with no month to serve. Nothing was
// removed; the removal can be forced.
type DatasetInUseError struct{ Msg string }

func (e *DatasetInUseError) Error() string { return "dataset in use: " + e.Msg }

// InvalidArtifactError means a version's stored artifact is damaged or is
// not the one registered with it (another SHA-256): it must not be promoted
// or served.
type InvalidArtifactError struct{ Msg string }

func (e *InvalidArtifactError) Error() string { return "invalid artifact: " + e.Msg }

// InternalError is any other failure (storage, corrupt artifact, training).
// It carries the wrapped chain for logs and errors.Is; its type name is what
// Step Functions sees, instead of aws-lambda-go's opaque "wrapError".
type InternalError struct {
	Step string
	Err  error
}

func (e *InternalError) Error() string { return e.Step + ": " + e.Err.Error() }

// Unwrap exposes the cause to errors.Is / errors.As.
func (e *InternalError) Unwrap() error { return e.Err }

// boundary returns err as it must cross the Lambda boundary: one of this
// package's typed errors as is (never wrapped, so its type name survives),
// the ingest's typed errors (NotReadyError, ConflictError,
// IncompleteError) unwrapped, data problems as an InvalidInputError that
// lists them by file, line and column, anything else as an InternalError
// of the step.
func boundary(step string, err error) error {
	switch err.(type) {
	case nil:
		return nil
	case *InvalidInputError, *SnapshotNotFoundError, *RegistryConflictError, *ModelNotFoundError, *DatasetInUseError, *InvalidArtifactError, *InternalError:
		return err
	}
	var (
		notReady   *ingest.NotReadyError
		conflict   *ingest.ConflictError
		incomplete *ingest.IncompleteError
		verrs      *snapshot.ValidationErrors
	)
	switch {
	case errors.As(err, &notReady):
		return notReady
	case errors.As(err, &conflict):
		return conflict
	case errors.As(err, &incomplete):
		return incomplete
	case errors.As(err, &verrs):
		return &InvalidInputError{Msg: verrs.Error()}
	}
	return &InternalError{Step: step, Err: err}
}
