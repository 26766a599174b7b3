package synth

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// StreamOptions says how Stream lays months out on disk.
type StreamOptions struct {
	WriteOptions
	// Parts splits every table into this many part files
	// (users/part-00000.csv …), each with the header and a run of
	// consecutive rows; 0 or 1 writes the lab's single files.
	Parts int
	// Gzip compresses every file (users.csv.gz, users/part-00000.csv.gz).
	Gzip bool
	// Incoming writes month i to incoming/as_of=YYYY-MM-DD/ instead of
	// month_NNN/, with a _SUCCESS marker: the layout a month lands in
	// the bucket with.
	Incoming bool
}

// MonthSummary is one month Stream wrote.
type MonthSummary struct {
	Dir      string
	AsOf     time.Time
	Rows     int
	Churners int
}

// IncomingDir is where Stream puts a month with StreamOptions.Incoming,
// relative to its output directory.
func IncomingDir(asOf time.Time) string {
	return filepath.Join("incoming", "as_of="+asOf.Format(snapshot.DateLayout))
}

// streamBatch is how many customers are formatted at once.
const streamBatch = 4096

// Stream generates cfg's months and writes them under dir as they are
// drawn, never holding a month: memory is the population (about 110 bytes
// a customer) plus a few batches, so ten million customers fit in about
// 1.5 GB. With the default options the files are byte for byte those of
// GenerateToDir (the same draws, formatted by the same code). Each month
// directory appears complete (written under a temporary name, then
// renamed), with the marker last for an incoming month; existing months
// are refused or replaced as WriteOptions says.
func Stream(dir string, cfg Config, opt StreamOptions) ([]MonthSummary, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	if opt.Parts < 0 {
		return nil, fmt.Errorf("%w: parts %d, want >= 0", ErrConfig, opt.Parts)
	}
	targets := make([]string, cfg.Months)
	replace := make([]bool, cfg.Months)
	for i := range targets {
		targets[i] = filepath.Join(dir, MonthDir(i))
		if opt.Incoming {
			targets[i] = filepath.Join(dir, IncomingDir(AsOf(i)))
		}
		full, err := nonEmptyDir(targets[i])
		if err != nil {
			return nil, fmt.Errorf("synth: stream: %w", err)
		}
		if full && !opt.Overwrite {
			return nil, fmt.Errorf("synth: stream: %s: %w: %w (use Overwrite)", targets[i], ErrMonthExists, fs.ErrExist)
		}
		replace[i] = full
	}
	s := newSim(cfg)
	out := make([]MonthSummary, 0, cfg.Months)
	for m := range cfg.Months {
		s.applyDrift(cfg.Drift[m])
		sum, err := streamMonth(s, m, targets[m], replace[m], opt)
		if err != nil {
			return out, fmt.Errorf("synth: stream %s: %w", targets[m], err)
		}
		out = append(out, sum)
	}
	return out, nil
}

// streamMonth draws month m into a fresh directory and installs it at
// target.
func streamMonth(s *sim, m int, target string, replace bool, opt StreamOptions) (MonthSummary, error) {
	sum := MonthSummary{Dir: target, AsOf: AsOf(m), Rows: len(s.users)}
	parent, base := filepath.Split(target)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return sum, err
	}
	stage, err := os.MkdirTemp(parent, "."+base+".new-*")
	if err != nil {
		return sum, err
	}
	defer os.RemoveAll(stage)
	fresh := filepath.Join(stage, base)
	if err := os.Mkdir(fresh, 0o755); err != nil {
		return sum, err
	}
	w := newMonthWriter(fresh, len(s.users), opt)
	err = s.step(m, w)
	if cerr := w.close(); err == nil {
		err = cerr
	}
	if err != nil {
		return sum, err
	}
	sum.Churners = w.churners
	if opt.Incoming {
		if err := os.WriteFile(filepath.Join(fresh, "_SUCCESS"), nil, 0o644); err != nil {
			return sum, err
		}
	}
	return sum, install(target, fresh, filepath.Join(stage, "old"), replace)
}

// install moves the complete month fresh to target, swapping out an
// existing one (moved to old) when replace is set.
func install(target, fresh, old string, replace bool) error {
	if !replace {
		// An existing empty directory is replaced; rename(2) does that on
		// POSIX, Windows refuses: remove it first.
		if err := os.Remove(target); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return os.Rename(fresh, target)
	}
	if err := os.Rename(target, old); err != nil {
		return fmt.Errorf("move old month aside: %w", err)
	}
	if err := os.Rename(fresh, target); err != nil {
		if rerr := os.Rename(old, target); rerr != nil {
			return fmt.Errorf("install new month: %w (old month left in %s: %v)", err, old, rerr)
		}
		return fmt.Errorf("install new month: %w", err)
	}
	return nil
}

// monthWriter is the monthSink that writes a month's files as it is drawn.
// The drawing goroutine fills batches of customers; one goroutine per
// table formats each batch into its table's files (and compresses them),
// so drawing, formatting and compressing overlap. A batch is reused once
// every table has written it.
type monthWriter struct {
	tables   []*tableWriter
	free     chan *batch
	cur      *batch
	churners int
}

type batch struct {
	start int // index of the first customer
	cust  []snapshot.Customer
	done  sync.WaitGroup
}

func newMonthWriter(dir string, rows int, opt StreamOptions) *monthWriter {
	w := &monthWriter{free: make(chan *batch, 3)}
	for range cap(w.free) {
		w.free <- &batch{cust: make([]snapshot.Customer, 0, streamBatch)}
	}
	parts := max(opt.Parts, 1)
	for t := range snapshot.Files() {
		tw := &tableWriter{dir: dir, table: t, rows: rows, parts: parts, split: opt.Parts > 1, gzip: opt.Gzip, in: make(chan *batch, cap(w.free))}
		tw.wg.Add(1)
		go tw.run()
		w.tables = append(w.tables, tw)
	}
	return w
}

// labelsTable is the table written by the second pass.
const labelsTable = 5

func (w *monthWriter) add(i int, c *snapshot.Customer, tables []*tableWriter) error {
	if w.cur == nil {
		w.cur = <-w.free
		w.cur.start, w.cur.cust = i, w.cur.cust[:0]
	}
	w.cur.cust = append(w.cur.cust, *c)
	if len(w.cur.cust) == cap(w.cur.cust) {
		return w.flush(tables)
	}
	return nil
}

// flush hands the current batch to tables and gets it back once written.
func (w *monthWriter) flush(tables []*tableWriter) error {
	b := w.cur
	if b == nil {
		return nil
	}
	w.cur = nil
	for _, tw := range tables {
		if err := tw.failed(); err != nil {
			w.free <- b
			return err
		}
	}
	b.done.Add(len(tables))
	for _, tw := range tables {
		tw.in <- b
	}
	go func() { b.done.Wait(); w.free <- b }()
	return nil
}

func (w *monthWriter) row(i int, c *snapshot.Customer) error {
	return w.add(i, c, w.tables[:labelsTable])
}

func (w *monthWriter) label(i int, c *snapshot.Customer, churn bool, _ float64) error {
	if i == 0 {
		if err := w.flush(w.tables[:labelsTable]); err != nil {
			return err
		}
	}
	if churn {
		w.churners++
	}
	c.Churn = churn
	return w.add(i, c, w.tables[labelsTable:])
}

// close writes what is left and closes every file.
func (w *monthWriter) close() error {
	err := w.flush(w.tables[labelsTable:])
	for _, tw := range w.tables {
		close(tw.in)
	}
	for _, tw := range w.tables {
		tw.wg.Wait()
		err = errors.Join(err, tw.err)
	}
	return err
}

// tableWriter writes one table's file or part files, from batches.
type tableWriter struct {
	dir   string
	table int
	rows  int
	parts int
	split bool
	gzip  bool
	in    chan *batch
	wg    sync.WaitGroup

	mu  sync.Mutex
	err error

	part int // the open part, -1 before the first
	f    *os.File
	bw   *bufio.Writer
	zw   *gzip.Writer
	w    io.Writer
	buf  []byte
}

func (tw *tableWriter) failed() error {
	tw.mu.Lock()
	defer tw.mu.Unlock()
	return tw.err
}

func (tw *tableWriter) fail(err error) {
	tw.mu.Lock()
	if tw.err == nil {
		tw.err = fmt.Errorf("%s: %w", snapshot.Files()[tw.table], err)
	}
	tw.mu.Unlock()
}

func (tw *tableWriter) run() {
	defer tw.wg.Done()
	tw.part = -1
	for b := range tw.in {
		if tw.failed() == nil {
			if err := tw.write(b); err != nil {
				tw.fail(err)
			}
		}
		b.done.Done()
	}
	if tw.failed() != nil {
		if tw.f != nil {
			tw.f.Close()
		}
		return
	}
	// Every part exists, even one with no rows (fewer rows than parts).
	for tw.part < tw.parts-1 {
		if err := tw.open(tw.part + 1); err != nil {
			tw.fail(err)
			return
		}
	}
	if err := tw.closePart(); err != nil {
		tw.fail(err)
	}
}

// partOf is the part holding row i: part j holds rows [j·n/P, (j+1)·n/P).
func (tw *tableWriter) partOf(i int) int {
	j := i * tw.parts / max(tw.rows, 1)
	for j+1 < tw.parts && (j+1)*tw.rows/tw.parts <= i {
		j++
	}
	for j > 0 && j*tw.rows/tw.parts > i {
		j--
	}
	return j
}

func (tw *tableWriter) write(b *batch) error {
	for k := range b.cust {
		if p := tw.partOf(b.start + k); p != tw.part {
			if err := tw.flushBuf(); err != nil {
				return err
			}
			for tw.part < p {
				if err := tw.open(tw.part + 1); err != nil {
					return err
				}
			}
		}
		tw.buf = snapshot.AppendCSVRow(tw.buf, tw.table, &b.cust[k])
		if len(tw.buf) >= 256<<10 {
			if err := tw.flushBuf(); err != nil {
				return err
			}
		}
	}
	return tw.flushBuf()
}

func (tw *tableWriter) flushBuf() error {
	if len(tw.buf) == 0 {
		return nil
	}
	_, err := tw.w.Write(tw.buf)
	tw.buf = tw.buf[:0]
	return err
}

// open closes the open part and starts part p with the header.
func (tw *tableWriter) open(p int) error {
	if err := tw.closePart(); err != nil {
		return err
	}
	name := snapshot.Files()[tw.table]
	if tw.split {
		sub := filepath.Join(tw.dir, strings.TrimSuffix(name, ".csv"))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return err
		}
		name = filepath.Join(sub, fmt.Sprintf("part-%05d.csv", p))
	} else {
		name = filepath.Join(tw.dir, name)
	}
	if tw.gzip {
		name += ".gz"
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	tw.f, tw.part = f, p
	tw.bw = bufio.NewWriterSize(f, 256<<10)
	tw.w = tw.bw
	if tw.gzip {
		tw.zw, _ = gzip.NewWriterLevel(tw.bw, gzip.BestSpeed)
		tw.w = tw.zw
	}
	tw.buf = snapshot.AppendCSVHeader(tw.buf[:0], tw.table)
	return tw.flushBuf()
}

// closePart finishes the open part, synced to disk.
func (tw *tableWriter) closePart() error {
	if tw.f == nil {
		return nil
	}
	f := tw.f
	tw.f = nil
	err := tw.flushBuf()
	if tw.zw != nil {
		err = errors.Join(err, tw.zw.Close())
		tw.zw = nil
	}
	err = errors.Join(err, tw.bw.Flush())
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}
