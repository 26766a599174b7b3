// Package localstore is the embedded default: every store the pipeline
// needs, kept in one local state directory (e.g. .churnops/), so the same
// pipeline code that runs on AWS runs on a laptop with no cloud and no
// server.
//
// Layout of the state directory:
//
//	blobs/        blob.Store: one file per key (blobs/models/churn/v1/model.json)
//	blobs/.tmp/   files being written; a Put links a complete file into place
//	registry.db   registry.Registry and registry.Approvals (bbolt)
//	features/     featurestore.Store: per as_of and shard an immutable file
//	              (features/as_of=2024-02-29/part-00000-of-00001.kv), and
//	              CURRENT naming the served version (see Features)
//
// A features.db left by an earlier churnops (the online features in bbolt,
// one record per user whatever its month) is never opened: reads explain
// that the newest month must be ingested again, and the first publish
// deletes it.
//
// # Several processes
//
// The online features need no database lock: readers take none, writers
// of a shard rename a complete file into place, and publishers switch
// CURRENT under an flock of features/LOCK (see Features).
//
// bbolt allows one process at a time per database file (an exclusive
// flock). By default a store opens its file, takes the lock, runs one
// transaction and closes the file again, so several churnops processes on
// one state directory (a `serve` and a `run`, say) take turns per
// operation: they serialize on the lock and never see or write a
// half-finished transaction. An operation waits for the lock up to
// Options.LockTimeout (and no longer than its context's deadline), then
// fails with ErrLocked. Concurrent operations within one process share one
// open handle, and bbolt runs them as one writer and many readers.
//
// Options.HoldLock instead keeps the files open and locked from Open to
// Close: faster per operation (no open, mmap and close each time), for
// one-process runs such as the demo and benchmarks; other processes then
// wait, and fail with ErrLocked, until Close.
//
// Open a state directory once per process: the lock is per open file, so a
// second Open in the same process is treated like another process (it
// waits), and some platforms (Solaris, AIX: fcntl locks) do not lock
// between two opens of one process at all.
//
// # Damage
//
// Open never re-initialises an existing state: an empty database file (bbolt
// would start a new, empty database in it) or a registry.db missing beside
// the data it describes is ErrDamaged, as is a file bbolt cannot read (it
// panics on a garbled page; the panic is recovered, the file's lock
// released, and later operations fail at once with the same error until
// the file is replaced). Options.MustExist refuses a directory that holds
// no state at all (ErrNoState) instead of starting one.
//
// Blob files need no lock: a Put writes a temporary file, fsyncs it and
// hard-links it to its key, which fails if the key exists, so a key is never
// overwritten and never seen half-written, whatever the processes do.
package localstore
