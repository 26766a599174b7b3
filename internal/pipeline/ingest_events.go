package pipeline

import "time"

// Incoming names a month that arrived to be ingested: the marker object
// of an S3 "Object Created" event (bucket and key, as the EventBridge rule
// passes them), the month's key prefix in the bucket, or — the CLI only —
// a local directory.
type Incoming struct {
	// Bucket and Key are the marker's (incoming/as_of=D/_SUCCESS); the
	// month is the marker's "directory". ETag, when given, makes a
	// second delivery of the same event a duplicate.
	Bucket string `json:"bucket,omitempty"`
	Key    string `json:"key,omitempty"`
	ETag   string `json:"etag,omitempty"`
	// Prefix is the month's key prefix (incoming/as_of=D/).
	Prefix string `json:"prefix,omitempty"`
	// Dir is a month directory on this machine (Pipeline.LocalDirs).
	Dir string `json:"dir,omitempty"`
	// AsOf is the month's date; empty, it is read from the as_of=D
	// segment of Key or Prefix.
	AsOf string `json:"as_of,omitempty"`
}

// Ingest actions: the phases of a sharded ingest (internal/ingest), each
// a Task of the state machine (plan, commit, prune) or an item of a Map
// state (partition: one per input file; build: one per shard).
const (
	IngestActionPlan      = "plan"
	IngestActionPartition = "partition"
	IngestActionBuild     = "build"
	IngestActionCommit    = "commit"
	IngestActionPrune     = "prune"
)

// IngestEvent is the Ingest function's event: one action of a sharded
// ingest. Every action after the plan finds the attempt's plan by as_of
// and attempt, so a Map item is three small fields.
type IngestEvent struct {
	Action string `json:"action"`

	// plan
	Incoming *Incoming `json:"incoming,omitempty"`
	// RowBudget is the training sample the commit stores for a month of
	// more customers (0: dataset.DefaultSampleRows): the execution's
	// row_budget, so that Train and Evaluate read one file.
	RowBudget int `json:"row_budget,omitempty"`
	// ShardRows is the customers per shard K is chosen for (0:
	// ingest.DefaultRowBudget).
	ShardRows int `json:"shard_rows,omitempty"`
	// Execution and Started identify the execution (its id and start
	// time): the attempt is named after them, so that a retried plan finds
	// its own attempt. Empty, the plan starts a new attempt.
	Execution string    `json:"execution,omitempty"`
	Started   time.Time `json:"started,omitzero"`

	// partition, build, commit
	AsOf    string `json:"as_of,omitempty"`
	Attempt string `json:"attempt,omitempty"`
	// Index is the part (partition) or the shard (build).
	Index int `json:"index"`
}

// IngestPlanOutput is the plan: the attempt, and the Map states' items.
type IngestPlanOutput struct {
	AsOf    string `json:"as_of"`
	Attempt string `json:"attempt"`
	Source  string `json:"source"`
	K       int    `json:"k"`
	// Rows is the users counted in the input (an upper bound), -1 when
	// not counted.
	Rows int `json:"rows"`
	// Parts and Shards are 0…P-1 and 0…K-1: the items of the partition
	// and build Map states.
	Parts  []int `json:"parts"`
	Shards []int `json:"shards"`
	// Duplicate names the execution already ingesting this marker (the
	// same S3 event delivered twice); "" when this one ingests it.
	Duplicate string `json:"duplicate"`
}

// IngestPartOutput is what one partition task read.
type IngestPartOutput struct {
	Part int    `json:"part"`
	File string `json:"file"`
	Rows int    `json:"rows"`
}

// IngestShardOutput is what one build task did.
type IngestShardOutput struct {
	Shard int `json:"shard"`
	Rows  int `json:"rows"`
	// OnlineFeatures counts the records written to the month's online
	// features (0 for a backfill, or a shard with problems).
	OnlineFeatures int `json:"online_features"`
}

// IngestOutput is what an ingest stored (the commit's output, and
// `churnops ingest`'s).
type IngestOutput struct {
	AsOf       string `json:"as_of"`
	Rows       int    `json:"rows"`
	Churners   int    `json:"churners"`
	Shards     int    `json:"shards"`
	DatasetKey string `json:"dataset_key"` // the month's manifest
	// Fingerprint identifies the month's data (dataset.MonthFingerprint).
	Fingerprint     string `json:"fingerprint"`
	AlreadyIngested bool   `json:"already_ingested"` // the same data was stored before; nothing new written
	OnlineFeatures  int    `json:"online_features"`  // records of the month's online features
	// OnlineNewerAsOf is set when the online store was left alone because
	// it serves a newer month (this one is a backfill): that month's as_of.
	OnlineNewerAsOf string `json:"online_newer_as_of,omitempty"`
	// Published means this ingest switched the online store to the month:
	// the Prune action may then delete older versions.
	Published bool `json:"published"`
	// Attempt is the ingest attempt that committed.
	Attempt string `json:"attempt"`
}

// IngestPruneOutput is what pruning the online store removed.
type IngestPruneOutput struct {
	Removed []string `json:"removed"`
}
