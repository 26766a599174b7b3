package drift

import (
	"fmt"
	"math"
	"strconv"

	"github.com/churnops/churnops/internal/snapshot"
)

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

// binLabels names a histogram's bins for people, numbers formatted as
// everywhere else in the page: "lo – hi" for numerical bins (half-open
// but the last), the value for one-value bins, the category otherwise.
func binLabels(c *ColumnResult) []string {
	h := c.Histogram
	out := make([]string, len(h.Labels))
	for i, l := range h.Labels {
		switch {
		case h.Edges != nil:
			out[i] = formatNumber(h.Edges[i]) + " – " + formatNumber(h.Edges[i+1])
		case c.Type == snapshot.Numerical.String():
			if v, err := strconv.ParseFloat(l, 64); err == nil {
				out[i] = formatNumber(v)
				continue
			}
			out[i] = l
		default:
			out[i] = l
		}
	}
	return out
}

func newChart(c *ColumnResult, refLabel, curLabel string) chart {
	h := c.Histogram
	labels := binLabels(c)
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
	for i := range labels {
		maxShare = math.Max(maxShare, math.Max(float64(h.Reference[i])/nRef, float64(h.Current[i])/nCur))
	}
	if maxShare == 0 {
		maxShare = 1
	}
	plotW := float64(chartWidth - plotLeft - plotRight)
	plotH := float64(chartHeight - plotTop - plotBottom)
	groupW := plotW / float64(max(len(labels), 1))
	barW := math.Min(groupW*0.4, 44)
	gap := (groupW - 2*barW) / 2
	step := (len(labels) + maxXLabels - 1) / maxXLabels
	var largestShift string
	largest := -1.0
	for i, label := range labels {
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
				Tip: fmt.Sprintf("%s, %s: %s rows (%s)", label, b.name, formatCount(b.count), pct(b.share)),
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
			RefCount: formatCount(h.Reference[i]), RefPct: pct(rs),
			CurCount: formatCount(h.Current[i]), CurPct: pct(cs),
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
	ch.Desc = fmt.Sprintf("Grouped bar chart over %s %s: share of rows per bin in the reference (%s, %s rows) and the current month (%s, %s rows).",
		formatCount(len(labels)), kind, refLabel, formatCount(c.NReference), curLabel, formatCount(c.NCurrent))
	if largest >= 0 {
		ch.Desc += fmt.Sprintf(" Largest change: %s, by %s points.", largestShift, strconv.FormatFloat(100*largest, 'f', 1, 64))
	}
	return ch
}
