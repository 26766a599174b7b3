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

// TestPagesBehindToken: with a token, a browser reaches the dashboard by
// opening /?token=<token> once: that sets an HttpOnly, SameSite=Strict
// cookie and redirects to the URL without the token; the cookie then opens
// the pages (GET/HEAD), never the API, and a wrong token or cookie is 401.
func TestPagesBehindToken(t *testing.T) {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("<h1>dashboard</h1>")) })
	pages.HandleFunc("GET /reports/{key...}", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("report " + r.PathValue("key"))) })
	f := newFixture(t, func(_ *fixture, c *serve.Config) { c.Pages = pages; c.Token = testToken })
	h := f.svc.ServerHandler()
	cookie := "churnops_token=" + testToken

	signIn := do(t, h, "GET", "/reports/drift/a.html?token="+testToken+"&x=1", "")
	if signIn.Code != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s, want 303", signIn.Code, signIn.Body)
	}
	if loc := signIn.Header().Get("Location"); loc != "/reports/drift/a.html?x=1" {
		t.Errorf("sign-in redirects to %q, want the URL without its token", loc)
	}
	set := signIn.Header().Get("Set-Cookie")
	for _, want := range []string{cookie, "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("Set-Cookie %q lacks %q", set, want)
		}
	}
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
	}{
		{"page without anything", "GET", "/", "", nil, 401},
		{"page with a wrong ?token", "GET", "/?token=not-the-token-at-all", "", nil, 401},
		{"page with a wrong cookie", "GET", "/", "", []string{"Cookie", "churnops_token=nope"}, 401},
		{"page with the cookie", "GET", "/", "", []string{"Cookie", cookie}, 200},
		{"HEAD with the cookie", "HEAD", "/", "", []string{"Cookie", cookie}, 200},
		{"report with the cookie", "GET", "/reports/drift/a.html", "", []string{"Cookie", cookie}, 200},
		{"page with the header", "GET", "/", "", []string{"Authorization", "Bearer " + testToken}, 200},
		{"API with the cookie only", "POST", "/predict", `{"user_id":"7590-VHVEG"}`, []string{"Cookie", cookie}, 401},
		{"API GET with the cookie only", "GET", "/model", "", []string{"Cookie", cookie}, 401},
		{"API GET with ?token", "GET", "/model?token=" + testToken, "", nil, 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, tc.body, tc.hdr...)
			if rec.Code != tc.code {
				t.Errorf("%s %s: %d, want %d: %s", tc.method, tc.path, rec.Code, tc.code, rec.Body)
			}
			if tc.code == 401 && rec.Header().Get("Set-Cookie") != "" {
				t.Errorf("a refusal sets a cookie: %q", rec.Header().Get("Set-Cookie"))
			}
		})
	}
}
