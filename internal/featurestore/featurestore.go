// Package featurestore is the online feature store /predict reads: the raw
// model features of every customer of one month, versioned per as_of and
// switched atomically.
//
// # Versions
//
// Each ingested month is written as its own version, keyed by its as_of
// date, in K shards: shard k holds the users u with shard.Of(u, K) == k, so
// K tasks (goroutines, processes, Lambdas) can write a month of millions of
// customers side by side, each holding only its shard in memory. A version
// is invisible until Publish makes it the served one, which it does in one
// atomic step and only when every shard is written: /predict sees a whole
// month or the previous whole month, never a mix, whatever crashes on the
// way. A version holds exactly its month's customers, so a customer absent
// from the served month is unknown (ErrNotFound) even if an older month
// had them.
//
// Publish never rolls back: it serves a version only if no newer one is
// served (a backfill of an older month is written but not served), and two
// concurrent publishes compare-and-switch, so the newest wins whatever the
// order. The served version's predecessor is kept, so Remove of the served
// month falls back to it; Prune deletes what is older.
//
// Features are kept raw (float64 numbers, booleans, strings, nil for
// missing) so that the model artifact's own feature spec does the encoding:
// the same record serves any model version.
//
// The embedded implementation lives in internal/localstore, the DynamoDB
// adapter in internal/dynamo and an in-memory one in
// internal/serve/servetest; all pass featurestoretest's contract suite.
package featurestore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/churnops/churnops/internal/shard"
)

// Sentinel errors; implementations wrap them with context.
var (
	// ErrNotFound means the served version has no record for the user.
	ErrNotFound = errors.New("no online features for user")
	// ErrNoVersion means no version is served yet (nothing published, or
	// the last one was removed with force).
	ErrNoVersion = errors.New("no online features are published")
	// ErrIncomplete means Publish was asked to serve a version some of
	// whose shards are not written.
	ErrIncomplete = errors.New("online feature version is incomplete")
	// ErrLastVersion means Remove was asked to remove the served version
	// when no other complete version remains to serve instead.
	ErrLastVersion = errors.New("no other complete online feature version to serve")
	// ErrInvalid means a Write's arguments or records are malformed;
	// nothing was written.
	ErrInvalid = errors.New("invalid online features")
)

// Record is one user's online features.
type Record struct {
	UserID   string         `json:"user_id"`
	AsOf     string         `json:"as_of"`    // the version (snapshot) the features come from, YYYY-MM-DD
	Features map[string]any `json:"features"` // feature name -> float64 | bool | string | nil
}

// Version describes one stored version.
type Version struct {
	AsOf     string `json:"as_of"`
	Shards   int    `json:"shards"`   // K the version is written with
	Written  int    `json:"written"`  // how many of its shards are written
	Records  int    `json:"records"`  // records in the written shards
	Complete bool   `json:"complete"` // every shard is written: Publish may serve it
	Served   bool   `json:"served"`
}

// Store is the whole online feature store: the contract every
// implementation passes. Its users each ask for the part they need (serve
// only reads, the pipeline writes and publishes).
type Store interface {
	// Write stores shard `shard` of `shards` (0 ≤ shard < shards) of the
	// version asOf (YYYY-MM-DD): recs must all have shard.Of(UserID,
	// shards) == shard and an AsOf that is empty or asOf. Writing a shard
	// again replaces it (a retry must carry the same records); shards of
	// one version may be written concurrently, from several processes. A
	// later record for the same user within recs wins. Malformed arguments
	// or records fail with ErrInvalid before anything is written. Feature
	// values must be float64 (finite), bool, string or nil.
	Write(ctx context.Context, asOf string, shard, shards int, recs []Record) error
	// Publish serves version asOf unless a newer version is served. It
	// returns the version served afterwards and whether this call switched
	// to asOf. The switch is atomic and checked against the version served
	// at that instant, so of concurrent publishes the newest wins. A
	// version older than the served one is left unserved (switched false,
	// no error) whether complete or not; otherwise an incomplete version
	// fails with ErrIncomplete and nothing changes.
	Publish(ctx context.Context, asOf string) (current string, switched bool, err error)
	// Current returns the served version's as_of, or ErrNoVersion. A nil
	// error means the served version is readable: Get can answer.
	Current(ctx context.Context) (string, error)
	// Get returns the user's record in the served version: ErrNotFound if
	// the version has no record for the user, ErrNoVersion if none is
	// served.
	Get(ctx context.Context, userID string) (Record, error)
	// Versions lists the stored versions, oldest first.
	Versions(ctx context.Context) ([]Version, error)
	// Remove deletes version asOf. If it is the served version, the newest
	// other complete version is served instead, atomically, before anything
	// is deleted; if there is none, Remove fails with ErrLastVersion, or
	// with force stops serving anything. Removing a version that does not
	// exist succeeds. It returns the version served afterwards ("" for
	// none).
	Remove(ctx context.Context, asOf string, force bool) (current string, err error)
	// Prune deletes the versions older than the served version's
	// predecessor (the newest complete version older than it, which
	// Remove falls back to), and returns their as_of dates. Versions newer
	// than the served one are never pruned: they may be being written.
	Prune(ctx context.Context) (removed []string, err error)
}

// DateLayout is the as_of layout: a version is named by its date.
const DateLayout = "2006-01-02"

// CheckAsOf checks that asOf is a date in DateLayout.
func CheckAsOf(asOf string) error {
	if _, err := time.Parse(DateLayout, asOf); err != nil {
		return fmt.Errorf("as_of %q is not a date (YYYY-MM-DD): %w", asOf, ErrInvalid)
	}
	return nil
}

// CheckWrite validates Write's arguments and records as the contract
// requires; implementations call it first so that every one refuses the
// same writes.
func CheckWrite(asOf string, sh, shards int, recs []Record) error {
	if err := CheckAsOf(asOf); err != nil {
		return err
	}
	if shards < 1 || sh < 0 || sh >= shards {
		return fmt.Errorf("shard %d of %d: want 0 <= shard < shards: %w", sh, shards, ErrInvalid)
	}
	for i := range recs {
		r := &recs[i]
		switch {
		case r.UserID == "":
			return fmt.Errorf("record %d has an empty user_id: %w", i, ErrInvalid)
		case r.AsOf != "" && r.AsOf != asOf:
			return fmt.Errorf("record of %s has as_of %s, not the version's %s: %w", r.UserID, r.AsOf, asOf, ErrInvalid)
		case shards > 1 && shard.Of(r.UserID, shards) != sh:
			return fmt.Errorf("user %s belongs to shard %d of %d, not %d: %w", r.UserID, shard.Of(r.UserID, shards), shards, sh, ErrInvalid)
		}
		for name, v := range r.Features {
			if err := checkValue(v); err != nil {
				return fmt.Errorf("user %s: feature %s: %w: %w", r.UserID, name, err, ErrInvalid)
			}
		}
	}
	return nil
}

func checkValue(v any) error {
	switch x := v.(type) {
	case nil, bool, string:
		return nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%v is not a finite number (store nil for missing)", x)
		}
		return nil
	}
	return fmt.Errorf("value %#v of type %T (want float64, bool, string or nil)", v, v)
}

// Dedupe returns recs with one record per user, the last one given, in
// their order of first appearance. It returns recs itself when there are
// no duplicates.
func Dedupe(recs []Record) []Record {
	last := make(map[string]int, len(recs))
	for i := range recs {
		last[recs[i].UserID] = i
	}
	if len(last) == len(recs) {
		return recs
	}
	out := make([]Record, 0, len(last))
	for i := range recs {
		j := last[recs[i].UserID]
		if j < 0 {
			continue
		}
		out = append(out, recs[j])
		last[recs[i].UserID] = -1
	}
	return out
}
