package drift

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
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
