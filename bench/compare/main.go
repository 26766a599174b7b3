// Command compare measures churnops' GBDT against its peers on the same
// train and validation users, in the same run.
//
// Lab mode (the default) takes the lab's real months. Scale mode (-scale N)
// generates one month of N customers with `churnops gen --users N` into a
// temporary directory (deleted at the end) and takes that. For each month
// it splits users by user hash (snapshot.IsValidation), fits churnops on
// the train users (training.Fit, training.Train's fit, default parameters;
// timed alone, like the peers' fits) -reps times for
// each thread count of -threads (GOMAXPROCS), checks that every fit gave
// the same model byte for byte, writes the same encoded train and
// validation users for compare.py, runs the peers there (scikit-learn
// HistGradientBoosting, XGBoost hist, LightGBM, and in lab mode a random
// forest) on the same number of threads (n_jobs / nthread / num_threads and
// OMP_NUM_THREADS), scores every model's validation predictions with
// internal/metrics, and prints one table: fit time (median of the fits),
// validation AUC, and each peer's fit time and AUC against churnops' at the
// same thread count.
//
// The peers come from PyPI, pinned, in the venv bench/compare/venv.sh
// creates (.venv-bench, git-ignored): benchmark baselines, never a runtime
// dependency. Run it with `make bench-compare [SCALE=1000000]`, or:
//
//	go run ./bench/compare -python "$(bench/compare/venv.sh)" -data ../shared/data/streamflow
//	go run ./bench/compare -python "$(bench/compare/venv.sh)" -scale 1000000 -tmp /tmp
//
// On a shared machine a single timing is mostly noise: compare the figures
// of one run side by side, and re-measure on a quiet machine.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// knownAsOf are the as_of dates the course pipeline gives the lab's months.
var knownAsOf = map[string]string{"month_000": "2024-01-31", "month_001": "2024-02-29"}

type config struct {
	data    string
	months  []string
	scale   int
	seed    int
	tmp     string
	python  string
	script  string
	models  []string
	threads []int
	reps    int
	keep    bool
}

func main() {
	var c config
	var months, models, threads string
	flag.StringVar(&c.data, "data", "../shared/data/streamflow", "lab mode: directory holding the month_XXX directories")
	flag.StringVar(&months, "months", "month_000,month_001", "lab mode: comma-separated months to compare")
	flag.IntVar(&c.scale, "scale", 0, "scale mode: generate one month of this many customers (churnops gen --users N)")
	flag.IntVar(&c.seed, "seed", 42, "scale mode: generator seed")
	flag.StringVar(&c.tmp, "tmp", "", "where the generated month and the encoded sets go (default: the system's temporary directory)")
	flag.StringVar(&c.python, "python", ".venv-bench/bin/python", "Python with the pinned peers (bench/compare/venv.sh prints it)")
	flag.StringVar(&c.script, "script", "bench/compare/compare.py", "peers script")
	flag.StringVar(&models, "models", "", "peers (hgb, xgboost, lightgbm, random_forest); default: all four in lab mode, the first three at scale")
	flag.StringVar(&threads, "threads", "", "comma-separated thread counts (default: 1 in lab mode, 1,2 at scale)")
	flag.IntVar(&c.reps, "reps", 0, "fits per model and thread count; fit time is the median (default: 5 in lab mode, 3 at scale)")
	flag.BoolVar(&c.keep, "keep", false, "keep the temporary directory (generated month, encoded sets)")
	flag.Parse()
	c.months = strings.Split(months, ",")
	c.models = split(models, "hgb,xgboost,lightgbm,random_forest", "hgb,xgboost,lightgbm", c.scale > 0)
	var err error
	if c.threads, err = ints(split(threads, "1", "1,2", c.scale > 0)); err != nil || c.reps < 0 {
		fmt.Fprintln(os.Stderr, "compare: bad -threads or -reps")
		os.Exit(2)
	}
	if c.reps == 0 {
		c.reps = 5
		if c.scale > 0 {
			c.reps = 3
		}
	}
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func split(s, lab, scale string, atScale bool) []string {
	if s == "" {
		s = lab
		if atScale {
			s = scale
		}
	}
	return strings.Split(s, ",")
}

func ints(ss []string) ([]int, error) {
	out := make([]int, len(ss))
	for i, s := range ss {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return nil, errors.New("bad count " + s)
		}
		out[i] = n
	}
	return out, nil
}

func run(c config, out io.Writer) error {
	work, err := os.MkdirTemp(c.tmp, "churnops-compare-")
	if err != nil {
		return err
	}
	if c.keep {
		fmt.Fprintln(os.Stderr, "compare: keeping", work)
	} else {
		defer os.RemoveAll(work)
	}
	var rows []row
	if c.scale > 0 {
		dir, err := generate(c, work)
		if err != nil {
			return err
		}
		r, err := compareMonth(c, work, dir, fmt.Sprintf("gen %d", c.scale), "2024-01-31")
		if err != nil {
			return err
		}
		rows = r
	} else {
		for _, name := range c.months {
			asOf, ok := knownAsOf[name]
			if !ok {
				return fmt.Errorf("%s: no known as_of date", name)
			}
			r, err := compareMonth(c, work, c.data+"/"+name, name, asOf)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			rows = append(rows, r...)
		}
	}
	return printTable(out, rows)
}
