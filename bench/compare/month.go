package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/metrics"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
	"github.com/churnops/churnops/internal/training"
)

// row is one line of the result table.
type row struct {
	month, model string
	threads      int
	auc          float64
	fits, cpu    []float64
	note         string
	// ref is churnops' row of the same month and thread count.
	ref *row
}

// generate builds the CLI and runs `churnops gen` for one month of
// c.scale customers under work; it returns the month's directory.
func generate(c config, work string) (string, error) {
	bin := filepath.Join(work, "churnops")
	build := exec.Command("go", "build", "-o", bin, "./cmd/churnops")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("build churnops: %w", err)
	}
	out := filepath.Join(work, "data")
	gen := exec.Command(bin, "gen", "--out", out, "--months", "1", "--users", strconv.Itoa(c.scale), "--seed", strconv.Itoa(c.seed), "--quiet")
	gen.Stdout, gen.Stderr = os.Stderr, os.Stderr
	t0 := time.Now()
	if err := gen.Run(); err != nil {
		return "", fmt.Errorf("churnops gen: %w", err)
	}
	fmt.Fprintf(os.Stderr, "compare: generated %d customers in %.1fs\n", c.scale, time.Since(t0).Seconds())
	return filepath.Join(out, synth.MonthDir(0)), nil
}

// compareMonth fits churnops and the peers on one month's split.
func compareMonth(c config, work, dir, label, asOfText string) ([]row, error) {
	asOf, err := snapshot.ParseAsOf(asOfText)
	if err != nil {
		return nil, err
	}
	m, err := snapshot.Load(dir, asOf)
	if err != nil {
		return nil, err
	}
	train, val := m.Split()
	td, vd := training.DatasetOf(train), training.DatasetOf(val)
	var rows []*row
	var first []byte
	var model *gbdt.Model
	for _, th := range c.threads {
		rows = append(rows, &row{month: label, model: "churnops gbdt", threads: th})
	}
	// The thread counts take turns, rep by rep, rather than one after the
	// other: on a shared machine the load drifts over minutes, and
	// interleaving spreads that drift over every thread count instead of
	// charging it to one (their ratio is the figure that matters).
	for range c.reps {
		for _, r := range rows {
			prev := runtime.GOMAXPROCS(r.threads)
			// training.Fit is training.Train's fit: timed alone, so
			// splitting and encoding the month are not counted (the
			// peers' times count their fit only too).
			runtime.GC()
			t0, c0 := time.Now(), cpuSeconds()
			fm, err := training.Fit(td, training.DefaultParams())
			r.fits = append(r.fits, time.Since(t0).Seconds())
			r.cpu = append(r.cpu, cpuSeconds()-c0)
			runtime.GOMAXPROCS(prev)
			if err != nil {
				return nil, err
			}
			b, err := comparable(fm)
			if err != nil {
				return nil, err
			}
			if first == nil {
				first = b
			} else if !bytes.Equal(b, first) {
				return nil, fmt.Errorf("churnops is not deterministic: the fit on %d thread(s) gave another model", r.threads)
			}
			ev, err := training.Evaluate(fm, m)
			if err != nil {
				return nil, err
			}
			r.auc, model = ev.Metrics.AUC, fm
			r.ref = r
		}
	}
	// Each rep's fits ran one right after the other: their ratio is the
	// speedup least disturbed by the machine's load.
	for _, r := range rows[1:] {
		ratios := make([]float64, len(r.fits))
		for i := range r.fits {
			ratios[i] = rows[0].fits[i] / r.fits[i]
		}
		r.note = fmt.Sprintf("%.2fx as fast as on %d thread(s) (median of the reps' paired ratios)", median(ratios), rows[0].threads)
	}
	rows[0].note = fmt.Sprintf("%d trees, %d train / %d val users, same model bytes on %v threads", model.NumTrees(), len(train), len(val), c.threads)

	// The peers: the same users, encoded the same way.
	if err := writeF64(filepath.Join(work, "train.f64"), &td); err != nil {
		return nil, err
	}
	if err := writeF64(filepath.Join(work, "val.f64"), &vd); err != nil {
		return nil, err
	}
	train, val, m = nil, nil, nil
	runtime.GC()
	ref := map[int]*row{}
	for _, r := range rows {
		ref[r.threads] = r
	}
	for _, th := range c.threads {
		peers, err := runPeers(c, work, th, vd.Label)
		if err != nil {
			return nil, err
		}
		for _, p := range peers {
			p.month, p.ref = label, ref[th]
			rows = append(rows, p)
		}
	}
	out := make([]row, len(rows))
	for i, r := range rows {
		out[i] = *r
	}
	slices.SortStableFunc(out, func(a, b row) int { return a.threads - b.threads })
	return out, nil
}

// comparable is the model's artifact without the wall-clock fields, which
// differ between fits by design.
func comparable(m *gbdt.Model) ([]byte, error) {
	meta, metrics := m.Meta, m.Metrics
	defer func() { m.Meta, m.Metrics = meta, metrics }()
	m.Meta.TrainSeconds, m.Meta.TrainedAt = 0, ""
	m.Metrics = nil
	return m.Marshal()
}

// runPeers runs compare.py on threads threads and scores what it wrote.
func runPeers(c config, work string, threads int, labels []float64) ([]*row, error) {
	cmd := exec.Command(c.python, c.script, work, strconv.Itoa(c.reps), strconv.Itoa(threads), strings.Join(c.models, ","))
	t := strconv.Itoa(threads)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS="+t, "OPENBLAS_NUM_THREADS="+t, "MKL_NUM_THREADS="+t)
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run %s %s (make bench-compare installs the peers): %w", c.python, c.script, err)
	}
	var rows []*row
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r struct {
			Model      string    `json:"model"`
			FitS       []float64 `json:"fit_s"`
			CPUS       []float64 `json:"cpu_s"`
			SklearnAUC float64   `json:"sklearn_auc"`
			Version    string    `json:"version"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("peer output %q: %w", sc.Text(), err)
		}
		scores, err := readF64(filepath.Join(work, r.Model+"_scores.f64"))
		if err != nil {
			return nil, err
		}
		auc, err := metrics.AUC(labels, scores)
		if err != nil {
			return nil, fmt.Errorf("%s scores: %w", r.Model, err)
		}
		if math.Abs(auc-r.SklearnAUC) > 1e-9 {
			return nil, fmt.Errorf("%s: Go AUC %.12f, sklearn %.12f", r.Model, auc, r.SklearnAUC)
		}
		rows = append(rows, &row{model: r.Model + " " + r.Version, threads: threads, auc: auc, fits: r.FitS, cpu: r.CPUS})
	}
	return rows, sc.Err()
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func printTable(out io.Writer, rows []row) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "month\tmodel\tthreads\tfit s (median)\tCPU s (median)\tfits\tval AUC\tfit / churnops\tAUC - churnops\t")
	for _, r := range rows {
		ratio, delta := "", ""
		if r.ref != nil && r.ref.model != r.model {
			ratio = fmt.Sprintf("%.2fx", median(r.fits)/median(r.ref.fits))
			delta = fmt.Sprintf("%+.4f", r.auc-r.ref.auc)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.3f\t%.3f\t%d\t%.4f\t%s\t%s\t%s\n", r.month, r.model, r.threads, median(r.fits), median(r.cpu), len(r.fits), r.auc, ratio, delta, r.note)
	}
	return tw.Flush()
}

// writeF64 writes a dataset for compare.py: row-major little-endian
// float64, the features then the label; NaN is missing.
func writeF64(path string, d *gbdt.Dataset) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var buf [8]byte
	put := func(v float64) {
		binary.LittleEndian.PutUint64(buf[:], math.Float64bits(v))
		w.Write(buf[:])
	}
	for i := range d.Label {
		for j := range d.Features {
			put(d.Cols[j][i])
		}
		put(d.Label[i])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readF64(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b)%8 != 0 {
		return nil, fmt.Errorf("%s: %d bytes", path, len(b))
	}
	out := make([]float64, len(b)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	return out, nil
}

// cpuSeconds is the CPU time (user + system) this process has used, all
// threads together: on a shared machine it is steadier than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return math.NaN()
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
