package serve_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/serve"
)

// TestPages mounts extra routes (the dashboard's) beside the API: they
// answer the paths they match through ServerHandler's chain (metrics,
// access log), the API keeps its routes and its JSON 404, and Lambda's
// Handler ignores them.
func TestPages(t *testing.T) {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<h1>dashboard</h1>")) })
	pages.HandleFunc("GET /reports/{key...}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("report " + r.PathValue("key"))) })
	f := newFixture(t, func(_ *fixture, c *serve.Config) { c.Pages = pages })
	h := f.svc.ServerHandler()
	tests := []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/", 200, "<h1>dashboard</h1>"},
		{"HEAD", "/", 200, ""},
		{"GET", "/reports/drift/a_vs_b.html", 200, "report drift/a_vs_b.html"},
		{"POST", "/predict", 200, `"churn_probability"`},
		{"GET", "/health", 200, `"ok"`},
		{"GET", "/nowhere", 404, `"not_found"`},
		// A method the pages do not serve falls through to the API.
		{"POST", "/", 404, `"not_found"`},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			body := ""
			if tt.path == "/predict" {
				body = `{"user_id":"7590-VHVEG"}`
			}
			rec := do(t, h, tt.method, tt.path, body)
			if rec.Code != tt.code || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%d %q, want %d with %q", rec.Code, rec.Body, tt.code, tt.body)
			}
		})
	}
	// Counted like any request, as "other" routes.
	m := parseMetrics(t, do(t, h, "GET", "/metrics", "").Body.String())
	if got := m[`churnops_http_requests_total{route="other",code="200"}`]; got != 3 {
		t.Errorf("other routes answered 200: %v, want 3 (/, HEAD /, a report)", got)
	}
	if rec := do(t, f.h, "GET", "/", ""); rec.Code != 404 {
		t.Errorf("Lambda's Handler served GET /: %d", rec.Code)
	}
}
