package dashboard_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/execlog"
)

// TestHandler serves the page and the stored reports, and nothing else.
func TestHandler(t *testing.T) {
	f := newFixture(t)
	h := dashboard.Handler(f.sources(), nil)
	p := build(t, f.sources())
	report := p.Drift.Months[0].ReportHref // drift/<ref>_vs_<cur>.html
	record := "executions/" + strings.TrimPrefix(mustKey(f), "reports/executions/")
	tests := []struct {
		method, path string
		code         int
		ctype, body  string
	}{
		{"GET", "/", 200, "text/html", `href="reports/` + report + `"`},
		{"HEAD", "/", 200, "text/html", ""},
		{"GET", "/reports/", 200, "text/html", `href="` + report + `"`},
		{"GET", "/reports/index.html", 200, "text/html", `href="` + report + `"`},
		{"GET", "/reports/" + report, 200, "text/html", "<svg"},
		{"GET", "/reports/" + strings.TrimSuffix(report, ".html") + ".json", 200, "application/json", `"drift_share"`},
		{"GET", "/reports/" + record, 200, "application/json", `"execution_arn"`},
		{"GET", "/reports/drift/nope.html", 404, "", ""},
		// Only reports, only .html and .json, no way out of reports/.
		{"GET", "/reports/%2e%2e/registry.db", 404, "", ""},
		{"GET", "/reports/..%2fregistry.db", 404, "", ""},
		{"GET", "/reports/.tmp/x.html", 404, "", ""},
		{"GET", "/datasets/as_of=" + f.months[0] + "/snapshot.parquet", 404, "", ""},
		{"GET", "/reports/drift/x.parquet", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(tt.method, tt.path, nil))
			if rec.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if tt.code != 200 {
				return
			}
			hdr := rec.Header()
			if !strings.HasPrefix(hdr.Get("Content-Type"), tt.ctype) || hdr.Get("X-Content-Type-Options") != "nosniff" ||
				!strings.Contains(hdr.Get("Content-Security-Policy"), "default-src 'none'") || hdr.Get("Cache-Control") != "no-store" {
				t.Errorf("headers %v", hdr)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body lacks %q", tt.body)
			}
		})
	}
}

func mustKey(f *fixture) string {
	r := f.records[0]
	return execlog.Key(&r)
}

// TestHandlerBuildError answers 500 without leaking the cause.
func TestHandlerBuildError(t *testing.T) {
	h := dashboard.Handler(dashboard.Sources{Model: model}, nil) // no stores
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "Sources") {
		t.Errorf("%d %q", rec.Code, rec.Body)
	}
}
