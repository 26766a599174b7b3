// Package featurestore is the online feature store /predict reads: the
// latest raw model features per user_id, materialized at ingest.
//
// Features are kept raw (numbers, booleans as true/false, strings, JSON
// null for missing) so that the model artifact's own feature spec does the
// encoding: the same record serves any model version. The embedded
// implementation (bbolt) lives in internal/localstore, the DynamoDB adapter
// in internal/dynamo; both pass featurestoretest's contract suite.
package featurestore

import (
	"context"
	"errors"
)

// ErrNotFound means no features are stored for the user.
var ErrNotFound = errors.New("no online features for user")

// Record is one user's online features.
type Record struct {
	UserID   string         `json:"user_id"`
	AsOf     string         `json:"as_of"`    // snapshot the features come from, YYYY-MM-DD
	Features map[string]any `json:"features"` // feature name -> float64 | bool | string | nil
}

// Store reads and writes online features.
type Store interface {
	// PutBatch upserts records: each replaces the user's stored record as a
	// whole (features absent from it are gone), whatever its AsOf, so the
	// pipeline materializes snapshots in date order. Within one batch a
	// later record for the same user wins. A record with an empty UserID
	// fails the whole batch before anything is written; otherwise the batch
	// need not be atomic. Features must be JSON-encodable (no NaN or Inf:
	// store nil for missing).
	PutBatch(ctx context.Context, recs []Record) error
	// Get returns one user's record, or ErrNotFound.
	Get(ctx context.Context, userID string) (Record, error)
}
