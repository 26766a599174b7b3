// Command driftscale measures drift at scale the way the sharded pipeline
// computes it: each shard of a month (users with hash(user_id) mod K = k)
// is summarized on its own and its summary stored, then the reduce step
// merges a month's shard summaries and compares two months.
//
//	go run ./bench/driftscale summarize -month DIR -shards 4 -out SUMDIR [-cap N]
//	go run ./bench/driftscale compare -ref SUMDIR -cur SUMDIR -out REPORTDIR
//	go run ./bench/driftscale merge -in SUMDIR -out FILE
//	go run ./bench/driftscale check -month DIR
//	go run ./bench/driftscale continuous -rows 10000000 -shards 25
//
// summarize reads the month's CSVs once per shard (as K BuildShard tasks
// would, each holding only its shard's 15 drift columns), prints each
// shard's summarize time and summary size, and writes part-NNNNN.summary
// files; -cap sets the distinct-value cap of numerical columns (drift's
// MaxDistinct by default; drift.ExactCap for exact value counts). compare
// decodes and merges the summaries of each month, prints every column's
// distinct values and the merged summary's size, then compares the months
// and writes drift.json and drift.html. merge writes the merged summary of
// a directory (equal bytes for any -shards). check verifies on a month that the
// streamed columns summarize to the bytes snapshot.Load's month does.
// continuous extrapolates without the CSVs: it summarizes -rows values
// drawn like synth's watch hours (normal, mean 30, sd 10, floored at 0.5)
// shard by shard, merges them and prints the merged column's bits,
// distinct values and encoded size, exact and capped.
//
// Run each step under /usr/bin/time -f '%e s %M KB' for its peak RSS.
package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: driftscale summarize|compare|check [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "summarize":
		err = summarizeCmd(os.Args[2:])
	case "compare":
		err = compareCmd(os.Args[2:])
	case "check":
		err = checkCmd(os.Args[2:])
	case "continuous":
		err = continuousCmd(os.Args[2:])
	case "merge":
		err = mergeCmd(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "driftscale:", err)
		os.Exit(1)
	}
}

// files lists, per CSV of the lab's layout, the drift columns it holds.
var files = map[string][]string{
	snapshot.SubscriptionsFile: {"months_active", "monthly_fee", "paperless_billing", "plan_stream_tv", "plan_stream_movies", "net_service"},
	snapshot.UsageFile:         {"watch_hours_30d", "avg_session_mins_7d", "unique_devices_30d", "skips_7d", "rebuffer_events_7d"},
	snapshot.PaymentsFile:      {"failed_payments_90d"},
	snapshot.SupportFile:       {"support_tickets_90d", "ticket_avg_resolution_hrs_90d"},
	snapshot.LabelsFile:        {snapshot.Label},
}

// shardOf is the shard of a user: FNV-1a of the user_id mod k (a stand-in
// for the ingest's hash; any function of user_id alone shards the same).
func shardOf(userID string, k int) int {
	h := fnv.New64a()
	h.Write([]byte(userID))
	return int(h.Sum64() % uint64(k))
}

// readShard reads the drift columns of the users of shard (of k) from a
// month directory, in DriftColumns order.
func readShard(dir string, shard, k int) ([]snapshot.Column, error) {
	byName := map[string]*snapshot.Column{}
	names := append(slices.Clone(snapshot.FeatureNames), snapshot.Label)
	cols := make([]snapshot.Column, len(names))
	for i, n := range names {
		kind, _ := snapshot.KindOf(n)
		cols[i] = snapshot.Column{Name: n, Kind: kind}
		if kind == snapshot.Numerical {
			cols[i].Num = []float64{}
		} else {
			cols[i].Cat = []string{}
		}
		byName[n] = &cols[i]
	}
	for file, want := range files {
		if err := readFile(filepath.Join(dir, file), want, byName, shard, k); err != nil {
			return nil, err
		}
	}
	return cols, nil
}

func readFile(path string, want []string, byName map[string]*snapshot.Column, shard, k int) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(bufio.NewReaderSize(f, 1<<20))
	r.ReuseRecord = true
	header, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	idx := make([]int, len(want))
	for i, w := range want {
		idx[i] = slices.Index(header, w)
		if idx[i] < 0 {
			return fmt.Errorf("%s: no column %s", path, w)
		}
	}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if shardOf(rec[0], k) != shard {
			continue
		}
		for i, w := range want {
			c, s := byName[w], rec[idx[i]]
			if c.Kind == snapshot.Categorical {
				c.Cat = append(c.Cat, strings.Clone(s))
				continue
			}
			v := math.NaN()
			if s != "" {
				if v, err = strconv.ParseFloat(s, 64); err != nil {
					return fmt.Errorf("%s:%d: %s: %w", path, line, w, err)
				}
			}
			c.Num = append(c.Num, v)
		}
	}
}

func summarizeCmd(args []string) error {
	fs := flag.NewFlagSet("summarize", flag.ExitOnError)
	month := fs.String("month", "", "month directory (lab layout)")
	k := fs.Int("shards", 4, "number of shards")
	out := fs.String("out", "", "directory for part-NNNNN.summary")
	maxDistinct := fs.Int("cap", drift.MaxDistinct, "distinct-value cap of numerical columns")
	fs.Parse(args)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	var total int
	for shard := range *k {
		t0 := time.Now()
		cols, err := readShard(*month, shard, *k)
		if err != nil {
			return err
		}
		t1 := time.Now()
		s, err := drift.SummarizeCapped(cols, *maxDistinct)
		if err != nil {
			return err
		}
		t2 := time.Now()
		b, err := s.MarshalBinary()
		if err != nil {
			return err
		}
		t3 := time.Now()
		if err := os.WriteFile(filepath.Join(*out, fmt.Sprintf("part-%05d.summary", shard)), b, 0o644); err != nil {
			return err
		}
		total += len(b)
		fmt.Printf("shard %d: %d rows, read %.2fs, summarize %.3fs, encode %.3fs, %d bytes\n",
			shard, s.Rows(), t1.Sub(t0).Seconds(), t2.Sub(t1).Seconds(), t3.Sub(t2).Seconds(), len(b))
	}
	fmt.Printf("%d shard summaries, %d bytes in all\n", *k, total)
	return nil
}

// loadMerged decodes and merges every summary of a directory.
func loadMerged(dir string) (*drift.Summary, time.Duration, error) {
	parts, err := filepath.Glob(filepath.Join(dir, "part-*.summary"))
	if err != nil || len(parts) == 0 {
		return nil, 0, fmt.Errorf("no summaries in %s (%v)", dir, err)
	}
	var merged drift.Summary
	var spent time.Duration
	for _, p := range parts {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, 0, err
		}
		t0 := time.Now()
		s, err := drift.UnmarshalSummary(b)
		if err != nil {
			return nil, 0, fmt.Errorf("%s: %w", p, err)
		}
		m, err := drift.Merge(&merged, s)
		if err != nil {
			return nil, 0, err
		}
		merged = *m
		spent += time.Since(t0)
	}
	return &merged, spent, nil
}

func compareCmd(args []string) error {
	fs := flag.NewFlagSet("compare", flag.ExitOnError)
	refDir := fs.String("ref", "", "reference month's summary directory")
	curDir := fs.String("cur", "", "current month's summary directory")
	out := fs.String("out", "", "directory for drift.json and drift.html")
	fs.Parse(args)
	ref, tRef, err := loadMerged(*refDir)
	if err != nil {
		return err
	}
	cur, tCur, err := loadMerged(*curDir)
	if err != nil {
		return err
	}
	for _, m := range []struct {
		name string
		s    *drift.Summary
	}{{"reference", ref}, {"current", cur}} {
		b, _ := m.s.MarshalBinary()
		fmt.Printf("%s: %d rows, merged summary %d bytes\n", m.name, m.s.Rows(), len(b))
		for _, c := range m.s.Columns() {
			fmt.Printf("  %-30s %s distinct %9d missing %8d exact %-5v bits %d\n", c.Name, c.Kind, c.Distinct, c.Missing, c.Exact, c.Bits)
		}
	}
	t0 := time.Now()
	docs, err := drift.BuildSummaries(ref, cur, drift.Options{Threshold: drift.DefaultThreshold, Reference: *refDir, Current: *curDir, Now: time.Now()})
	if err != nil {
		return err
	}
	fmt.Printf("decode+merge %.3fs, compare+render %.3fs; drift share %.4f\n", (tRef + tCur).Seconds(), time.Since(t0).Seconds(), docs.Report.DriftShare)
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "drift.json"), docs.JSON, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(*out, "drift.html"), docs.HTML, 0o644)
}

func checkCmd(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	month := fs.String("month", "", "month directory (lab layout)")
	fs.Parse(args)
	m, err := snapshot.Load(*month, time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return err
	}
	want, err := drift.Summarize(m.DriftColumns())
	if err != nil {
		return err
	}
	cols, err := readShard(*month, 0, 1)
	if err != nil {
		return err
	}
	got, err := drift.Summarize(cols)
	if err != nil {
		return err
	}
	a, _ := want.MarshalBinary()
	b, _ := got.MarshalBinary()
	if !bytes.Equal(a, b) {
		return errors.New("the streamed columns summarize differently from snapshot.Load's month")
	}
	fmt.Printf("ok: %d rows, %d bytes\n", got.Rows(), len(b))
	return nil
}

func continuousCmd(args []string) error {
	fs := flag.NewFlagSet("continuous", flag.ExitOnError)
	rows := fs.Int("rows", 10_000_000, "rows of the month")
	k := fs.Int("shards", 25, "number of shards")
	maxDistinct := fs.Int("cap", drift.MaxDistinct, "distinct-value cap")
	fs.Parse(args)
	r := rand.New(rand.NewPCG(1, 2))
	var merged drift.Summary
	var tSum, tMerge time.Duration
	for shard := range *k {
		n := *rows / *k
		if shard < *rows%*k {
			n++
		}
		col := snapshot.Column{Name: "watch_hours_30d", Kind: snapshot.Numerical, Num: make([]float64, n)}
		for i := range col.Num {
			col.Num[i] = max(0.5, 30+10*r.NormFloat64())
		}
		t0 := time.Now()
		s, err := drift.SummarizeCapped([]snapshot.Column{col}, *maxDistinct)
		if err != nil {
			return err
		}
		t1 := time.Now()
		m, err := drift.Merge(&merged, s)
		if err != nil {
			return err
		}
		merged = *m
		tSum, tMerge = tSum+t1.Sub(t0), tMerge+time.Since(t1)
	}
	b, err := merged.MarshalBinary()
	if err != nil {
		return err
	}
	c := merged.Columns()[0]
	fmt.Printf("%d rows in %d shards: %d distinct, exact %v, bits %d, %d bytes; summarize %.2fs, merge %.2fs\n",
		c.Rows, *k, c.Distinct, c.Exact, c.Bits, len(b), tSum.Seconds(), tMerge.Seconds())
	return nil
}

func mergeCmd(args []string) error {
	fs := flag.NewFlagSet("merge", flag.ExitOnError)
	in := fs.String("in", "", "summary directory")
	out := fs.String("out", "", "file for the merged summary")
	fs.Parse(args)
	m, _, err := loadMerged(*in)
	if err != nil {
		return err
	}
	b, err := m.MarshalBinary()
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}
