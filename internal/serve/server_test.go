package serve_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/serve"
)

// sampleLine matches one sample of the Prometheus text format.
var sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)$`)

// parseMetrics checks the exposition format and returns sample values by
// their full name with labels.
func parseMetrics(t *testing.T, body string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	typed := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			f := strings.Fields(line)
			if len(f) != 4 {
				t.Fatalf("bad TYPE line %q", line)
			}
			typed[f[2]] = f[3]
			continue
		}
		if strings.HasPrefix(line, "# HELP ") {
			continue
		}
		m := sampleLine.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("bad sample line %q", line)
		}
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_sum"), "_count")
		if typed[m[1]] == "" && typed[base] == "" {
			t.Fatalf("sample %q before its TYPE", line)
		}
		v, err := strconv.ParseFloat(m[len(m)-1], 64)
		if err != nil {
			t.Fatalf("bad value in %q", line)
		}
		out[strings.TrimSuffix(line, " "+m[len(m)-1])] = v
	}
	return out
}

func TestMetrics(t *testing.T) {
	f := newFixture(t)
	h := f.svc.ServerHandler()
	for range 3 {
		do(t, h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
	}
	do(t, h, "POST", "/predict", `{"user_id":"0000-NOONE"}`)
	do(t, h, "GET", "/health", "")
	do(t, h, "GET", "/wp-admin.php", "")
	rec := do(t, h, "GET", "/metrics", "")
	if rec.Code != 200 || !strings.HasPrefix(rec.Header().Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("status %d, Content-Type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	m := parseMetrics(t, rec.Body.String())
	for _, tc := range []struct {
		sample string
		want   float64
	}{
		{`churnops_http_requests_total{route="/predict",code="200"}`, 3},
		{`churnops_http_requests_total{route="/predict",code="404"}`, 1},
		{`churnops_http_requests_total{route="/health",code="200"}`, 1},
		{`churnops_http_requests_total{route="other",code="404"}`, 1},
		{`churnops_http_request_duration_seconds_count{route="/predict"}`, 4},
		{`churnops_http_request_duration_seconds_bucket{route="/predict",le="+Inf"}`, 4},
		{`churnops_model_version{model="churn"}`, 1},
		{`churnops_model_reloads_total{model="churn"}`, 1},
		{`churnops_model_reload_failures_total{model="churn"}`, 0},
		{`churnops_model_reload_checks_total{model="churn"}`, 1},
	} {
		t.Run(tc.sample, func(t *testing.T) {
			got, ok := m[tc.sample]
			if !ok || got != tc.want {
				t.Fatalf("%s = %v (present %v), want %v\n%s", tc.sample, got, ok, tc.want, rec.Body)
			}
		})
	}
	// Buckets are cumulative.
	prev := -1.0
	for _, le := range []string{"5e-05", "0.0001", "0.001", "0.01", "0.1", "1", "5", "+Inf"} {
		v, ok := m[`churnops_http_request_duration_seconds_bucket{route="/predict",le="`+le+`"}`]
		if !ok || v < prev {
			t.Fatalf("bucket le=%s = %v (present %v) after %v", le, v, ok, prev)
		}
		prev = v
	}
	if m[`churnops_model_loaded_timestamp_seconds{model="churn"}`] <= 0 {
		t.Error("no loaded timestamp")
	}
	if rec := do(t, h, "POST", "/metrics", "{}"); rec.Code != 405 {
		t.Errorf("POST /metrics: %d", rec.Code)
	}
	// Lambda's handler has no /metrics.
	if rec := do(t, f.h, "GET", "/metrics", ""); rec.Code != 404 {
		t.Errorf("Handler GET /metrics: %d", rec.Code)
	}
}

func TestAccessLog(t *testing.T) {
	logs := &syncBuffer{}
	f := newFixture(t, func(_ *fixture, c *serve.Config) {
		c.AccessLog = slog.New(slog.NewJSONHandler(logs, nil))
	})
	rec := do(t, f.svc.ServerHandler(), "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
	id := rec.Header().Get("X-Request-Id")
	line := logs.String()
	for _, want := range []string{`"msg":"request"`, `"status":200`, `"path":"/predict"`, `"request_id":"` + id + `"`} {
		if !strings.Contains(line, want) {
			t.Errorf("access log %q lacks %s", line, want)
		}
	}
}

func TestServeGracefulShutdown(t *testing.T) {
	f := newFixture(t)
	svc, gate := gatedService(t, f)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- svc.Serve(ctx, ln) }()
	base := "http://" + ln.Addr().String()

	res, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || string(body) != `{"status":"ok"}` {
		t.Fatalf("/health %d %s", res.StatusCode, body)
	}

	// A request in flight when shutdown starts still gets its answer.
	inflight := make(chan int, 1)
	go func() {
		res, err := http.Post(base+"/predict", "application/json", strings.NewReader(`{"user_id":"3668-QPYBK"}`))
		if err != nil {
			inflight <- -1
			return
		}
		res.Body.Close()
		inflight <- res.StatusCode
	}()
	<-gate.entered
	cancel()
	time.Sleep(50 * time.Millisecond) // let Shutdown close the listener
	if _, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		t.Error("listener still accepting after cancel")
	}
	close(gate.release)
	if code := <-inflight; code != 200 {
		t.Fatalf("in-flight request: %d", code)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve returned %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func TestListenAndServeBadAddr(t *testing.T) {
	f := newFixture(t)
	err := f.svc.ListenAndServe(t.Context(), "127.0.0.1:-1")
	if err == nil {
		t.Fatal("no error for a bad address")
	}
	var op *net.OpError
	if !errors.As(err, &op) && !strings.Contains(err.Error(), "invalid port") {
		t.Fatalf("unexpected error %v", err)
	}
}

func TestHealthReadyModel(t *testing.T) {
	f := newFixture(t)
	if rec := do(t, f.h, "GET", "/health", ""); rec.Code != 200 {
		t.Fatalf("/health %d", rec.Code)
	}
	if rec := do(t, f.h, "HEAD", "/health", ""); rec.Code != 200 {
		t.Fatalf("HEAD /health %d", rec.Code)
	}
	rec := do(t, f.h, "GET", "/ready", "")
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"model_version":1`) {
		t.Fatalf("/ready %d %s", rec.Code, rec.Body)
	}
	rec = do(t, f.h, "GET", "/model", "")
	var info serve.ModelInfo
	decodeStrict(t, rec.Body.Bytes(), &info)
	if info.ModelName != model || info.ModelVersion != 1 || info.AsOf != "2023-12-31" ||
		info.Metrics["auc"] == nil || *info.Metrics["auc"] != 0.81 || len(info.Features) != 14 ||
		!info.LoadedAt.Equal(f.clock.Now()) || info.Threshold != 0.5 {
		t.Fatalf("/model %+v", info)
	}

	f.env.Features.SetErr(errors.New("connection refused"))
	rec = do(t, f.h, "GET", "/ready", "")
	if rec.Code != 503 || decodeError(t, rec).Code != serve.CodeNotReady {
		t.Fatalf("/ready with the store down: %d %s", rec.Code, rec.Body)
	}
	if rec := do(t, f.h, "GET", "/health", ""); rec.Code != 200 {
		t.Fatalf("/health must stay 200: %d", rec.Code)
	}
}

func TestNewValidates(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name string
		mut  func(*serve.Config)
	}{
		{"no model name", func(c *serve.Config) { c.ModelName = "" }},
		{"no registry", func(c *serve.Config) { c.Registry = nil }},
		{"no blobs", func(c *serve.Config) { c.Blobs = nil }},
		{"no features", func(c *serve.Config) { c.Features = nil }},
		{"no loader", func(c *serve.Config) { c.Loader = nil }},
		{"negative interval", func(c *serve.Config) { c.ReloadInterval = -time.Second }},
		{"short token", func(c *serve.Config) { c.Token = "fifteen-bytes!!" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := f.cfg
			tc.mut(&cfg)
			if _, err := serve.New(cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}
