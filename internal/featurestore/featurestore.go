// Package featurestore is the online feature store /predict reads: the
// latest raw model features per user_id, materialized at ingest.
//
// Features are kept raw (numbers, booleans as true/false, strings, JSON
// null for missing) so that the model artifact's own feature spec does the
// encoding: the same record serves any model version. The embedded
// implementation is bbolt; the DynamoDB adapter lives in internal/dynamo.
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
	// PutBatch upserts records (newer snapshots replace older ones).
	PutBatch(ctx context.Context, recs []Record) error
	// Get returns one user's record, or ErrNotFound.
	Get(ctx context.Context, userID string) (Record, error)
}
