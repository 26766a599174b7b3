package drift

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/churnops/churnops/internal/snapshot"
)

// WriteJSON writes the report as indented JSON: the document the pipeline
// stores next to the HTML and the state machine's gate reads drift_share
// from.
func (r *Report) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode drift report: %w", err)
	}
	b = append(b, '\n')
	if _, err := w.Write(b); err != nil {
		return fmt.Errorf("write drift report: %w", err)
	}
	return nil
}

//go:embed report.html.tmpl
var reportHTML string

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"f1": func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
}).Parse(reportHTML))

// WriteHTML writes the report as one self-contained HTML page (inline CSS
// and SVG, no script, no external asset) for people: the verdict and
// drift share on top, then every column, drifted ones first, with its
// test and a reference-vs-current chart.
func (r *Report) WriteHTML(w io.Writer) error {
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, newPage(r)); err != nil {
		return fmt.Errorf("render drift report html: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("write drift report html: %w", err)
	}
	return nil
}

// Documents is a report with both renderings, ready to store.
type Documents struct {
	Report *Report
	JSON   []byte
	HTML   []byte
}

// Build compares two months (see Compare) and renders the JSON and HTML
// reports in one call, for the pipeline step and the CLI.
func Build(ref, cur []snapshot.Column, opts Options) (*Documents, error) {
	rep, err := Compare(ref, cur, opts)
	if err != nil {
		return nil, err
	}
	return rep.documents()
}

// BuildSummaries is Build on two months' summaries (see CompareSummaries).
func BuildSummaries(ref, cur *Summary, opts Options) (*Documents, error) {
	rep, err := CompareSummaries(ref, cur, opts)
	if err != nil {
		return nil, err
	}
	return rep.documents()
}

func (r *Report) documents() (*Documents, error) {
	var js, html bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		return nil, err
	}
	if err := r.WriteHTML(&html); err != nil {
		return nil, err
	}
	return &Documents{Report: r, JSON: js.Bytes(), HTML: html.Bytes()}, nil
}

// page is the view the HTML template renders: every number already
// formatted and every chart already laid out.
type page struct {
	Reference, Current string
	Drifted, Total     int
	SharePct           string
	ThresholdPct       string
	Retrain            bool
	GaugeShare         float64 // 0..100: width of the gauge fill, in % of the gauge
	GaugeThreshold     float64 // 0..100: position of the threshold mark
	GaugeMaxPct        string  // the drift share at the gauge's right end
	Columns            []columnView
}

type columnView struct {
	ID          string
	Name, Type  string
	Test, Score string
	Threshold   string
	Rule        string
	Drifted     bool
	NRef, NCur  int
	Distinct    int
	Chart       chart
}

// chart is a grouped bar chart: for each bin, the share of reference rows
// and the share of current rows.
type chart struct {
	Width, Height int
	PlotLeft      float64
	PlotBottom    float64
	PlotRight     float64
	Title, Desc   string
	Bars          []bar
	XLabels       []axisLabel
	YTicks        []tick
	Rows          []chartRow
}

// tick is a y-axis label at (X, Y) with a grid line from X1 to X2.
type tick struct {
	X, Y, X1, X2 float64
	Text         string
}

type bar struct {
	X, Y, W, H float64
	Current    bool
	Tip        string
}

type axisLabel struct {
	X, Y float64
	Text string
}

type chartRow struct {
	Label            string
	RefCount, RefPct string
	CurCount, CurPct string
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
	}
	gmax := gaugeMax(r.DriftShare, r.Threshold)
	p.GaugeShare = 100 * clip01(r.DriftShare/gmax)
	p.GaugeThreshold = 100 * clip01(r.Threshold/gmax)
	p.GaugeMaxPct = pct(gmax)
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
		c := &r.Columns[i]
		id := "col-" + strconv.Itoa(n)
		p.Columns = append(p.Columns, columnView{
			ID:        id,
			Name:      c.Column,
			Type:      typeName(c.Type),
			Test:      c.Test,
			Score:     formatScore(c.Score),
			Threshold: strconv.FormatFloat(c.StatThreshold, 'g', -1, 64),
			Rule:      rule(c.Test, c.StatThreshold),
			Drifted:   c.Drifted,
			NRef:      c.NReference,
			NCur:      c.NCurrent,
			Distinct:  c.Distinct,
			Chart:     newChart(c, p.Reference, p.Current),
		})
	}
	return p
}

// gaugeMax picks the right end of the drift-share gauge: the smallest round
// share that leaves room past both the share and the threshold, so that a
// 2% threshold is not a hairline on a 0–100% bar.
func gaugeMax(share, threshold float64) float64 {
	need := 1.25 * math.Max(share, threshold)
	for _, m := range []float64{0.05, 0.1, 0.2, 0.25, 0.5} {
		if need <= m {
			return m
		}
	}
	return 1
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

func pct(v float64) string {
	s := strconv.FormatFloat(100*v, 'f', 1, 64)
	if len(s) > 2 && s[len(s)-2:] == ".0" {
		s = s[:len(s)-2]
	}
	return s + "%"
}

func typeName(t string) string {
	if t == snapshot.Categorical.String() {
		return "categorical"
	}
	return "numerical"
}

func formatScore(v float64) string {
	if v != 0 && math.Abs(v) < 1e-4 {
		return strconv.FormatFloat(v, 'e', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// rule spells out the drift rule of a test, so the reader need not know
// which tests are p-values and which are distances.
func rule(test string, threshold float64) string {
	t := strconv.FormatFloat(threshold, 'g', -1, 64)
	switch test {
	case TestKS:
		return "drift if p ≤ " + t
	case TestChiSquare, TestZ:
		return "drift if p < " + t
	}
	return "drift if distance ≥ " + t
}

// Chart geometry, in SVG user units.
const (
	chartWidth  = 560
	chartHeight = 230
	plotLeft    = 52
	plotRight   = 8
	plotTop     = 12
	plotBottom  = 64 // room for slanted bin labels
	maxXLabels  = 12
)

func newChart(c *ColumnResult, refLabel, curLabel string) chart {
	h := c.Histogram
	ch := chart{
		Width:      chartWidth,
		Height:     chartHeight,
		PlotLeft:   plotLeft,
		PlotBottom: chartHeight - plotBottom,
		PlotRight:  chartWidth - plotRight,
		Title:      "Distribution of " + c.Column + ": reference vs current",
	}
	nRef, nCur := float64(max(c.NReference, 1)), float64(max(c.NCurrent, 1))
	maxShare := 0.0
	for i := range h.Labels {
		maxShare = math.Max(maxShare, math.Max(float64(h.Reference[i])/nRef, float64(h.Current[i])/nCur))
	}
	if maxShare == 0 {
		maxShare = 1
	}
	plotW := float64(chartWidth - plotLeft - plotRight)
	plotH := float64(chartHeight - plotTop - plotBottom)
	groupW := plotW / float64(max(len(h.Labels), 1))
	barW := math.Min(groupW*0.4, 44)
	gap := (groupW - 2*barW) / 2
	step := (len(h.Labels) + maxXLabels - 1) / maxXLabels
	var largestShift string
	largest := -1.0
	for i, label := range h.Labels {
		rs, cs := float64(h.Reference[i])/nRef, float64(h.Current[i])/nCur
		x := plotLeft + float64(i)*groupW + gap
		for _, b := range []struct {
			share float64
			cur   bool
			count int
			name  string
		}{{rs, false, h.Reference[i], "reference"}, {cs, true, h.Current[i], "current"}} {
			bh := plotH * b.share / maxShare
			ch.Bars = append(ch.Bars, bar{
				X: x, Y: plotTop + plotH - bh, W: barW, H: bh, Current: b.cur,
				Tip: fmt.Sprintf("%s, %s: %d rows (%s)", label, b.name, b.count, pct(b.share)),
			})
			x += barW
		}
		if i%step == 0 {
			ch.XLabels = append(ch.XLabels, axisLabel{X: plotLeft + (float64(i)+0.5)*groupW + 4, Y: plotTop + plotH + 14, Text: shorten(label, 18)})
		}
		if d := math.Abs(cs - rs); d > largest {
			largest, largestShift = d, label
		}
		ch.Rows = append(ch.Rows, chartRow{
			Label:    label,
			RefCount: strconv.Itoa(h.Reference[i]), RefPct: pct(rs),
			CurCount: strconv.Itoa(h.Current[i]), CurPct: pct(cs),
		})
	}
	for _, f := range []float64{0, 0.5, 1} {
		ch.YTicks = append(ch.YTicks, tick{
			X: plotLeft - 6, Y: plotTop + plotH - plotH*f, X1: plotLeft, X2: chartWidth - plotRight,
			Text: pct(maxShare * f),
		})
	}
	kind := "bins"
	if h.Edges == nil {
		kind = "values"
	}
	ch.Desc = fmt.Sprintf("Grouped bar chart over %d %s: share of rows per bin in the reference (%s, %d rows) and the current month (%s, %d rows).",
		len(h.Labels), kind, refLabel, c.NReference, curLabel, c.NCurrent)
	if largest >= 0 {
		ch.Desc += fmt.Sprintf(" Largest change: %s, by %s points.", largestShift, strconv.FormatFloat(100*largest, 'f', 1, 64))
	}
	return ch
}

func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
