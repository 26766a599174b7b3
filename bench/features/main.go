// Command features measures the online feature store on generated months:
// writing a month (K shards, then publishing it) and reading the served
// version (Get latency), side by side in one run with the bbolt store
// churnops had before versions (one JSON record per user, upserted in
// transactions of 20,000). Times are medians of -reps runs; the peak RSS
// of a phase is measured over what the process held before it, by
// resetting the kernel's high-water mark (/proc/self/clear_refs, Linux).
//
//	go run ./cmd/churnops gen --out /tmp/features/m --months 2 --users 1000000
//	go run ./bench/features -data /tmp/features/m -work /tmp/features/work
//
// The months' records are loaded first and held by the benchmark (what an
// ingest task holds for its shard anyway); the RSS figures are what
// writing or reading adds to that.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"log"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.etcd.io/bbolt"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

func main() {
	data := flag.String("data", "", "directory holding month_000 and month_001 (churnops gen --months 2)")
	work := flag.String("work", "", "scratch directory for the stores (removed at the end)")
	shards := flag.Int("shards", 2, "shards the versioned store writes a month in")
	reps := flag.Int("reps", 3, "runs of each write, for medians")
	gets := flag.Int("gets", 200_000, "Gets per latency round (3 rounds)")
	flag.Parse()
	if *data == "" || *work == "" {
		log.Fatal("-data and -work are required")
	}
	defer os.RemoveAll(*work)
	var months [2][]featurestore.Record
	var asOfs [2]string
	for i := range months {
		months[i], asOfs[i] = load(filepath.Join(*data, synth.MonthDir(i)), i)
	}
	fmt.Printf("months: %d and %d customers; %d shards for the versioned store; %d reps; Go %s, GOMAXPROCS %d\n\n",
		len(months[0]), len(months[1]), *shards, *reps, runtime.Version(), runtime.GOMAXPROCS(0))

	type result struct{ times, peaks []float64 }
	results := map[string]*result{}
	measure := func(name string, fn func() error) {
		r := results[name]
		if r == nil {
			r = &result{}
			results[name] = r
		}
		d, peak, err := phase(fn)
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		r.times = append(r.times, d.Seconds())
		r.peaks = append(r.peaks, peak)
	}
	ctx := context.Background()
	var kv *localstore.State
	var bolt *boltStore
	var kvBytes, boltBytes int64
	for rep := range *reps {
		dir := filepath.Join(*work, fmt.Sprintf("kv-%d", rep))
		st, err := localstore.Open(dir, localstore.Options{})
		if err != nil {
			log.Fatal(err)
		}
		parts := [2][][]featurestore.Record{split(months[0], *shards), split(months[1], *shards)}
		for i, name := range []string{"first month", "next month"} {
			measure(fmt.Sprintf("%-16s| %s", "versioned files", name), func() error { return writeVersion(ctx, st.Features, asOfs[i], parts[i]) })
		}
		path := filepath.Join(*work, fmt.Sprintf("bolt-%d.db", rep))
		b, err := openBolt(path)
		if err != nil {
			log.Fatal(err)
		}
		for i, name := range []string{"first month", "next month"} {
			measure(fmt.Sprintf("%-16s| %s", "bbolt PutBatch", name), func() error { return b.putBatch(months[i]) })
		}
		if rep < *reps-1 {
			st.Close()
			b.close()
			os.RemoveAll(dir)
			os.Remove(path)
			continue
		}
		kv, bolt = st, b
		kvBytes = duBytes(filepath.Join(dir, "features"))
		info, _ := os.Stat(path)
		boltBytes = info.Size()
	}
	fmt.Printf("%-40s %12s %14s\n", "write (median of runs)", "time", "peak RSS +")
	names := make([]string, 0, len(results))
	for n := range results {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		r := results[n]
		fmt.Printf("%-40s %10.2f s %11.0f MB\n", n, median(r.times), median(r.peaks))
	}
	fmt.Printf("\non disk: versioned files %.0f MB (two months, the next one served), bbolt %.0f MB (one record per user)\n\n",
		float64(kvBytes)/1e6, float64(boltBytes)/1e6)

	users := make([]string, len(months[1]))
	for i, r := range months[1] {
		users[i] = r.UserID
	}
	fmt.Printf("%-40s %9s %9s %9s %12s\n", fmt.Sprintf("Get, %d random users x 3 rounds", *gets), "p50", "p99", "p99.9", "peak RSS +")
	latency("versioned files (stat + pread)", users, *gets, func(u string) error {
		_, err := kv.Features.Get(ctx, u)
		return err
	})
	latency("bbolt, held open", users, *gets, func(u string) error {
		_, err := bolt.get(u)
		return err
	})
	bolt.close()
	path := filepath.Join(*work, fmt.Sprintf("bolt-%d.db", *reps-1))
	latency("bbolt, opened per read (old serve)", users, *gets/20, func(u string) error {
		db, err := bbolt.Open(path, 0o600, nil)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = (&boltStore{db: db}).get(u)
		return err
	})
	kv.Close()
}

// load reads a month and returns its online feature records.
func load(dir string, i int) ([]featurestore.Record, string) {
	m, err := snapshot.Load(dir, synth.AsOf(i))
	if err != nil {
		log.Fatal(err)
	}
	asOf := m.AsOf.Format(snapshot.DateLayout)
	recs := make([]featurestore.Record, len(m.Customers))
	for j := range m.Customers {
		c := &m.Customers[j]
		recs[j] = featurestore.Record{UserID: c.UserID, AsOf: asOf, Features: c.RawFeatures()}
	}
	return recs, asOf
}

func split(recs []featurestore.Record, k int) [][]featurestore.Record {
	parts := make([][]featurestore.Record, k)
	for _, r := range recs {
		s := shard.Of(r.UserID, k)
		parts[s] = append(parts[s], r)
	}
	return parts
}

// writeVersion is what an ingest of K shards does: write each, publish,
// prune.
func writeVersion(ctx context.Context, s featurestore.Store, asOf string, parts [][]featurestore.Record) error {
	for k, p := range parts {
		if err := s.Write(ctx, asOf, k, len(parts), p); err != nil {
			return err
		}
	}
	if _, _, err := s.Publish(ctx, asOf); err != nil {
		return err
	}
	_, err := s.Prune(ctx)
	return err
}

// phase runs fn and returns its time and the RSS it added at its peak, in
// MB, over what the process held before.
func phase(fn func() error) (time.Duration, float64, error) {
	runtime.GC()
	debug.FreeOSMemory()
	base := status("VmRSS")
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		return 0, 0, fmt.Errorf("reset the peak RSS: %w", err)
	}
	start := time.Now()
	err := fn()
	d := time.Since(start)
	return d, float64(status("VmHWM")-base) / 1024, err
}

// status reads a kB field of /proc/self/status.
func status(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	log.Fatalf("no %s in /proc/self/status", field)
	return 0
}

// latency times n random Gets, three rounds, and prints the medians of the
// rounds' percentiles.
func latency(name string, users []string, n int, get func(string) error) {
	var p50, p99, p999, peaks []float64
	for round := range 3 {
		rng := rand.New(rand.NewPCG(uint64(round), 7))
		d := make([]time.Duration, n)
		_, peak, err := phase(func() error {
			for i := range d {
				u := users[rng.IntN(len(users))]
				t := time.Now()
				if err := get(u); err != nil {
					return fmt.Errorf("get %s: %w", u, err)
				}
				d[i] = time.Since(t)
			}
			return nil
		})
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		slices.Sort(d)
		at := func(q float64) float64 { return float64(d[int(q*float64(len(d)-1))].Nanoseconds()) / 1e3 }
		p50, p99, p999, peaks = append(p50, at(0.5)), append(p99, at(0.99)), append(p999, at(0.999)), append(peaks, peak)
	}
	fmt.Printf("%-40s %7.1f µs %7.1f µs %7.1f µs %9.0f MB\n", name, median(p50), median(p99), median(p999), median(peaks))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func duBytes(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
