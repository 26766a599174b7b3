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
// Key schema: user_id (S, hash). Each item holds as_of (S) and features (M):
// numbers as N, booleans as BOOL, strings as S, missing values as NULL, so
// the console and ad-hoc queries read the same values /predict does.
//
// # Endpoints
//
// The adapters take a client built by the caller. NewClient (or
// dynamodb.NewFromConfig) on a config from config.LoadDefaultConfig honours
// AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB, which is how the
// integration tests reach MiniStack or LocalStack; NewClient also skips the
// response CRC32 check there, which emulators do not always get right.
package dynamo
