// Package ingest turns a month's input files into a stored month (see
// internal/dataset) in shards by user hash, so that no task ever holds
// more than one shard of customers, whatever the month's size.
//
// The phases are separate functions of a small JSON plan, so that a state
// machine can run each as a Map state over Lambdas, and Run drives them on
// one machine:
//
//	NewPlan       list the source, check its layout, count the users, choose K
//	Partition     one task per input file: stream it, stage each row for its shard
//	BuildShard    one task per shard: join and validate its rows as Load does, write its Parquet file,
//	              stage its drift summary and its candidates for the month's sample
//	Commit        gather every problem, store the month's drift summary and sample, write the
//	              manifest last, clean up
//
// Besides its part files a stored month has a drift summary (internal/drift's
// Summary of the whole month, the shards' summaries merged: the Drift step
// compares two months from their summaries alone) and, when it holds more
// customers than the plan's sample budget, its training sample
// (dataset.Sample of that budget, so that training and evaluation read one
// file instead of the month). Each build stages the customers of its shard
// whose SampleKey is below a bound chosen from the month's row count; the
// commit takes the budget's smallest among them, which are the month's when
// there are at least that many candidates (otherwise no sample is stored,
// and dataset.Sample reads the month). The manifest names both.
//
// # Sources
//
// A month comes as a directory (Dir) or under a prefix of the blob store
// (Blob, e.g. incoming/as_of=2024-01-31/). Each of the six tables is one
// CSV (users.csv, or users.csv.gz) or part files (users/part-*.csv[.gz]),
// read in name order. A blob source must hold a marker written last
// (_SUCCESS or _manifest.json), else the month is not complete yet
// (*NotReadyError). Side files (_…, .…) are ignored; a missing table, a
// table in two layouts and any other file are problems.
//
// # Validation
//
// Problems are found where the data is: a partition task checks its
// file's header and CSV syntax, a build checks its shard's rows and the
// users of its shard across tables (a user's rows all hash to one shard,
// so duplicates, users absent from a table and rows for unknown users are
// found per shard). Rows keep their file's line numbers through staging.
// Commit merges everything into one *snapshot.ValidationErrors in Load's
// order, with Load's messages and cap: for the lab's layout the error is
// exactly Load's.
//
// # Crashes and re-runs
//
// An attempt stages its work under staging/ingest/as_of=D/attempt=A/ and
// writes datasets/as_of=D/part-NNNNN.parquet; the month becomes visible
// only when Commit writes datasets/as_of=D/manifest.json, last. A task run
// again (a retry) writes the same bytes to the same keys or returns its
// staged result. Run again after a crash, an ingest redoes the month in a
// new attempt, adopting part files that hold the same bytes; a part file
// is never overwritten (other bytes at a shard's key make the attempt write
// part-NNNNN-A.parquet instead), so an attempt can never change a file
// another one is about to name. Its commit deletes the staging of older
// attempts of the month and the part files the manifest does not name.
// RemoveStale sweeps what attempts older than a day left. A month already
// stored is never overwritten: the same data is AlreadyIngested, other data
// a *ConflictError.
//
// # In a state machine
//
// Every phase is a function of the stored plan, found again by its as_of
// and attempt id, so each task's input is a few fields of JSON:
//
//	Plan       RemoveStale(ctx, store, now, StaleAge)
//	           p, err := NewPlan(ctx, Blob(store, "incoming/as_of=D/"), store, day, PlanOptions{Attempt: A})
//	           → {"as_of": D, "attempt": A, "k": p.K, "parts": len(p.Parts)}
//	Partition  Map over States.ArrayRange(0, parts-1, 1):
//	           p, _ := LoadPlan(ctx, store, D, A); src, _ := OpenSource(p.Source, store)
//	           Partition(ctx, src, store, p, i)
//	Build      Map over States.ArrayRange(0, k-1, 1):
//	           res, month, err := BuildShard(ctx, store, p, k)   (month: write online features, drift summary)
//	Commit     Commit(ctx, store, p, now)
//
// A task's results are staged, so the Map states' outputs can be dropped.
// An attempt id starting with NewAttempt's timestamp lets RemoveStale
// tell its age; a retried task must keep its attempt id.
package ingest
