package drift_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

type evidentlyExpected struct {
	Versions map[string]string `json:"versions"`
	Cases    []struct {
		Name           string  `json:"name"`
		Reference      [][]any `json:"reference"` // [month, start, end|null]
		Current        [][]any `json:"current"`
		DriftedColumns int     `json:"drifted_columns"`
		DriftShare     float64 `json:"drift_share"`
		Columns        []struct {
			Column        string  `json:"column"`
			Test          string  `json:"test"`
			Score         float64 `json:"score"`
			StatThreshold float64 `json:"stat_threshold"`
			Drifted       bool    `json:"drifted"`
		} `json:"columns"`
	} `json:"cases"`
}

// slicesOf turns a testdata side spec into month slices.
func slicesOf(tb testing.TB, months map[string]rawMonth, spec [][]any) []slice {
	tb.Helper()
	var out []slice
	for _, s := range spec {
		name := s[0].(string)
		m, ok := months[name]
		if !ok {
			m = readMonth(tb, name)
			months[name] = m
		}
		end := -1
		if s[2] != nil {
			end = int(s[2].(float64))
		}
		out = append(out, slice{month: m, start: int(s[1].(float64)), end: end})
	}
	return out
}

// TestCompareMatchesEvidently runs Compare on the lab's sample months and
// compares every column with Evidently 0.7's DataDriftPreset on the same
// rows: full months (Wasserstein/Jensen–Shannon), small slices (K-S exact,
// chi-square, Z-test) and a current side of 14,086 rows (K-S asymptotic).
func TestCompareMatchesEvidently(t *testing.T) {
	var want evidentlyExpected
	loadJSON(t, "testdata/evidently_expected.json", &want)
	months := map[string]rawMonth{}
	for _, c := range want.Cases {
		t.Run(c.Name, func(t *testing.T) {
			ref := columns(t, slicesOf(t, months, c.Reference)...)
			cur := columns(t, slicesOf(t, months, c.Current)...)
			rep, err := drift.Compare(ref, cur, drift.Options{Threshold: drift.DefaultThreshold, Gate: atOrAbove})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Columns) != len(c.Columns) {
				t.Fatalf("%d columns, want %d", len(rep.Columns), len(c.Columns))
			}
			for i, w := range c.Columns {
				got := rep.Columns[i]
				if got.Column != w.Column || got.Test != w.Test || got.StatThreshold != w.StatThreshold {
					t.Errorf("column %d: %s %q threshold %v, want %s %q threshold %v",
						i, got.Column, got.Test, got.StatThreshold, w.Column, w.Test, w.StatThreshold)
					continue
				}
				assertClose(t, w.Column+" score", got.Score, w.Score)
				if got.Drifted != w.Drifted {
					t.Errorf("%s drifted = %v, want %v (score %g)", w.Column, got.Drifted, w.Drifted, got.Score)
				}
			}
			if rep.DriftedColumns != c.DriftedColumns {
				t.Errorf("drifted columns = %d, want %d", rep.DriftedColumns, c.DriftedColumns)
			}
			assertClose(t, "drift share", rep.DriftShare, c.DriftShare)
			if wantRetrain := c.DriftShare >= drift.DefaultThreshold; rep.Retrain != wantRetrain {
				t.Errorf("retrain = %v, want %v", rep.Retrain, wantRetrain)
			}
			// The lab's rows summarized in three chunks and merged give the
			// same report, to the byte.
			sharded, err := drift.CompareSummaries(chunked(t, ref, 3), chunked(t, cur, 3), drift.Options{Threshold: drift.DefaultThreshold, Gate: atOrAbove})
			if got, want := mustJSON(t, sharded), mustJSON(t, rep); err != nil || got != want {
				t.Errorf("summaries of three chunks give another report (err %v):\n%s", err, firstDiff([]byte(got), []byte(want)))
			}
		})
	}
}

// synthetic builds a numerical and a categorical column of n rows.
func synthetic(n int, seed uint64, shift float64, catShare float64) []snapshot.Column {
	r := rand.New(rand.NewPCG(seed, 1))
	num := make([]float64, n)
	cat := make([]string, n)
	for i := range num {
		num[i] = 30 + 10*r.NormFloat64() + shift
		if r.Float64() < catShare {
			cat[i] = "Fiber optic"
		} else {
			cat[i] = "DSL"
		}
	}
	return []snapshot.Column{
		{Name: "watch_hours_30d", Kind: snapshot.Numerical, Num: num},
		{Name: "net_service", Kind: snapshot.Categorical, Cat: cat},
	}
}

// TestCompareDetectsInjectedDrift checks both regimes (n <= 1000: K-S and
// Z-test; n > 1000: Wasserstein and Jensen–Shannon) on generated data: a
// shift of half a standard deviation and a 25-point change of a category
// share are drifts; another sample of the same law and the very same sample
// are not.
func TestCompareDetectsInjectedDrift(t *testing.T) {
	for _, n := range []int{500, 5000} {
		ref := synthetic(n, 1, 0, 0.3)
		cases := []struct {
			name    string
			cur     []snapshot.Column
			drifted []bool
		}{
			{"identical sample", ref, []bool{false, false}},
			{"same law", synthetic(n, 2, 0, 0.3), []bool{false, false}},
			{"numerical shift", synthetic(n, 3, 5, 0.3), []bool{true, false}},
			{"category share", synthetic(n, 4, 0, 0.55), []bool{false, true}},
			{"both", synthetic(n, 5, 5, 0.55), []bool{true, true}},
		}
		for _, c := range cases {
			t.Run(c.name+"/n="+itoa(n), func(t *testing.T) {
				rep, err := drift.Compare(ref, c.cur, drift.Options{Threshold: 0.5, Gate: atOrAbove})
				if err != nil {
					t.Fatal(err)
				}
				nDrifted := 0
				for i, col := range rep.Columns {
					if col.Drifted != c.drifted[i] {
						t.Errorf("%s (%s = %g): drifted = %v, want %v", col.Column, col.Test, col.Score, col.Drifted, c.drifted[i])
					}
					if c.drifted[i] {
						nDrifted++
					}
				}
				if rep.DriftedColumns != nDrifted || rep.DriftShare != float64(nDrifted)/2 || rep.Retrain != (nDrifted >= 1) {
					t.Errorf("drifted %d share %v retrain %v, want %d drifted", rep.DriftedColumns, rep.DriftShare, rep.Retrain, nDrifted)
				}
				if c.name == "identical sample" {
					for _, col := range rep.Columns {
						if want := map[bool]float64{true: 1, false: 0}[strings.HasSuffix(col.Test, "p_value")]; col.Score != want {
							t.Errorf("%s on identical samples scored %g, want %g", col.Test, col.Score, want)
						}
					}
				}
			})
		}
	}
}

// TestCompareTestChoice checks which test Evidently's rules pick at the
// boundaries: n = 1000 vs 1001 reference values, k = 2, 3, 5, 6 distinct
// values, and that missing and infinite values are dropped before counting.
func TestCompareTestChoice(t *testing.T) {
	column := func(kind snapshot.Kind, n, k int, missingEvery int) snapshot.Column {
		c := snapshot.Column{Name: "x", Kind: kind}
		for i := 0; i < n; i++ {
			if missingEvery > 0 && i%missingEvery == 0 {
				c.Num = append(c.Num, math.Inf(1))
				c.Cat = append(c.Cat, "")
				continue
			}
			c.Num = append(c.Num, float64(i%k))
			c.Cat = append(c.Cat, "v"+itoa(i%k))
		}
		if kind == snapshot.Numerical {
			c.Cat = nil
		} else {
			c.Num = nil
		}
		return c
	}
	cases := []struct {
		kind         snapshot.Kind
		n, k, nanGap int
		want         string
	}{
		{snapshot.Numerical, 1000, 6, 0, drift.TestKS},
		{snapshot.Numerical, 1000, 5, 0, drift.TestChiSquare},
		{snapshot.Numerical, 1000, 3, 0, drift.TestChiSquare},
		{snapshot.Numerical, 1000, 2, 0, drift.TestZ},
		{snapshot.Numerical, 1001, 6, 0, drift.TestWasserstein},
		{snapshot.Numerical, 1001, 5, 0, drift.TestJS},
		{snapshot.Numerical, 1100, 6, 10, drift.TestKS}, // 990 finite values
		{snapshot.Categorical, 1000, 3, 0, drift.TestChiSquare},
		{snapshot.Categorical, 1000, 2, 0, drift.TestZ},
		{snapshot.Categorical, 1001, 2, 0, drift.TestJS},
		{snapshot.Categorical, 1100, 37, 10, drift.TestChiSquare}, // 990 non-missing values
	}
	for _, c := range cases {
		t.Run(c.kind.String()+"/n="+itoa(c.n)+"/k="+itoa(c.k)+"/missing="+itoa(c.nanGap), func(t *testing.T) {
			col := column(c.kind, c.n, c.k, c.nanGap)
			rep, err := drift.Compare([]snapshot.Column{col}, []snapshot.Column{col}, drift.Options{})
			if err != nil {
				t.Fatal(err)
			}
			got := rep.Columns[0]
			if got.Test != c.want {
				t.Errorf("test %q, want %q", got.Test, c.want)
			}
			wantN := c.n
			if c.nanGap > 0 {
				wantN -= (c.n + c.nanGap - 1) / c.nanGap
			}
			if got.NReference != wantN || got.NCurrent != wantN || got.Distinct != c.k {
				t.Errorf("n = %d/%d, distinct = %d; want %d, %d", got.NReference, got.NCurrent, got.Distinct, wantN, c.k)
			}
		})
	}
}

func TestCompareRejectsBadInput(t *testing.T) {
	num := func(name string, v ...float64) snapshot.Column {
		return snapshot.Column{Name: name, Kind: snapshot.Numerical, Num: v}
	}
	cat := func(name string, v ...string) snapshot.Column {
		return snapshot.Column{Name: name, Kind: snapshot.Categorical, Cat: v}
	}
	ok := []snapshot.Column{num("a", 1, 2), cat("b", "x", "y")}
	cases := []struct {
		name     string
		ref, cur []snapshot.Column
		opts     drift.Options
		want     error
	}{
		{"missing from current", ok, ok[:1], drift.Options{}, drift.ErrSchema},
		{"missing from reference", ok[:1], ok, drift.Options{}, drift.ErrSchema},
		{"kind mismatch", ok, []snapshot.Column{num("a", 1), num("b", 1)}, drift.Options{}, drift.ErrSchema},
		{"duplicate", []snapshot.Column{ok[0], ok[0]}, ok[:1], drift.Options{}, drift.ErrSchema},
		{"no columns", nil, nil, drift.Options{}, drift.ErrSchema},
		{"numerical without numbers", []snapshot.Column{{Name: "a"}}, []snapshot.Column{{Name: "a"}}, drift.Options{}, drift.ErrSchema},
		{"all missing", []snapshot.Column{num("a", math.NaN(), math.Inf(-1))}, ok[:1], drift.Options{}, drift.ErrEmptyColumn},
		{"all missing categorical", ok, []snapshot.Column{ok[0], cat("b", "", "")}, drift.Options{}, drift.ErrEmptyColumn},
		{"threshold above 1", ok, ok, drift.Options{Threshold: 1.5}, drift.ErrOptions},
		{"threshold NaN", ok, ok, drift.Options{Threshold: math.NaN()}, drift.ErrOptions},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := drift.Compare(c.ref, c.cur, c.opts)
			if !errors.Is(err, c.want) {
				t.Fatalf("err = %v, want %v", err, c.want)
			}
			if rep != nil {
				t.Errorf("report %+v returned with an error", rep)
			}
		})
	}
}

// TestCompareCategoricalFromNumbers checks that a categorical column given
// only as 0/1/NaN numbers is tested like its "False"/"True"/"" spelling.
func TestCompareCategoricalFromNumbers(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	asNum := func(share float64) (snapshot.Column, snapshot.Column) {
		n := snapshot.Column{Name: "b", Kind: snapshot.Categorical}
		s := snapshot.Column{Name: "b", Kind: snapshot.Categorical}
		for i := 0; i < 3000; i++ {
			o := snapshot.Missing
			if i%7 != 0 {
				o = snapshot.Of(r.Float64() < share)
			}
			n.Num = append(n.Num, o.Float())
			s.Cat = append(s.Cat, o.String())
		}
		return n, s
	}
	refN, refS := asNum(0.3)
	curN, curS := asNum(0.4)
	a, err := drift.Compare([]snapshot.Column{refN}, []snapshot.Column{curN}, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := drift.Compare([]snapshot.Column{refS}, []snapshot.Column{curS}, drift.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Columns[0].Score != b.Columns[0].Score || a.Columns[0].NReference != b.Columns[0].NReference || a.Columns[0].Score == 0 {
		t.Errorf("numbers: %+v; strings: %+v", a.Columns[0], b.Columns[0])
	}
}

// chunked summarizes columns in k chunks of consecutive rows and merges
// the chunks' summaries, last chunk first.
func chunked(tb testing.TB, cols []snapshot.Column, k int) *drift.Summary {
	tb.Helper()
	n := max(len(cols[0].Num), len(cols[0].Cat))
	var parts []*drift.Summary
	for i := range k {
		part := sliceRows(cols, i*n/k, (i+1)*n/k)
		s, err := drift.Summarize(part)
		if err != nil {
			tb.Fatal(err)
		}
		parts = append([]*drift.Summary{s}, parts...)
	}
	m, err := drift.Merge(parts...)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}
