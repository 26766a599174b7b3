package dashboard

import (
	"fmt"
	"math"
	"strings"
)

// Charts are inline SVG drawn from these: the geometry is computed here,
// in the viewBox's units, and the template only places elements. A chart
// is 600 units wide and scales with the page (up to 760 px wide); on a
// phone its labels are drawn larger and every other x label is left out
// (Minor), so they stay readable.

// frame is a chart's viewBox and plotting area.
type frame struct {
	W, H                     float64
	Left, Right, Top, Bottom float64
	YTicks                   []tick
	XTicks                   []tick
}

// tick is an axis label at a position; a Minor one is hidden on a phone.
type tick struct {
	At    float64
	Label string
	Minor bool
}

func newFrame(h float64) frame {
	return frame{W: 600, H: h, Left: 64, Right: 586, Top: 14, Bottom: h - 36}
}

// x is the centre of slot i of n equal slots across the plot.
func (f *frame) x(i, n int) float64 {
	return f.Left + (float64(i)+0.5)*(f.Right-f.Left)/float64(n)
}

// y maps v in [lo, hi] onto the plot, hi at the top.
func (f *frame) y(v, lo, hi float64) float64 {
	if hi <= lo {
		return f.Bottom
	}
	return f.Bottom - (v-lo)/(hi-lo)*(f.Bottom-f.Top)
}

// yTicks labels [lo, hi] every step.
func (f *frame) yTicks(lo, hi, step float64, label func(float64) string) {
	for v := lo; v <= hi+step/1e6; v += step {
		f.YTicks = append(f.YTicks, tick{At: f.y(v, lo, hi), Label: label(v)})
	}
}

// xLabels labels the n slots, at most about 12 of them.
func (f *frame) xLabels(labels []string) {
	every := (len(labels) + 11) / 12
	for i, l := range labels {
		if i%every == 0 {
			f.XTicks = append(f.XTicks, tick{At: f.x(i, len(labels)), Label: l, Minor: len(labels) > 6 && (i/every)%2 == 1})
		}
	}
}

// niceStep is the step among 1, 2, 2.5 and 5 times a power of ten that
// cuts span into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

// polyline joins points as an SVG points attribute.
func polyline(xs, ys []float64) string {
	var b strings.Builder
	for i := range xs {
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%.1f,%.1f", xs[i], ys[i])
	}
	return b.String()
}

// driftChart is the drift share of each run against the threshold.
type driftChart struct {
	frame
	Points     []driftDot
	Line       string
	Thresholds []thresholdSeg // the threshold, where it changes between runs
}

type driftDot struct {
	X, Y    float64
	Retrain bool
	Href    string
	Month   string // the current as_of
	Label   string // for people and screen readers
}

type thresholdSeg struct {
	X1, X2, Y float64
	Label     string
}

func newDriftChart(points []DriftPoint) *driftChart {
	if len(points) == 0 {
		return nil
	}
	c := &driftChart{frame: newFrame(250)}
	hi := 0.05
	for _, p := range points {
		hi = max(hi, p.Share*1.1, p.Threshold*1.5)
	}
	hi = math.Min(hi, 1)
	step := niceStep(hi, 4)
	hi = math.Min(math.Ceil(hi/step-1e-9)*step, 1)
	c.yTicks(0, hi, step, pct)
	var labels []string
	var px, py []float64
	for i, p := range points {
		x, y := c.x(i, len(points)), c.y(p.Share, 0, hi)
		verdict := "no retrain"
		if p.Retrain {
			verdict = "retrain"
		}
		run := ""
		if p.Run != "" {
			run = ", run " + p.Run
		}
		c.Points = append(c.Points, driftDot{X: x, Y: y, Retrain: p.Retrain, Href: p.ReportHref, Month: p.Current,
			Label: fmt.Sprintf("%s vs %s: drift share %s (%d of %d columns), threshold %s: %s%s",
				p.Current, p.Reference, pct(p.Share), p.Drifted, p.Columns, pct(p.Threshold), verdict, run)})
		px, py = append(px, x), append(py, y)
		labels = append(labels, month(p.Current))
		// One segment per run of equal thresholds.
		ty := c.y(p.Threshold, 0, hi)
		half := (c.Right - c.Left) / float64(len(points)) / 2
		if n := len(c.Thresholds); n > 0 && c.Thresholds[n-1].Y == ty {
			c.Thresholds[n-1].X2 = x + half
		} else {
			c.Thresholds = append(c.Thresholds, thresholdSeg{X1: x - half, X2: x + half, Y: ty, Label: "threshold " + pct(p.Threshold)})
		}
	}
	c.Line = polyline(px, py)
	c.xLabels(labels)
	return c
}

// healthChart is each candidate's AUC and Production's on the same users.
type healthChart struct {
	frame
	Candidates, Production []healthDot
	Bars                   []healthDot
	CandidateLine          string
	ProductionLine         string
}

type healthDot struct {
	X, Y     float64
	Promoted bool
	Label    string
}

func newHealthChart(points []HealthPoint) *healthChart {
	if len(points) == 0 {
		return nil
	}
	var months []string
	slot := map[string]int{}
	perMonth := map[string]int{}
	lo, hi := 1.0, 0.0
	for _, p := range points {
		if _, ok := slot[p.Month]; !ok {
			slot[p.Month] = len(months)
			months = append(months, p.Month)
		}
		perMonth[p.Month]++
		lo, hi = math.Min(lo, p.CandidateAUC), math.Max(hi, p.CandidateAUC)
		if p.HasProduction {
			lo, hi = math.Min(lo, p.ProductionAUC), math.Max(hi, p.ProductionAUC)
		}
		if p.Bar > 0 {
			lo, hi = math.Min(lo, p.Bar), math.Max(hi, p.Bar)
		}
	}
	step := niceStep(math.Max(hi-lo, 0.1), 4)
	lo = math.Max(math.Floor((lo-step/4)/step)*step, 0)
	hi = math.Min(math.Ceil((hi+step/4)/step)*step, 1)
	c := &healthChart{frame: newFrame(270)}
	c.yTicks(lo, hi, step, func(v float64) string { return fmt.Sprintf("%.2f", v) })
	seen := map[string]int{}
	var cx, cy, px, py []float64
	for _, p := range points {
		// Several candidates of one month sit side by side.
		k, n := seen[p.Month], perMonth[p.Month]
		seen[p.Month]++
		x := c.x(slot[p.Month], len(months)) + (float64(k)-float64(n-1)/2)*14
		y := c.y(p.CandidateAUC, lo, hi)
		c.Candidates = append(c.Candidates, healthDot{X: x, Y: y, Promoted: p.Outcome == "promoted",
			Label: fmt.Sprintf("v%d trained on %s: AUC %s, %s", p.CandidateVersion, p.Month, score4(p.CandidateAUC), outcomeText(p.Outcome))})
		cx, cy = append(cx, x), append(cy, y)
		if p.HasProduction {
			y := c.y(p.ProductionAUC, lo, hi)
			c.Production = append(c.Production, healthDot{X: x, Y: y,
				Label: fmt.Sprintf("Production v%d on the same %s users: AUC %s", p.ProductionVersion, p.Month, score4(p.ProductionAUC))})
			px, py = append(px, x), append(py, y)
		}
		if p.Bar > 0 {
			c.Bars = append(c.Bars, healthDot{X: x, Y: c.y(p.Bar, lo, hi), Label: fmt.Sprintf("bar for v%d: %s", p.CandidateVersion, score4(p.Bar))})
		}
	}
	c.CandidateLine, c.ProductionLine = polyline(cx, cy), polyline(px, py)
	labels := make([]string, len(months))
	for i, m := range months {
		labels[i] = month(m)
	}
	c.xLabels(labels)
	return c
}

// scoreChart is the histogram of the latest batch scores.
type scoreChart struct {
	frame
	Bins []scoreBin
}

type scoreBin struct {
	X, Y, W, H float64
	Label      string
}

func newScoreChart(s *ScoreSummary) *scoreChart {
	if s == nil {
		return nil
	}
	h := s.Histogram
	top := 0
	for _, n := range h.Counts {
		top = max(top, n)
	}
	step := niceStep(float64(max(top, 1)), 4)
	hi := math.Ceil(float64(max(top, 1))/step) * step
	c := &scoreChart{frame: newFrame(230)}
	c.yTicks(0, hi, step, func(v float64) string { return count(int(v)) })
	lo, span := h.Edges[0], h.Edges[len(h.Edges)-1]-h.Edges[0]
	xOf := func(v float64) float64 { return c.Left + (v-lo)/span*(c.Right-c.Left) }
	for i, n := range h.Counts {
		x1, x2 := xOf(h.Edges[i]), xOf(h.Edges[i+1])
		y := c.y(float64(n), 0, hi)
		c.Bins = append(c.Bins, scoreBin{X: x1 + 0.5, Y: y, W: math.Max(x2-x1-1, 0.5), H: c.Bottom - y,
			Label: fmt.Sprintf("%s customers scored in [%.3g, %.3g)", count(n), h.Edges[i], h.Edges[i+1])})
	}
	every := (len(h.Edges) + 10) / 11
	for i, e := range h.Edges {
		if i%every == 0 || i == len(h.Edges)-1 {
			c.XTicks = append(c.XTicks, tick{At: xOf(e), Label: fmt.Sprintf("%.3g", e), Minor: len(c.XTicks)%2 == 1 && i != len(h.Edges)-1})
		}
	}
	return c
}
