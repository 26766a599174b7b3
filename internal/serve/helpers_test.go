package serve_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

const model = "churn"

// fakeClock is a settable clock for Config.Clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Date(2024, 2, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// knownUsers are the users the testdata payloads name.
func knownUsers() []featurestore.Record {
	base := func(id string, months, fee float64, net string, tv, movies any) featurestore.Record {
		return featurestore.Record{UserID: id, AsOf: "2024-01-31", Features: map[string]any{
			"months_active": months, "monthly_fee": fee, "paperless_billing": true,
			"plan_stream_tv": tv, "plan_stream_movies": movies, "net_service": net,
			"watch_hours_30d": 12.5, "avg_session_mins_7d": 31.0, "unique_devices_30d": 2.0,
			"skips_7d": 9.0, "rebuffer_events_7d": 1.0, "failed_payments_90d": 0.0,
			"support_tickets_90d": 1.0, "ticket_avg_resolution_hrs_90d": 6.5,
		}}
	}
	return []featurestore.Record{
		base("7590-VHVEG", 1, 29.85, "DSL", false, false),
		base("5575-GNVDE", 34, 56.95, "DSL", false, false),
		base("3668-QPYBK", 2, 53.85, "No", nil, nil),
	}
}

type fixture struct {
	env   *servetest.Env
	svc   *serve.Service
	h     http.Handler
	clock *fakeClock
	logs  *syncBuffer
	cfg   serve.Config

	noModel bool
}

type option func(*fixture, *serve.Config)

// noModel leaves the registry without a Production version.
func noModel(f *fixture, _ *serve.Config) { f.noModel = true }

// newFixture returns a service over fakes: version 1 (bias -0.5, threshold
// 0.5) is Production unless noModel is given.
func newFixture(t *testing.T, opts ...option) *fixture {
	t.Helper()
	ctx := context.Background()
	users := append(knownUsers(), servetest.Users(50, 1, "2024-01-31")...)
	f := &fixture{env: servetest.NewEnv(users), clock: newClock(), logs: &syncBuffer{}}
	v, err := f.env.AddVersion(ctx, model, "2023-12-31", servetest.NewArtifact(-0.5, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	cfg := f.env.Config(model)
	cfg.Clock = f.clock.Now
	cfg.Logger = slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, o := range opts {
		o(f, &cfg)
	}
	if !f.noModel {
		if err := f.env.Promote(ctx, model, v); err != nil {
			t.Fatal(err)
		}
	}
	f.cfg = cfg
	f.svc, err = serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.h = f.svc.Handler()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("service log:\n%s", f.logs.String())
		}
	})
	return f
}

// do sends one request to h and returns the recorded response.
func do(t testing.TB, h http.Handler, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			req.Header.Del(hdr[i])
		} else {
			req.Header.Set(hdr[i], hdr[i+1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// prediction is a /predict result item.
type prediction struct {
	UserID           *string        `json:"user_id"`
	ChurnProbability float64        `json:"churn_probability"`
	Prediction       int            `json:"prediction"`
	ModelName        string         `json:"model_name"`
	ModelVersion     int            `json:"model_version"`
	AsOf             *string        `json:"as_of"`
	FeaturesUsed     map[string]any `json:"features_used"`
	Error            *apiError      `json:"error"`
}

type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Feature string `json:"feature"`
}

// decodeStrict decodes body into v, rejecting unknown fields and trailing data.
func decodeStrict(t testing.TB, body []byte, v any) {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode %s: %v", body, err)
	}
	if dec.More() {
		t.Fatalf("trailing data in %s", body)
	}
}

func decodeError(t testing.TB, rec *httptest.ResponseRecorder) apiError {
	t.Helper()
	var body struct {
		Error apiError `json:"error"`
	}
	decodeStrict(t, rec.Body.Bytes(), &body)
	if body.Error.Code == "" || body.Error.Message == "" {
		t.Fatalf("error body without code or message: %s", rec.Body)
	}
	return body.Error
}

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// expectProba computes what the fake model answers for raw.
func expectProba(t testing.TB, bias float64, raw map[string]any) float64 {
	t.Helper()
	m, err := servetest.Load(servetest.NewArtifact(bias, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float64, m.NumFeatures())
	if err := m.Encode(raw, row); err != nil {
		t.Fatal(err)
	}
	return m.PredictProba(row)
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newQuietService is a Service over env that logs nothing.
func newQuietService(env *servetest.Env) (*serve.Service, error) {
	cfg := env.Config(model)
	cfg.Logger = slog.New(slog.DiscardHandler)
	return serve.New(cfg)
}
