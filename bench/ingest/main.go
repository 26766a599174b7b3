// Command ingest drives the sharded ingest's phases on a state directory,
// one phase (or one task) per process, so that each task's wall time and
// peak RSS can be measured on its own (`/usr/bin/time -f %M`), as a Lambda
// would run it:
//
//	go run ./bench/ingest run       -src DIR -state DIR -as-of D [-budget N] [-shards K] [-cpuprofile F]
//	go run ./bench/ingest plan      -src DIR -state DIR -as-of D [-budget N] [-shards K]   (prints the attempt)
//	go run ./bench/ingest partition -state DIR -as-of D -attempt A -part I
//	go run ./bench/ingest build     -state DIR -as-of D -attempt A -shard K
//	go run ./bench/ingest commit    -state DIR -as-of D -attempt A
//	go run ./bench/ingest legacy    -src DIR -state DIR -as-of D    (the peer: snapshot.Load + one Parquet file, as before sharding)
//	go run ./bench/ingest sample    -state DIR -as-of D [-rows N]   (dataset.Sample of a stored month)
//
// -src is a month directory, or blob:PREFIX for a month under the state's
// blob store (incoming/as_of=D/). Every command prints one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/snapshot"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: ingest run|plan|partition|build|commit [flags]")
		os.Exit(2)
	}
	cmd := os.Args[1]
	fs := flag.NewFlagSet(cmd, flag.ExitOnError)
	src := fs.String("src", "", "month directory, or blob:PREFIX in the state's blob store")
	state := fs.String("state", "", "state directory (the embedded stores)")
	asOf := fs.String("as-of", "", "YYYY-MM-DD")
	budget := fs.Int("budget", 0, "customers per shard (0: the default)")
	shards := fs.Int("shards", 0, "force K")
	attempt := fs.String("attempt", "", "attempt id (from plan)")
	part := fs.Int("part", 0, "part index")
	shard := fs.Int("shard", 0, "shard index")
	workers := fs.Int("concurrency", 0, "run: tasks at once (0: GOMAXPROCS)")
	sampleRows := fs.Int("rows", 0, "sample: row budget (0: dataset.DefaultSampleRows)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile")
	_ = fs.Parse(os.Args[2:])
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		check(err)
		check(pprof.StartCPUProfile(f))
		defer pprof.StopCPUProfile()
	}
	ctx := context.Background()
	st, err := localstore.Open(*state, localstore.Options{})
	check(err)
	defer st.Close()
	day, err := snapshot.ParseAsOf(*asOf)
	check(err)
	start := time.Now()
	out := map[string]any{"cmd": cmd}
	defer func() {
		out["seconds"] = time.Since(start).Seconds()
		b, _ := json.Marshal(out)
		fmt.Println(string(b))
	}()
	popts := ingest.PlanOptions{RowBudget: *budget, Shards: *shards, Attempt: *attempt}
	switch cmd {
	case "run":
		res, err := ingest.Run(ctx, source(*src, st.Blobs), st.Blobs, day, ingest.Options{PlanOptions: popts, Concurrency: *workers})
		check(err)
		out["k"], out["rows"], out["parts"] = res.Plan.K, res.Commit.Manifest.Rows, len(res.Plan.Parts)
		out["already"] = res.Commit.AlreadyIngested
	case "plan":
		p, err := ingest.NewPlan(ctx, source(*src, st.Blobs), st.Blobs, day, popts)
		check(err)
		out["attempt"], out["k"], out["parts"], out["rows"] = p.Attempt, p.K, len(p.Parts), p.Rows
	case "partition", "build", "commit":
		p, err := ingest.LoadPlan(ctx, st.Blobs, *asOf, *attempt)
		check(err)
		switch cmd {
		case "partition":
			s, err := ingest.OpenSource(p.Source, st.Blobs)
			check(err)
			r, err := ingest.Partition(ctx, s, st.Blobs, p, *part)
			check(err)
			out["file"], out["rows"], out["chunks"] = r.File, r.Rows, r.Chunks
		case "build":
			r, _, err := ingest.BuildShard(ctx, st.Blobs, p, *shard)
			check(err)
			out["rows"], out["bytes"], out["problems"] = r.Rows, r.Bytes, len(r.Problems)
		case "commit":
			r, err := ingest.Commit(ctx, st.Blobs, p, time.Now())
			check(err)
			out["rows"], out["cleaned"] = r.Manifest.Rows, r.Cleaned
		}
	case "sample":
		m, err := dataset.Open(ctx, st.Blobs, *asOf)
		check(err)
		s, err := dataset.Sample(ctx, st.Blobs, m, *sampleRows)
		check(err)
		out["rows"], out["of"], out["k"] = len(s.Customers), m.Rows, m.K
	case "legacy":
		// What `churnops ingest` did before sharding, less the online
		// features: the whole month in one process.
		m, err := snapshot.Load(*src, day)
		check(err)
		data, err := snapshot.MarshalParquet(m)
		check(err)
		check(st.Blobs.Put(ctx, "datasets/as_of="+*asOf+"/snapshot.parquet", data))
		out["rows"], out["bytes"] = len(m.Customers), len(data)
	default:
		fmt.Fprintln(os.Stderr, "unknown command", cmd)
		os.Exit(2)
	}
}

func source(s string, store blob.Store) ingest.Source {
	if prefix, ok := strings.CutPrefix(s, "blob:"); ok {
		return ingest.Blob(store, prefix)
	}
	return ingest.Dir(s)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
