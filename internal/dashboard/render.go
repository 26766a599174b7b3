package dashboard

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

//go:embed dashboard.html.tmpl
var pageHTML string

//go:embed style.css
var styleCSS string

//go:embed sort.js
var sortJS string

// CSP is the page's Content-Security-Policy: nothing is loaded from
// anywhere, and only the page's own style sheet and script (by hash) run.
// The page states it in a <meta> tag, so it holds for the static file too;
// Handler also sends it as a header.
var CSP = "default-src 'none'; style-src '" + sha256Source(styleCSS) + "'; script-src '" + sha256Source(sortJS) +
	"'; img-src data:; base-uri 'none'; form-action 'none'"

func sha256Source(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var pageTemplate = template.Must(template.New("dashboard").Funcs(template.FuncMap{
	"f":            func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"add":          func(a, b float64) float64 { return a + b },
	"sub":          func(a, b float64) float64 { return a - b },
	"score4":       score4,
	"scoreText":    scoreText,
	"pct":          pct,
	"count":        count,
	"deref":        func(p *int) int { return *p },
	"duration":     duration,
	"when":         when,
	"rfc3339":      func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"month":        month,
	"outcomeText":  outcomeText,
	"outcomeClass": outcomeClass,
	"stageClass":   stageClass,
	"levelClass":   levelClass,
	"metric": func(m map[string]float64, k string) string {
		if v, ok := m[k]; ok {
			return score4(v)
		}
		return "–"
	},
	"decision": decisionText,
	"share": func(s []float64, i int) float64 {
		if i < len(s) {
			return s[i]
		}
		return 0
	},
	"relied": func(r []bool, i int) bool { return i < len(r) && r[i] },
	"score":  func(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) },
	"ratio":  func(a, b float64) string { return strconv.FormatFloat(a/b, 'f', 3, 64) },
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12] + "…"
		}
		return s
	},
}).Parse(pageHTML))

// view is the page plus what only drawing it needs.
type view struct {
	*Page
	CSS         template.CSS
	JS          template.JS
	CSP         string
	Last        *Execution
	LatestDrift *DriftPoint
	DriftChart  *driftChart
	HealthChart *healthChart
	ScoreChart  *scoreChart
}

// Render writes p as one self-contained HTML page: inline CSS, inline SVG
// charts and a few lines of inline JavaScript that make the tables
// sortable (the page reads the same without it). Nothing is fetched, so
// the page works opened from a file.
func Render(w io.Writer, p *Page) error {
	v := view{Page: p, CSS: template.CSS(styleCSS), JS: template.JS(sortJS), CSP: CSP,
		DriftChart: newDriftChart(p.Drift.Points), HealthChart: newHealthChart(p.Health), ScoreChart: newScoreChart(p.Scores)}
	if len(p.Executions) > 0 {
		v.Last = &p.Executions[0]
	}
	if n := len(p.Drift.Points); n > 0 {
		v.LatestDrift = &p.Drift.Points[n-1]
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, v); err != nil {
		return fmt.Errorf("render dashboard: %w", err)
	}
	if _, err := buf.WriteTo(w); err != nil {
		return fmt.Errorf("write dashboard: %w", err)
	}
	return nil
}

// levelClass buckets a heatmap level (see level) into the page's six
// colours: four shades below the threshold, two above.
func levelClass(l float64) string {
	switch {
	case l >= 1.5:
		return "lv5"
	case l >= 1:
		return "lv4"
	case l >= 0.75:
		return "lv3"
	case l >= 0.5:
		return "lv2"
	case l >= 0.25:
		return "lv1"
	}
	return "lv0"
}

// decisionText spells the comparison behind a decision.
func decisionText(d *registry.Decision) string {
	switch {
	case d.ProductionVersion > 0:
		return fmt.Sprintf("%s vs bar %s (Production v%d: %s + %s)", score4(d.CandidateAUC), score4(d.Bar), d.ProductionVersion, score4(d.ProductionAUC), score4(d.Delta))
	case d.Bar > 0:
		return fmt.Sprintf("%s vs floor %s (no Production yet)", score4(d.CandidateAUC), score4(d.Bar))
	}
	return "AUC " + score4(d.CandidateAUC)
}
