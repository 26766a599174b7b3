// Command compare checks churnops' GBDT against the baselines of the
// acceptance bar on the lab's real months: for each month it splits users
// by user hash (snapshot.IsValidation), trains churnops on the train users
// (training.Train, default parameters), writes the same encoded train and
// validation users to a temporary directory, runs compare.py (XGBoost hist
// and a scikit-learn random forest, both single-threaded) on them, scores
// every model's validation predictions with internal/metrics, and prints
// one table: model | val AUC | fit time.
//
// Run it with `make bench-compare`, or from the repository root:
//
//	go run ./bench/compare -data ../shared/data/streamflow
//
// The Go side runs with GOMAXPROCS=1 so the fit times compare
// single-threaded runs. Training is deterministic, so churnops and XGBoost
// are each fitted -reps times (default 5) and the median fit time is shown:
// on a shared machine a single timing is mostly noise.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
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
	"text/tabwriter"
	"time"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/metrics"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/training"
)

// knownAsOf are the as_of dates the course pipeline gives the lab's months.
var knownAsOf = map[string]string{"month_000": "2024-01-31", "month_001": "2024-02-29"}

type config struct {
	data    string
	months  []string
	python  string
	script  string
	keepDir bool
	reps    int
}

func main() {
	var c config
	var months string
	flag.StringVar(&c.data, "data", "../shared/data/streamflow", "directory holding the month_XXX directories")
	flag.StringVar(&months, "months", "month_000,month_001", "comma-separated months to compare")
	flag.StringVar(&c.python, "python", "/usr/bin/python3", "Python with xgboost and scikit-learn")
	flag.StringVar(&c.script, "script", "bench/compare/compare.py", "baseline script")
	flag.BoolVar(&c.keepDir, "keep", false, "keep the temporary directories with the encoded sets")
	flag.IntVar(&c.reps, "reps", 5, "fits of churnops and XGBoost per month; fit time is the median")
	flag.Parse()
	c.months = strings.Split(months, ",")
	if c.reps < 1 {
		fmt.Fprintln(os.Stderr, "compare: -reps must be >= 1")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	if err := run(c, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// row is one line of the result table.
type row struct {
	month, model string
	auc, fitS    float64
	note         string
}

func run(c config, out io.Writer) error {
	var rows []row
	for _, name := range c.months {
		r, err := compareMonth(c, name)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		rows = append(rows, r...)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "month\tmodel\tval AUC\tfit time (s, 1 thread)\t")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%.4f\t%.3f\t%s\n", r.month, r.model, r.auc, r.fitS, r.note)
	}
	return tw.Flush()
}

func compareMonth(c config, name string) ([]row, error) {
	asOfText, ok := knownAsOf[name]
	if !ok {
		asOfText = time.Now().UTC().Format(snapshot.DateLayout)
	}
	asOf, err := snapshot.ParseAsOf(asOfText)
	if err != nil {
		return nil, err
	}
	m, err := snapshot.Load(filepath.Join(c.data, name), asOf)
	if err != nil {
		return nil, err
	}
	// Training is deterministic, so repeated fits only measure time; the
	// median resists the noise of a shared machine.
	var res *training.Result
	var times []float64
	for range c.reps {
		r, err := training.Train(m, training.DefaultParams())
		if err != nil {
			return nil, err
		}
		if res != nil && r.Metrics.AUC != res.Metrics.AUC {
			return nil, fmt.Errorf("training is not deterministic: AUC %v then %v", res.Metrics.AUC, r.Metrics.AUC)
		}
		res = r
		times = append(times, r.Metrics.TrainTimeS)
	}
	model := res.Model
	// Per-row latency on this month's validation users.
	train, val := m.Split()
	vd := training.DatasetOf(val)
	x := make([]float64, model.NumFeatures())
	const reps = 20
	t0 := time.Now()
	var sink float64
	for range reps {
		for i := range len(val) {
			for j := range x {
				x[j] = vd.Cols[j][i]
			}
			sink += model.PredictProba(x)
		}
	}
	perRow := time.Since(t0).Seconds() / float64(reps*len(val)) * 1e6
	_ = sink

	rows := []row{{
		month: name, model: "churnops gbdt", auc: res.Metrics.AUC, fitS: median(times),
		note: fmt.Sprintf(" median of %d fits, %d trees, %.2f µs/row predict, %d train / %d val users", len(times), model.NumTrees(), perRow, len(train), len(val)),
	}}

	dir, err := os.MkdirTemp("", "churnops-compare-")
	if err != nil {
		return nil, err
	}
	if !c.keepDir {
		defer os.RemoveAll(dir)
	} else {
		fmt.Fprintln(os.Stderr, "encoded sets in", dir)
	}
	td := training.DatasetOf(train)
	if err := writeEncoded(filepath.Join(dir, "train.csv"), &td); err != nil {
		return nil, err
	}
	if err := writeEncoded(filepath.Join(dir, "val.csv"), &vd); err != nil {
		return nil, err
	}
	cmd := exec.Command(c.python, c.script, dir, strconv.Itoa(c.reps))
	var stdout bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("run %s %s: %w", c.python, c.script, err)
	}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		var r struct {
			Model      string  `json:"model"`
			FitS       float64 `json:"fit_s"`
			SklearnAUC float64 `json:"sklearn_auc"`
			Version    string  `json:"version"`
			Fits       int     `json:"fits"`
		}
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return nil, fmt.Errorf("baseline output %q: %w", sc.Text(), err)
		}
		scores, err := readScores(filepath.Join(dir, r.Model+"_scores.csv"))
		if err != nil {
			return nil, err
		}
		auc, err := metrics.AUC(vd.Label, scores)
		if err != nil {
			return nil, fmt.Errorf("%s scores: %w", r.Model, err)
		}
		if math.Abs(auc-r.SklearnAUC) > 1e-9 {
			return nil, fmt.Errorf("%s: Go AUC %.12f, sklearn %.12f", r.Model, auc, r.SklearnAUC)
		}
		rows = append(rows, row{month: name, model: r.Model + " " + r.Version, auc: auc, fitS: r.FitS, note: fmt.Sprintf(" median of %d fit(s)", r.Fits)})
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

// writeEncoded writes a dataset as CSV: the feature columns by name, then
// label; missing values are empty fields.
func writeEncoded(path string, d *gbdt.Dataset) error {
	var b bytes.Buffer
	for _, f := range d.Features {
		b.WriteString(f.Name)
		b.WriteByte(',')
	}
	b.WriteString("label\n")
	for i := range d.Label {
		for j := range d.Features {
			if v := d.Cols[j][i]; !math.IsNaN(v) {
				b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
			}
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(d.Label[i], 'g', -1, 64))
		b.WriteByte('\n')
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

func readScores(path string) ([]float64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []float64
	for _, line := range strings.Fields(string(b)) {
		v, err := strconv.ParseFloat(line, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, v)
	}
	return out, nil
}
