package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"

	"go.etcd.io/bbolt"

	"github.com/churnops/churnops/internal/featurestore"
)

// boltStore is the online feature store churnops had before versions (one
// JSON record per user in features.db, upserted in transactions of 20,000
// records), kept here as the peer the new store is measured against. It
// is the old code's write and read paths with the database held open (the
// old HoldLock mode: its fastest).
type boltStore struct{ db *bbolt.DB }

var boltBucket = []byte("features")

// oldPutChunk is the old code's records per transaction.
const oldPutChunk = 20_000

func openBolt(path string) (*boltStore, error) {
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		return nil, err
	}
	return &boltStore{db: db}, nil
}

func (s *boltStore) close() error { return s.db.Close() }

type encodedRecord struct{ key, value []byte }

// putBatch is the old Features.PutBatch.
func (s *boltStore) putBatch(recs []featurestore.Record) error {
	enc := make([]encodedRecord, len(recs))
	for i, r := range recs {
		raw, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("put features for %s: %w", r.UserID, err)
		}
		enc[i] = encodedRecord{key: []byte(r.UserID), value: raw}
	}
	slices.SortStableFunc(enc, func(a, b encodedRecord) int { return cmp.Compare(string(a.key), string(b.key)) })
	for chunk := range slices.Chunk(enc, oldPutChunk) {
		err := s.db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(boltBucket)
			if err != nil {
				return err
			}
			for _, e := range chunk {
				if err := b.Put(e.key, e.value); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// get is the old Features.Get.
func (s *boltStore) get(userID string) (featurestore.Record, error) {
	var r featurestore.Record
	err := s.db.View(func(tx *bbolt.Tx) error {
		raw := tx.Bucket(boltBucket).Get([]byte(userID))
		if raw == nil {
			return featurestore.ErrNotFound
		}
		return json.Unmarshal(raw, &r)
	})
	return r, err
}
