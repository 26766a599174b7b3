// Package crash is the crash-point harness: it runs churnops commands
// (ingest, run, run --require-approval, registry approve, reject, promote
// and rollback) as real CLI processes on a state directory, kills the
// process right after each durable step in turn (internal/crashpoint: a
// committed bbolt transaction, a blob linked into place or deleted), then
// checks what a kill must never break and re-runs the command:
//
//   - at most one Production version, and its artifact present and intact;
//   - no version lost (numbers 1..N, no artifact without its version) and
//     none orphaned (every promotable version has its artifact, matching the
//     SHA-256 the registry recorded);
//   - a version without its artifact is never promoted;
//   - approvals never lost: a pending approval stays answerable until the
//     resumed run has durably decided, and every pending decision has its
//     approval;
//   - the online store on the newest ingested month.
//
// The test files hold everything; `make test-crash` runs them alone and
// `make test` runs them with the unit tests. The online-store checks that
// the feature-store redesign makes possible (an ingest killed between
// chunks, two concurrent ingests) are listed in features_test.go.
package crash
