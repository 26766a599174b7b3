package serve_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/serve"
)

const testToken = "0123456789abcdef-local-token"

// TestBearerToken checks the local server's token: every route but /health
// needs it, a missing or wrong one is 401 with the stable error body and a
// challenge, the right one (any scheme case) passes, and refusals are
// logged and counted like any answer.
func TestBearerToken(t *testing.T) {
	logs := &syncBuffer{}
	f := newFixture(t, func(_ *fixture, c *serve.Config) {
		c.Token = testToken
		c.AccessLog = slog.New(slog.NewJSONHandler(logs, nil))
	})
	h := f.svc.ServerHandler()
	single := `{"user_id":"7590-VHVEG"}`
	details := `{"user_id":"7590-VHVEG","include":["features"]}`
	tests := []struct {
		name, method, path, body, auth string
		status                         int
		challenge                      string // WWW-Authenticate of a 401
	}{
		{"no header", "POST", "/predict", single, "", 401, `Bearer realm="churnops"`},
		{"wrong token", "POST", "/predict", single, "Bearer not-the-token-at-all", 401, `Bearer realm="churnops", error="invalid_token"`},
		{"token prefix", "POST", "/predict", single, "Bearer " + testToken[:20], 401, `Bearer realm="churnops", error="invalid_token"`},
		{"token and more", "POST", "/predict", single, "Bearer " + testToken + " ", 401, `Bearer realm="churnops", error="invalid_token"`},
		{"basic scheme", "POST", "/predict", single, "Basic " + testToken, 401, `Bearer realm="churnops", error="invalid_token"`},
		{"bare token", "POST", "/predict", single, testToken, 401, `Bearer realm="churnops", error="invalid_token"`},
		{"details without", "POST", "/predict/details", details, "", 401, `Bearer realm="churnops"`},
		{"model without", "GET", "/model", "", "", 401, `Bearer realm="churnops"`},
		{"ready without", "GET", "/ready", "", "", 401, `Bearer realm="churnops"`},
		{"metrics without", "GET", "/metrics", "", "", 401, `Bearer realm="churnops"`},
		{"unknown path without", "GET", "/nope", "", "", 401, `Bearer realm="churnops"`},
		{"health without", "GET", "/health", "", "", 200, ""},
		{"right token", "POST", "/predict", single, "Bearer " + testToken, 200, ""},
		{"scheme in any case", "POST", "/predict", single, "bEARER " + testToken, 200, ""},
		{"details with", "POST", "/predict/details", details, "Bearer " + testToken, 200, ""},
		{"metrics with", "GET", "/metrics", "", "Bearer " + testToken, 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := do(t, h, tc.method, tc.path, tc.body, "Authorization", tc.auth)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.challenge)
			}
			if tc.status != 401 {
				return
			}
			if e := decodeError(t, rec); e.Code != serve.CodeUnauthorized {
				t.Errorf("error %+v, want code unauthorized", e)
			}
			if rec.Header().Get("X-Request-Id") == "" {
				t.Error("no X-Request-Id on a refusal")
			}
			for _, leak := range []string{testToken, "churn_probability", "features_used", "model_version"} {
				if strings.Contains(rec.Body.String(), leak) {
					t.Errorf("refusal carries %q: %s", leak, rec.Body)
				}
			}
		})
	}
	if !strings.Contains(logs.String(), `"status":401`) {
		t.Errorf("access log has no 401: %s", logs)
	}
	metrics := do(t, h, "GET", "/metrics", "", "Authorization", "Bearer "+testToken).Body.String()
	if !strings.Contains(metrics, `route="/predict",code="401"} 6`) {
		t.Errorf("metrics do not count the six refused POST /predict:\n%s", metrics)
	}
}

// TestTokenIsForTheServerOnly: Handler, what Lambda serves behind API
// Gateway (which authenticates), does not look for the local token.
func TestTokenIsForTheServerOnly(t *testing.T) {
	f := newFixture(t, func(_ *fixture, c *serve.Config) { c.Token = testToken })
	if rec := do(t, f.svc.Handler(), "POST", "/predict", `{"user_id":"7590-VHVEG"}`); rec.Code != http.StatusOK {
		t.Fatalf("Handler: status %d: %s", rec.Code, rec.Body)
	}
}

// TestNoTokenNoCheck: without Config.Token the server answers anyone (the
// CLI allows that only on a loopback address).
func TestNoTokenNoCheck(t *testing.T) {
	f := newFixture(t)
	if rec := do(t, f.svc.ServerHandler(), "POST", "/predict", `{"user_id":"7590-VHVEG"}`); rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}
