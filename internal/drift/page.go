package drift

import (
	"slices"
	"strconv"

	"github.com/churnops/churnops/internal/snapshot"
)

// page is the view the HTML template renders: every number already
// formatted (format.go) and every chart already laid out (chart.go).
type page struct {
	Reference, Current string
	GeneratedAt        string // "" when the report has no generation time
	Sources            []sourceView
	Drifted, Total     int
	SharePct           string
	ThresholdPct       string
	Retrain            bool
	Gauge              gauge
	Columns            []columnView
}

// sourceView is one month's provenance row.
type sourceView struct {
	Role, AsOf, Rows     string
	Dataset, Fingerprint string
	Shards               string
}

// gauge is the drift-share bar, on a fixed 0–100% scale so that reports
// compare at a glance; the threshold label sits at its mark, anchored so
// that it stays inside the bar near either end.
type gauge struct {
	Share, Threshold float64 // 0..100: fill width and mark position, in %
	Anchor           string  // "start", "middle" or "end": the label's alignment
	Ticks            []gaugeTick
}

type gaugeTick struct {
	Pos  float64
	Text string
}

type columnView struct {
	ID          string
	Name, Type  string
	Test, Score string
	Rule        string
	Drifted     bool
	NRef, NCur  string
	Distinct    string
	MissingRef  string // "1,526 (21.7%)"
	MissingCur  string
	Notes       []string // short notes for the table: constant, approximate
	Constant    string   // the sentence explaining a constant column, or ""
	Approx      string   // the sentence explaining an approximation, or ""
	Stats       []statRow
	Chart       chart
}

// statRow is one line of a column's statistics table: a label and each
// month's value (several lines for top categories).
type statRow struct {
	Label    string
	Ref, Cur []string
}

func newPage(r *Report) page {
	p := page{
		Reference:    orDash(r.Reference),
		Current:      orDash(r.Current),
		Drifted:      r.DriftedColumns,
		Total:        len(r.Columns),
		SharePct:     pct(r.DriftShare),
		ThresholdPct: pct(r.Threshold),
		Retrain:      r.Retrain,
		Gauge:        newGauge(r.DriftShare, r.Threshold),
	}
	if !r.GeneratedAt.IsZero() {
		p.GeneratedAt = formatTime(r.GeneratedAt)
	}
	for _, s := range []struct {
		role, asOf string
		prov       Provenance
	}{{"Reference", p.Reference, r.ReferenceData}, {"Current", p.Current, r.CurrentData}} {
		v := sourceView{Role: s.role, AsOf: s.asOf, Rows: formatCount(s.prov.Rows),
			Dataset: orDash(s.prov.Dataset), Fingerprint: orDash(s.prov.Fingerprint), Shards: "—"}
		if s.prov.Shards > 0 {
			v.Shards = formatCount(s.prov.Shards)
		}
		p.Sources = append(p.Sources, v)
	}
	order := make([]int, len(r.Columns))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		da, db := r.Columns[a].Drifted, r.Columns[b].Drifted
		switch {
		case da && !db:
			return -1
		case db && !da:
			return 1
		}
		return 0
	})
	for n, i := range order {
		p.Columns = append(p.Columns, newColumnView("col-"+strconv.Itoa(n), &r.Columns[i], p.Reference, p.Current))
	}
	return p
}

// newGauge lays out the drift-share gauge on its fixed 0–100% scale.
func newGauge(share, threshold float64) gauge {
	g := gauge{Share: 100 * clip01(share), Threshold: 100 * clip01(threshold), Anchor: "middle"}
	switch {
	case g.Threshold < 12:
		g.Anchor = "start"
	case g.Threshold > 88:
		g.Anchor = "end"
	}
	for _, f := range []float64{0, 0.25, 0.5, 0.75, 1} {
		g.Ticks = append(g.Ticks, gaugeTick{Pos: 100 * f, Text: strconv.Itoa(int(100*f)) + "%"})
	}
	return g
}

func newColumnView(id string, c *ColumnResult, refLabel, curLabel string) columnView {
	v := columnView{
		ID:         id,
		Name:       c.Column,
		Type:       typeName(c.Type),
		Test:       c.Test,
		Score:      formatScore(c.Score),
		Rule:       rule(c.Test, c.StatThreshold),
		Drifted:    c.Drifted,
		NRef:       formatCount(c.NReference),
		NCur:       formatCount(c.NCurrent),
		Distinct:   formatCount(c.Distinct),
		MissingRef: missing(c.Reference),
		MissingCur: missing(c.Current),
		Stats:      statRows(c),
		Chart:      newChart(c, refLabel, curLabel),
	}
	if c.Constant {
		v.Notes = append(v.Notes, "constant")
		value := "the same value"
		if len(c.Histogram.Labels) == 1 {
			value = binLabels(c)[0]
		}
		v.Constant = "Constant: every tested value is " + value + " in both months, so no test can show drift in this column."
	}
	if a := c.Approximation; a != nil {
		v.Notes = append(v.Notes, "approximate")
		v.Approx = "Approximate: to keep the month's summary small, values were truncated to " +
			strconv.Itoa(min(a.ReferenceBits, a.CurrentBits)) + " significant bits (relative error below " +
			formatNumber(a.RelativeError) + ")"
		if a.ScoreBound != nil {
			v.Approx += "; the exact score is within ±" + formatNumber(*a.ScoreBound) + " of " + v.Score
		}
		v.Approx += "."
	}
	return v
}

// missing writes a month's dropped values: missing ones, and infinite
// ones when there are any.
func missing(s ColumnStats) string {
	out := formatCount(s.Missing) + " (" + pct(share(s.Missing, s.Rows)) + ")"
	if s.Infinite > 0 {
		out += " + " + formatCount(s.Infinite) + " infinite"
	}
	return out
}

func share(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// statRows lays out a column's statistics, reference and current side by
// side.
func statRows(c *ColumnResult) []statRow {
	r, k := c.Reference, c.Current
	one := func(label, a, b string) statRow { return statRow{Label: label, Ref: []string{a}, Cur: []string{b}} }
	rows := []statRow{
		one("Rows", formatCount(r.Rows), formatCount(k.Rows)),
		one("Missing", missing(r), missing(k)),
		one("Tested values", formatCount(c.NReference), formatCount(c.NCurrent)),
		one("Distinct", formatCount(r.Distinct), formatCount(k.Distinct)),
	}
	if c.Type == snapshot.Categorical.String() {
		top := func(s ColumnStats, n int) []string {
			var out []string
			for _, t := range s.Top {
				out = append(out, t.Value+": "+formatCount(t.Count)+" ("+pct(share(t.Count, n))+")")
			}
			if len(s.Top) < s.Distinct {
				out = append(out, "… "+formatCount(s.Distinct-len(s.Top))+" more")
			}
			return out
		}
		return append(rows, statRow{Label: "Top categories (share of tested values)", Ref: top(r, c.NReference), Cur: top(k, c.NCurrent)})
	}
	if r.Numeric == nil || k.Numeric == nil {
		return rows
	}
	a, b := r.Numeric, k.Numeric
	for _, s := range []struct {
		label string
		a, b  float64
	}{
		{"Mean", a.Mean, b.Mean}, {"Std", a.Std, b.Std}, {"Min", a.Min, b.Min}, {"25%", a.P25, b.P25},
		{"Median", a.Median, b.Median}, {"75%", a.P75, b.P75}, {"Max", a.Max, b.Max},
	} {
		fa, fb := formatPair(s.a, s.b)
		rows = append(rows, one(s.label, fa, fb))
	}
	return rows
}
