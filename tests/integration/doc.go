// Package integration is the emulator integration suite (build tag
// integration; `make test-integration` runs it, and so does `make test`).
//
// It deploys template.yaml itself — `sam build` (the Makefile's
// build-<LogicalId> targets, for the host architecture) and `sam deploy`
// with the pinned SAM CLI of scripts/sam.sh — against the endpoint in
// AWS_ENDPOINT_URL: MiniStack (scripts/ministack.sh) on a laptop or in CI,
// any LocalStack-compatible emulator elsewhere. The real bootstrap binaries
// then run the real state machine definition.
//
// The suite generates four months (internal/synth: a reference month, a
// quiet month, a feature shift, a label shift), ingests them into the
// stack's bucket and tables exactly as `churnops ingest` does, starts
// executions with the Step Functions API and checks every branch the
// months exercise — bootstrap, no drift, skipped, promoted, approval
// granted and refused, a missing snapshot — against the local executor
// (pipeline.LocalRunner on the embedded store) running the same definition
// on the same data: identical definitions must decide identically. It then
// checks the registry items in DynamoDB, the model artifacts and drift
// reports in S3, and POST /predict through API Gateway.
//
// The API is called as its callers would: SigV4-signed with the SDK's
// signer (and once with curl --aws-sigv4, as the README shows), unsigned
// to see API Gateway refuse every route but /health, and, on a second
// deployment with ApiAuth=API_KEY, with and without the stack's API key.
// scripts/ministack.sh starts MiniStack with AUTH=true: it then verifies
// signatures and evaluates IAM policies, both the callers' (an IAM user
// granted POST /predict only is refused /predict/details) and the
// functions' own roles (a grant missing from template.yaml fails the
// pipeline). Over its plain HTTP the template's TLS-only bucket policy
// would deny every function call, so the suite checks it was deployed and
// then removes it from the emulator's bucket.
//
// Without AWS_ENDPOINT_URL every test skips: the suite creates and deletes
// stacks, buckets and tables and must never run against a real account by
// accident. Every run uses fresh, uniquely named resources and deletes them
// at the end (set CHURNOPS_IT_KEEP=1 to keep them for a post-mortem).
package integration
