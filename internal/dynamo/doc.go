// Package dynamo holds the DynamoDB adapters: Registry implements
// registry.Registry and FeatureStore implements featurestore.Store, so the
// pipeline and /predict run unchanged on AWS (or on an emulator) and pass
// the same contract suites as the embedded stores.
//
// # Registry table (single-table design)
//
// Key schema: pk (S, hash) = model name, sk (S, range). Per model:
//
//	sk "V#0000000007"  one item per version: the registry.Version's JSON
//	                   fields as native attributes (stage, metrics map,
//	                   decision map, created_at/updated_at RFC 3339 strings)
//	sk "PRODUCTION"    the Production pointer: version (N), updated_at
//	sk "COUNTER"       the last version number handed out: last_version (N)
//
// Version sort keys are zero-padded so that a Query returns versions in
// numeric order. Register reads the counter and writes the next number and
// the version in one TransactWriteItems, conditioned on the counter still
// holding what it read and on the version not existing (retried on the new
// number when a concurrent Register won): numbers are never skipped or
// handed out twice. Promote is one TransactWriteItems that moves the pointer
// (conditioned on the Production version the caller evaluated, or on there
// being none), sets the candidate to Production (conditioned on its stage
// being None or Archived) and archives the old Production (conditioned on
// it being Production): two concurrent runs can never leave two Production
// versions or lose one. A cancelled transaction maps onto
// registry.ErrConflict (or registry.ErrNotFound when the version does not
// exist). The SDK may resend a write whose first attempt committed but
// whose answer was lost; its conditions then fail, and Register, Promote
// and Decide recognise their own write (by its timestamps) as success.
//
// # Features table
//
// Key schema: pk (S, hash), sk (S, range), like the registry's. Three kinds
// of items, one version of online features per as_of:
//
//	pk "F#2024-02-29#417"  sk user_id   a record: as_of (S), features (M: numbers N,
//	                                    booleans BOOL, strings S, missing NULL)
//	pk "VERSION"           sk as_of     a version: shards (N), done (NS, the shards
//	                                    written), buckets (NS), records_<k> (N)
//	pk "CURRENT"           sk "CURRENT" the served version: as_of, shards, updated_at
//
// A record's partition is its version and bucket shard.Of(user_id, 1024)
// (Buckets), not its shard k of K: a month's writes and reads spread over
// 1024 partition keys whatever K is, and a reader needs only the served
// as_of and the user_id, so /predict reads with GetItem alone (its IAM
// policy allows nothing else on the table).
//
// Write of shard k records the shard count and the shard's buckets on the
// version item (conditioned on the count being unset or the same), writes
// the records with BatchWriteItem (BatchSize items a request, batchWorkers
// requests in flight, unprocessed items resent with capped, jittered
// backoff, giving up after maxBatchAttempts rounds or when the context
// ends), then adds k to done. Every step is idempotent, so a retried or
// concurrent shard task is harmless. Publish is one TransactWriteItems: a
// ConditionCheck that the version item has shards = K and size(done) = K,
// and a Put of CURRENT conditioned on it being absent or older; a cancelled
// transaction is re-read and reported (no switch), so the newest month
// wins whatever the order of concurrent publishes.
//
// A reader trusts the CURRENT it read for its pointer TTL
// (DefaultPointerTTL, 5 s): a publish reaches a warm /predict within it,
// and meanwhile it serves the previous version, whole, since Publish never
// deletes. Versions older than the served one's predecessor are deleted by
// Prune (which ingest calls after a switch) and Remove (`churnops dataset
// rm`): the version item loses done (it can no longer be published), its
// records are deleted bucket by bucket (Query of each recorded bucket,
// BatchWriteItem deletes), then the item itself. Explicit deletes, not
// TTL: a TTL set at write time would expire a served month that no newer
// month replaced in time.
//
// # Endpoints
//
// The adapters take a client built by the caller. NewClient (or
// dynamodb.NewFromConfig) on a config from config.LoadDefaultConfig honours
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB, which is how the
// integration tests reach MiniStack or LocalStack; NewClient also skips the
// response CRC32 check there, which emulators do not always get right.
package dynamo
