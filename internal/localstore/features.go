package localstore

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/churnops/churnops/internal/featurestore"
)

// bucketFeatures holds features.db's records: user_id -> Record JSON.
var bucketFeatures = []byte("features")

// putChunk bounds the records written per transaction, so that a very
// large ingest neither holds every dirty page in memory at once nor keeps
// other processes off the lock for the whole batch.
const putChunk = 20_000

// Features is the embedded featurestore.Store: one JSON record per user in
// features.db. JSON keeps the raw types (number, bool, string, null) that
// the model's feature spec encodes.
type Features struct {
	file *boltFile
}

var _ featurestore.Store = (*Features)(nil)

type encodedRecord struct {
	key, value []byte
}

// PutBatch upserts recs. Every record is checked and encoded before
// anything is written; records are then written in user-ID order (what a
// B+tree inserts fastest), a later duplicate after an earlier one.
func (f *Features) PutBatch(ctx context.Context, recs []featurestore.Record) error {
	enc := make([]encodedRecord, len(recs))
	for i, r := range recs {
		if r.UserID == "" {
			return fmt.Errorf("put features: record %d has an empty user_id", i)
		}
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("put features for %s: %w", r.UserID, err)
		}
		enc[i] = encodedRecord{key: []byte(r.UserID), value: raw}
	}
	slices.SortStableFunc(enc, func(a, b encodedRecord) int { return cmp.Compare(string(a.key), string(b.key)) })
	for chunk := range slices.Chunk(enc, putChunk) {
		err := f.file.update(ctx, func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(bucketFeatures)
			if err != nil {
				return err
			}
			for _, e := range chunk {
				if err := b.Put(e.key, e.value); err != nil {
					return fmt.Errorf("%s: %w", e.key, err)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("put features (%d records): %w", len(recs), err)
		}
	}
	return nil
}

// Get returns one user's record, or featurestore.ErrNotFound.
func (f *Features) Get(ctx context.Context, userID string) (featurestore.Record, error) {
	var r featurestore.Record
	err := f.file.view(ctx, func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketFeatures)
		if b == nil || userID == "" {
			return featurestore.ErrNotFound
		}
		raw := b.Get([]byte(userID))
		if raw == nil {
			return featurestore.ErrNotFound
		}
		return json.Unmarshal(raw, &r)
	})
	if err != nil {
		return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
	}
	return r, nil
}

// All returns every stored record, in user_id order, in one read
// transaction: a server warms its cache with it instead of paying one file
// lock per user on its first requests.
func (f *Features) All(ctx context.Context) ([]featurestore.Record, error) {
	out, err := readAll[featurestore.Record](ctx, f.file, bucketFeatures)
	if err != nil {
		return nil, fmt.Errorf("read all features: %w", err)
	}
	return out, nil
}
