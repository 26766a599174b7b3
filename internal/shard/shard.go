// Package shard assigns customers to the shards of a month: shard k of K
// holds every user whose user_id hashes to k, in every table of the month,
// so any per-customer work (joining the six files, validating a customer,
// writing or reading its online features, scoring it) stays inside one
// shard, and a process only ever needs one shard in memory.
//
// The assignment is a pure function of the user_id and K — never of row
// order, of the month or of process state — so ingest, the online feature
// store and batch scoring agree on where a user lives without talking to
// each other. It is independent of the train/validation split
// (snapshot.IsValidation), which uses another hash.
package shard

import (
	"hash/fnv"
	"math/bits"
)

// Of returns the shard (0 ≤ shard < k) of userID in a month of k shards; k
// must be at least 1.
//
// It is FNV-1a 64 of the user_id's bytes, mapped onto [0, k) by the high
// half of a 64×64-bit product (Lemire's multiply-shift, which uses every
// bit of the hash instead of the few low bits a modulo keeps).
func Of(userID string, k int) int {
	if k <= 1 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(userID))
	hi, _ := bits.Mul64(h.Sum64(), uint64(k))
	return int(hi)
}

// Count returns how many shards a month of rows customers needs so that no
// shard holds more than budget of them on average: ceil(rows/budget), at
// least 1.
func Count(rows, budget int) int {
	if budget <= 0 || rows <= budget {
		return 1
	}
	return (rows + budget - 1) / budget
}
