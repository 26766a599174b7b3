package ingest

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// StagingPrefix holds every ingest attempt's intermediate objects. Nothing
// under it is ever read as data by anything but the attempt that wrote it.
const StagingPrefix = "staging/ingest/"

// An attempt's keys, under staging/ingest/as_of=D/attempt=A/:
//
//	plan.json                            the plan (NewPlan)
//	rows/k=KKKKK/t=T/p=PPPPP/c=CCCCC     rows of part P for shard K, chunk C (Partition)
//	parts/p=PPPPP.json                   part P's result, written after its chunks (Partition)
//	summaries/k=KKKKK.bin                shard K's drift summary (BuildShard, before its result)
//	samples/k=KKKKK.parquet              shard K's candidates for the month's sample (BuildShard, before its result)
//	shards/k=KKKKK.json                  shard K's result, written after its Parquet file (BuildShard)
//
// A listing of rows/k=KKKKK/ comes back in table, part, chunk order: the
// order of the shard's rows in the input.

// attemptDir is the staging directory of one attempt.
func attemptDir(asOf, attempt string) string {
	return StagingPrefix + "as_of=" + asOf + "/attempt=" + attempt + "/"
}

func planKey(asOf, attempt string) string { return attemptDir(asOf, attempt) + "plan.json" }

func rowsDir(asOf, attempt string, shard int) string {
	return fmt.Sprintf("%srows/k=%05d/", attemptDir(asOf, attempt), shard)
}

func chunkKey(asOf, attempt string, shard, table, part, chunk int) string {
	return fmt.Sprintf("%st=%d/p=%05d/c=%05d", rowsDir(asOf, attempt, shard), table, part, chunk)
}

// parseChunkKey returns the part of a chunk key listed under rowsDir.
func parseChunkKey(rest string) (table, part, chunk int, err error) {
	_, err = fmt.Sscanf(rest, "t=%d/p=%05d/c=%05d", &table, &part, &chunk)
	return table, part, chunk, err
}

func partResultKey(asOf, attempt string, part int) string {
	return fmt.Sprintf("%sparts/p=%05d.json", attemptDir(asOf, attempt), part)
}

func summaryStageKey(asOf, attempt string, shard int) string {
	return fmt.Sprintf("%ssummaries/k=%05d.bin", attemptDir(asOf, attempt), shard)
}

func sampleStageKey(asOf, attempt string, shard int) string {
	return fmt.Sprintf("%ssamples/k=%05d.parquet", attemptDir(asOf, attempt), shard)
}

func shardResultKey(asOf, attempt string, shard int) string {
	return fmt.Sprintf("%sshards/k=%05d.json", attemptDir(asOf, attempt), shard)
}

// attemptTimeLayout starts every attempt id, so that ids sort by start
// time and a leftover's age is read from its key alone.
const attemptTimeLayout = "20060102T150405Z"

// NewAttempt returns a fresh attempt id: the start time (UTC, to the
// second) and 8 random hex digits, e.g. 20240131T101500Z-3f9a1c2b.
func NewAttempt(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return now.UTC().Format(attemptTimeLayout) + "-" + hex.EncodeToString(b[:])
}

// attemptTime reads the start time of an attempt id; ids not made by
// NewAttempt (a caller's own, such as an execution name) have none.
func attemptTime(attempt string) (time.Time, bool) {
	stamp, _, _ := strings.Cut(attempt, "-")
	t, err := time.Parse(attemptTimeLayout, stamp)
	return t, err == nil
}

// checkAttempt accepts ids that make one key segment.
func checkAttempt(a string) error {
	if a == "" || len(a) > 128 || strings.ContainsAny(a, "/\\") || a[0] == '.' {
		return fmt.Errorf("ingest: attempt id %q: want 1-128 characters, no '/', not starting with '.'", a)
	}
	return nil
}

// AttemptFor is the attempt id of a run started at start and named name
// (an execution): NewAttempt's form, with 8 hex digits of the name's
// SHA-256 instead of random ones, so that every retry of the run's
// planning names the same attempt, and RemoveStale still tells its age.
func AttemptFor(start time.Time, name string) string {
	sum := sha256.Sum256([]byte(name))
	return start.UTC().Format(attemptTimeLayout) + "-" + hex.EncodeToString(sum[:4])
}
