package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// parseDriftSpec parses "1:feature,3:label" into month index -> drift kind.
func parseDriftSpec(s string) (map[int]synth.Drift, error) {
	out := map[int]synth.Drift{}
	if strings.TrimSpace(s) == "" {
		return out, nil
	}
	for _, part := range strings.Split(s, ",") {
		idx, kind, ok := strings.Cut(strings.TrimSpace(part), ":")
		if !ok {
			return nil, usagef("--drift %q: want MONTH:KIND, e.g. 2:feature", part)
		}
		i, err := strconv.Atoi(idx)
		if err != nil {
			return nil, usagef("--drift %q: month %q is not a number", part, idx)
		}
		d, err := synth.ParseDrift(kind)
		if err != nil {
			return nil, usagef("--drift %q: %v", part, err)
		}
		out[i] = d
	}
	return out, nil
}

func cmdGen(ctx context.Context, a *app, args []string) error {
	fs := a.flags("gen")
	out := fs.String("out", "", "output directory (month_000, month_001, … are written inside)")
	months := fs.Int("months", 3, "number of months")
	seed := fs.Int64("seed", 42, "random seed (same seed, same bytes)")
	users := fs.Int("users", synth.DefaultUsers, "customers per month")
	driftSpec := fs.String("drift", "", "drift to inject: MONTH:KIND[,…], KIND one of none, feature, label (e.g. 2:feature,3:label)")
	strength := fs.Float64("strength", 1, "drift strength multiplier")
	overwrite := fs.Bool("overwrite", false, "replace existing month directories")
	parts := fs.Int("parts", 1, "part files per table (users/part-00000.csv …); 1 writes the lab's single files")
	gz := fs.Bool("gzip", false, "gzip every file (.csv.gz)")
	incoming := fs.Bool("incoming", false, "write month i to incoming/as_of=YYYY-MM-DD/ with a _SUCCESS marker, as a month lands in the bucket")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	dm, err := parseDriftSpec(*driftSpec)
	if err != nil {
		return err
	}
	cfg := synth.Config{Users: *users, Months: *months, Seed: *seed, Drift: dm, Strength: *strength}
	if *parts < 1 {
		return usagef("--parts %d: want 1 or more", *parts)
	}
	start := time.Now()
	// Stream never holds a month: ten million customers fit in about
	// 1.5 GB, and the default layout is the same bytes as before.
	sums, err := synth.Stream(*out, cfg, synth.StreamOptions{
		WriteOptions: synth.WriteOptions{Overwrite: *overwrite}, Parts: *parts, Gzip: *gz, Incoming: *incoming,
	})
	if errors.Is(err, synth.ErrConfig) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	type monthOut struct {
		Dir      string `json:"dir"`
		AsOf     string `json:"as_of"`
		Rows     int    `json:"rows"`
		Churners int    `json:"churners"`
		Drift    string `json:"drift"`
	}
	var res []monthOut
	for i, m := range sums {
		mo := monthOut{Dir: m.Dir, AsOf: m.AsOf.Format(snapshot.DateLayout), Rows: m.Rows, Churners: m.Churners, Drift: dm[i].String()}
		res = append(res, mo)
		a.printf("%s  as_of=%s  rows=%d  churn=%.1f%%  drift=%s\n", mo.Dir, mo.AsOf, mo.Rows, 100*float64(mo.Churners)/float64(mo.Rows), mo.Drift)
	}
	a.printf("wrote %d months in %s\n", len(res), seconds(time.Since(start)))
	return a.emit(res)
}

func cmdIngest(ctx context.Context, a *app, args []string) error {
	fs := a.flags("ingest")
	a.monthFlags(fs)
	data := fs.String("data", "", "month directory in the lab's layout (users.csv, subscriptions.csv, … or users/part-*.csv[.gz], …)")
	asOf := fs.String("as-of", "", "snapshot date YYYY-MM-DD")
	shardRows := fs.Int("shard-rows", 0, fmt.Sprintf("customers per shard: the month is stored in ceil(rows/N) shards (default %d)", ingest.DefaultRowBudget))
	rowBudget := fs.Int("row-budget", 0, fmt.Sprintf("the training sample stored with a month of more customers (default %d, as run's --row-budget)", dataset.DefaultSampleRows))
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "data", "as-of"); err != nil {
		return err
	}
	if _, err := snapshot.ParseAsOf(*asOf); err != nil {
		return usagef("%v", err)
	}
	if *shardRows < 0 || *rowBudget < 0 {
		return usagef("--shard-rows and --row-budget must be positive")
	}
	a.createsState = true
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	start := time.Now()
	p := a.pipeline(st)
	prog := a.phaseProgress("ingest")
	out, err := p.Ingest(ctx, pipeline.Incoming{Dir: *data, AsOf: *asOf}, pipeline.IngestOptions{
		ShardRows: *shardRows, RowBudget: *rowBudget, Workers: ingestWorkers(), OnProgress: prog,
	})
	if err != nil {
		return err
	}
	note := ""
	if out.AlreadyIngested {
		note = " (already ingested: same data, nothing new stored)"
	}
	if out.OnlineNewerAsOf != "" {
		note += fmt.Sprintf(" (online features left at the newer as_of=%s)", out.OnlineNewerAsOf)
	}
	a.printf("ingested %s as_of=%s: %d customers, %d churners in %d shard(s), %d online feature records -> %s%s [%s]\n",
		*data, out.AsOf, out.Rows, out.Churners, out.Shards, out.OnlineFeatures, out.DatasetKey, note, seconds(time.Since(start)))
	return a.emit(out)
}

func cmdDrift(ctx context.Context, a *app, args []string) error {
	fs := a.flags("drift")
	a.monthFlags(fs)
	ref := fs.String("reference", "", "reference month directory")
	cur := fs.String("current", "", "current month directory")
	out := fs.String("out", "", "output directory for drift.json and drift.html")
	threshold := fs.Float64("threshold", drift.DefaultThreshold, "retrain when the share of drifted columns reaches this")
	refAsOf := fs.String("reference-as-of", "", "as_of of the reference month YYYY-MM-DD (labels the report; default: directory name)")
	curAsOf := fs.String("current-as-of", "", "as_of of the current month YYYY-MM-DD (labels the report; default: directory name)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "reference", "current", "out"); err != nil {
		return err
	}
	// The CSVs carry no date. A given as_of validates signup dates against it
	// and labels the report; without one, the directory names label it.
	load := func(dir, asOf string) (*snapshot.Month, string, error) {
		t := time.Now().UTC()
		label := filepath.Base(filepath.Clean(dir))
		if asOf != "" {
			var err error
			if t, err = snapshot.ParseAsOf(asOf); err != nil {
				return nil, "", usagef("%v", err)
			}
			label = asOf
		}
		m, err := a.loadMonth(ctx, dir, t)
		return m, label, err
	}
	start := time.Now()
	r, refLabel, err := load(*ref, *refAsOf)
	if err != nil {
		return fmt.Errorf("reference: %w", err)
	}
	c, curLabel, err := load(*cur, *curAsOf)
	if err != nil {
		return fmt.Errorf("current: %w", err)
	}
	*refAsOf, *curAsOf = refLabel, curLabel
	rep, err := drift.CompareContext(ctx, r.DriftColumns(), c.DriftColumns(), drift.Options{Threshold: *threshold, Reference: *refAsOf, Current: *curAsOf, Gate: pipeline.DriftGate})
	if errors.Is(err, drift.ErrOptions) {
		return usagef("%v", err)
	}
	if err != nil {
		return err
	}
	var js, html bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return err
	}
	if err := rep.WriteHTML(&html); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(*out, "drift.json"), js.Bytes()); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(*out, "drift.html"), html.Bytes()); err != nil {
		return err
	}
	if a.json {
		_, err := a.stdout.Write(js.Bytes())
		return err
	}
	verdict := "no retrain"
	if rep.Retrain {
		verdict = "RETRAIN"
	}
	a.printf("drift %s vs %s: %d/%d columns drifted, drift_share=%.4f (threshold %.4f) -> %s [%s]\n",
		rep.Reference, rep.Current, rep.DriftedColumns, len(rep.Columns), rep.DriftShare, rep.Threshold, verdict, seconds(time.Since(start)))
	for _, col := range rep.Columns {
		mark := " "
		if col.Drifted {
			mark = "*"
		}
		a.printf("  %s %-30s %-3s %-30s score=%-10.4g threshold=%g\n", mark, col.Column, col.Type, col.Test, col.Score, col.StatThreshold)
	}
	a.printf("wrote %s and %s\n", filepath.Join(*out, "drift.json"), filepath.Join(*out, "drift.html"))
	return nil
}
