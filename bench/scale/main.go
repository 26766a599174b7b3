// Command scale is `make bench-scale`: for each size N it generates a
// reference month and a current month of N customers, then runs every
// step of the loop as its own churnops process under /usr/bin/time, and
// prints each one's wall time and peak RSS (%M) in one table:
//
//	gen             both months (churnops gen --incoming --parts P)
//	ingest tasks    the reference month's ingest, task by task as the Lambdas run it
//	                (churnops invoke ingest: plan, each file, each shard, commit): the largest task
//	ingest          the current month (churnops ingest: the same tasks in one process, on the cores)
//	drift           churnops invoke drift (the two months' stored summaries)
//	train           churnops invoke train (the sample of row_budget customers)
//	evaluate        churnops invoke evaluate (Production on the candidate's validation users)
//	score           churnops score (every customer, Production)
//	score task      churnops invoke score (one shard, as one Lambda)
//	loop            churnops run --incoming: the current month ingested, then drift, train,
//	                evaluate, decide and score, in one process (on a copy of the state that
//	                holds the reference month and a Production model)
//
// and checks the goals on the largest N: ingest+drift+train+
// evaluate+score of the current month under 5 minutes, every process at
// most 2 GB, the largest task (an ingest task, drift, train, evaluate or a
// shard scored: one Lambda invocation each) at most 1.5 GB. Generated data lives under
// -work and is deleted at the end (-keep keeps it).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

var (
	bin     string // the churnops binary
	workDir string
	verbose bool
)

func main() {
	sizes := flag.String("sizes", "100000,1000000,10000000", "customers per month, comma-separated")
	flag.StringVar(&workDir, "work", "/tmp/churnops-bench-scale", "working directory (deleted at the end)")
	flag.StringVar(&bin, "bin", "", "the churnops binary (make bench-scale builds it)")
	parts := flag.Int("parts", 4, "part files per table, as a month lands in the bucket")
	gz := flag.Bool("gzip", false, "gzip the part files")
	budget := flag.Int("row-budget", 1_000_000, "the training sample")
	keep := flag.Bool("keep", false, "keep the generated data and states")
	flag.BoolVar(&verbose, "v", false, "print every command")
	flag.Parse()
	if bin == "" {
		fail(errors.New("-bin is required"))
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		fail(fmt.Errorf("/usr/bin/time (GNU time) is required for peak RSS: %w", err))
	}
	var ns []int
	for _, s := range strings.Split(*sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1000 {
			fail(fmt.Errorf("-sizes: %q", s))
		}
		ns = append(ns, n)
	}
	fmt.Printf("churnops bench-scale: %s, GOMAXPROCS cores %d, parts %d per table, gzip %v, row budget %d\n", time.Now().Format(time.RFC3339), cores(), *parts, *gz, *budget)
	fmt.Printf("Each step is its own process; wall time and peak RSS (GNU time %%M). Figures from a shared machine are noisy: re-measure on a quiet one.\n\n")
	var last *sizeResult
	for _, n := range ns {
		r, err := runSize(n, *parts, *gz, *budget, *keep)
		if r != nil {
			r.print()
			last = r
		}
		if err != nil {
			fail(err)
		}
	}
	if last != nil {
		last.goals()
	}
}

func cores() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// measurement is one process's figures.
type measurement struct {
	step  string
	wall  time.Duration
	rssKB int64
	note  string
}

type sizeResult struct {
	n, k        int
	rows        []measurement
	largestTask measurement
}

func (r *sizeResult) add(m measurement) measurement {
	r.rows = append(r.rows, m)
	return m
}

// task counts m, one Lambda invocation's work (drift, train, evaluate, a
// shard scored), toward the largest task: the function sizes of the
// template follow from it.
func (r *sizeResult) task(m measurement, what string) {
	if m.rssKB > r.largestTask.rssKB {
		r.largestTask = measurement{rssKB: m.rssKB, wall: m.wall, note: what}
	}
}

func (r *sizeResult) get(step string) measurement {
	for _, m := range r.rows {
		if m.step == step {
			return m
		}
	}
	return measurement{}
}

func (r *sizeResult) print() {
	fmt.Printf("N = %s customers a month, K = %d shards\n", comma(r.n), r.k)
	fmt.Printf("  %-14s %10s %12s  %s\n", "step", "wall", "peak RSS", "")
	for _, m := range r.rows {
		fmt.Printf("  %-14s %9.1fs %9s MB  %s\n", m.step, m.wall.Seconds(), comma(int(m.rssKB/1024)), m.note)
	}
	fmt.Println()
}

// goals checks the goals on the largest size measured.
func (r *sizeResult) goals() {
	total := time.Duration(0)
	for _, s := range []string{"ingest", "drift", "train", "evaluate", "score"} {
		total += r.get(s).wall
	}
	var most measurement
	for _, m := range r.rows {
		if m.rssKB > most.rssKB {
			most = m
		}
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "MISSED"
	}
	fmt.Printf("Goals at N = %s:\n", comma(r.n))
	fmt.Printf("  current month: ingest + drift + train + evaluate + score = %.1f s (goal < 300 s): %s\n", total.Seconds(), verdict(total < 5*time.Minute))
	if loop := r.get("loop"); loop.wall > 0 {
		fmt.Printf("  the same as one `churnops run --incoming` process: %.1f s, %s MB (goal < 300 s): %s\n", loop.wall.Seconds(), comma(int(loop.rssKB/1024)), verdict(loop.wall < 5*time.Minute))
	}
	fmt.Printf("  largest process: %s, %s MB (goal <= 2048 MB): %s\n", most.step, comma(int(most.rssKB/1024)), verdict(most.rssKB <= 2048*1024))
	fmt.Printf("  largest task (one Lambda invocation): %s, %s MB (goal <= 1536 MB): %s\n", r.largestTask.note, comma(int(r.largestTask.rssKB/1024)), verdict(r.largestTask.rssKB <= 1536*1024))
}

// runSize measures every step at n customers.
func runSize(n, parts int, gz bool, budget int, keep bool) (*sizeResult, error) {
	dir := filepath.Join(workDir, strconv.Itoa(n))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	r := &sizeResult{n: n}
	data := filepath.Join(dir, "data")
	state := filepath.Join(dir, "state")
	ref, cur := "2024-01-31", "2024-02-29"
	month := func(asOf string) string { return filepath.Join(data, "incoming", "as_of="+asOf) }

	args := []string{"gen", "--out", data, "--months", "2", "--users", strconv.Itoa(n), "--incoming", "--parts", strconv.Itoa(parts), "--quiet"}
	if gz {
		args = append(args, "--gzip")
	}
	m, _, err := measure(args...)
	if err != nil {
		return r, err
	}
	r.add(m.named("gen", "both months: "+dirSize(data)))

	// The reference month, task by task as the Lambdas run it.
	tasks, largest, k, err := ingestTasks(state, month(ref), ref, budget)
	if err != nil {
		return r, err
	}
	r.k = k
	r.add(tasks)
	r.largestTask = largest

	// A model on the reference month, made Production: what the loop
	// compares a candidate with.
	m, out, err := measure("invoke", "train", "--state", state, "--event", event(map[string]any{"model_name": "churn", "as_of": ref, "seed": 42, "row_budget": budget}))
	if err != nil {
		return r, err
	}
	var trained struct{ Version int }
	if err := json.Unmarshal(out, &trained); err != nil {
		return r, fmt.Errorf("train: %s: %w", out, err)
	}
	r.add(m.named("train ref", "v1 on the reference month's sample"))
	if _, _, err := measure("registry", "promote", strconv.Itoa(trained.Version), "--state", state); err != nil {
		return r, err
	}
	// The state as it is before the current month arrives: for the loop.
	loopState := filepath.Join(dir, "loop-state")
	if err := linkCopy(state, loopState); err != nil {
		return r, err
	}

	m, out, err = measure("ingest", "--state", state, "--data", month(cur), "--as-of", cur, "--row-budget", strconv.Itoa(budget), "--json")
	if err != nil {
		return r, err
	}
	var ing struct {
		Shards int `json:"shards"`
		Rows   int `json:"rows"`
	}
	_ = json.Unmarshal(out, &ing)
	r.add(m.named("ingest", fmt.Sprintf("current month: %s customers in %d shards, %d at a time", comma(ing.Rows), ing.Shards, cores())))

	m, _, err = measure("invoke", "drift", "--state", state, "--event", event(map[string]any{"reference_as_of": ref, "current_as_of": cur, "threshold": 0.02}))
	if err != nil {
		return r, err
	}
	r.task(r.add(m.named("drift", "from the stored summaries")), "drift")

	m, out, err = measure("invoke", "train", "--state", state, "--event", event(map[string]any{"model_name": "churn", "as_of": cur, "seed": 42, "row_budget": budget}))
	if err != nil {
		return r, err
	}
	var tr struct {
		Metrics map[string]float64 `json:"metrics"`
	}
	_ = json.Unmarshal(out, &tr)
	r.task(r.add(m.named("train", fmt.Sprintf("%.0f train + %.0f validation rows, val_auc %.4f", tr.Metrics["train_rows"], tr.Metrics["val_rows"], tr.Metrics["val_auc"]))), "train")

	m, _, err = measure("invoke", "evaluate", "--state", state, "--event", event(map[string]any{"model_name": "churn", "as_of": cur, "delta": 0.01, "min_auc": 0.7, "row_budget": budget}))
	if err != nil {
		return r, err
	}
	r.task(r.add(m.named("evaluate", "Production v1 on the candidate's validation users")), "evaluate")

	m, _, err = measure("score", "--state", state, "--as-of", cur, "--json")
	if err != nil {
		return r, err
	}
	r.add(m.named("score", fmt.Sprintf("every customer, %d shards at a time", cores())))

	m, _, err = measure("invoke", "score", "--state", state, "--event", event(map[string]any{"action": "shard", "model_name": "churn", "as_of": cur, "version": 1, "shard": 0}))
	if err != nil {
		return r, err
	}
	r.task(r.add(m.named("score task", "one shard, as one Lambda")), "score a shard")

	m, _, err = measure("run", "--state", loopState, "--incoming", month(cur), "--as-of", cur, "--reference-as-of", ref, "--threshold", "0", "--row-budget", strconv.Itoa(budget), "--quiet")
	if err != nil {
		return r, err
	}
	r.add(m.named("loop", "run --incoming: ingest, drift, train, evaluate, decide, score"))
	return r, nil
}

// ingestTasks ingests a month as the state machine does, one task per
// process: plan, every file, every shard, commit. It returns the sum as
// one row, the largest task and K.
func ingestTasks(state, month, asOf string, budget int) (measurement, measurement, int, error) {
	var sum, largest measurement
	add := func(m measurement, what string) {
		sum.wall += m.wall
		sum.rssKB = max(sum.rssKB, m.rssKB)
		if m.rssKB > largest.rssKB {
			largest = measurement{rssKB: m.rssKB, wall: m.wall, note: what}
		}
	}
	m, out, err := measure("invoke", "ingest", "--state", state, "--event",
		event(map[string]any{"action": "plan", "incoming": map[string]any{"dir": month, "as_of": asOf}, "row_budget": budget}))
	if err != nil {
		return sum, largest, 0, err
	}
	add(m, "plan")
	var plan struct {
		Attempt string `json:"attempt"`
		K       int    `json:"k"`
		Parts   []int  `json:"parts"`
	}
	if err := json.Unmarshal(out, &plan); err != nil {
		return sum, largest, 0, fmt.Errorf("plan: %s: %w", out, err)
	}
	item := func(action string, i int) string {
		return event(map[string]any{"action": action, "as_of": asOf, "attempt": plan.Attempt, "index": i})
	}
	for _, p := range plan.Parts {
		m, _, err := measure("invoke", "ingest", "--state", state, "--event", item("partition", p))
		if err != nil {
			return sum, largest, plan.K, err
		}
		add(m, "partition a file")
	}
	for k := range plan.K {
		m, _, err := measure("invoke", "ingest", "--state", state, "--event", item("build", k))
		if err != nil {
			return sum, largest, plan.K, err
		}
		add(m, "build a shard")
	}
	m, _, err = measure("invoke", "ingest", "--state", state, "--event", item("commit", 0))
	if err != nil {
		return sum, largest, plan.K, err
	}
	add(m, "commit")
	m, _, err = measure("invoke", "ingest", "--state", state, "--event", item("prune", 0))
	if err != nil {
		return sum, largest, plan.K, err
	}
	add(m, "prune")
	sum.step = "ingest tasks"
	sum.note = fmt.Sprintf("reference month, %d files + %d shards + plan, commit, prune, one process each (RSS: the largest, %s)", len(plan.Parts), plan.K, largest.note)
	return sum, largest, plan.K, nil
}

func (m measurement) named(step, note string) measurement {
	m.step, m.note = step, note
	return m
}

func event(v map[string]any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// measure runs churnops args under GNU time and returns its figures and
// stdout.
func measure(args ...string) (measurement, []byte, error) {
	tf, err := os.CreateTemp("", "churnops-time-")
	if err != nil {
		return measurement{}, nil, err
	}
	tf.Close()
	defer os.Remove(tf.Name())
	cmd := exec.Command("/usr/bin/time", append([]string{"-o", tf.Name(), "-f", "%e %M", bin}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &errb
	if verbose {
		fmt.Fprintf(os.Stderr, "+ churnops %s\n", strings.Join(args, " "))
		cmd.Stderr = io.MultiWriter(&errb, os.Stderr)
	}
	err = cmd.Run()
	if err != nil {
		return measurement{}, out.Bytes(), fmt.Errorf("churnops %s: %w\n%s", strings.Join(args, " "), err, errb.String())
	}
	raw, err := os.ReadFile(tf.Name())
	if err != nil {
		return measurement{}, nil, err
	}
	var secs float64
	var kb int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(raw)), "%f %d", &secs, &kb); err != nil {
		return measurement{}, nil, fmt.Errorf("GNU time said %q: %w", raw, err)
	}
	return measurement{wall: time.Duration(secs * float64(time.Second)), rssKB: kb}, out.Bytes(), nil
}

// linkCopy copies a state directory, hard-linking the blob and feature
// files (written once, never changed in place) and copying the bbolt
// registry (changed in place).
func linkCopy(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case strings.HasSuffix(p, ".db") || d.Name() == "LOCK":
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, 0o600)
		default:
			return os.Link(p, target)
		}
	})
}

func dirSize(dir string) string {
	var n int64
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return fmt.Sprintf("%s MB of CSV", comma(int(n>>20)))
}

func comma(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench-scale:", err)
	os.Exit(1)
}
