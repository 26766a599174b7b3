package serve_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/serve/servetest"
)

// benchRequest is a reusable request: the body reader is rewound per call.
type benchRequest struct {
	req  *http.Request
	body *bytes.Reader
	raw  []byte
	// format is the body with %q for the user id, when the benchmark
	// cycles through users.
	format string
}

// newBenchRequest is a POST /predict of body (with users: body is a
// format with %q for the user id, or `{"user_id":%q}` when it has none).
func newBenchRequest(body string) *benchRequest { return newBenchRequestTo("/predict", body) }

// newBenchRequestTo is newBenchRequest to another path.
func newBenchRequestTo(path, body string) *benchRequest {
	br := &benchRequest{raw: []byte(body), format: `{"user_id":%q}`}
	if strings.Contains(body, "%q") {
		br.format = body
	}
	br.body = bytes.NewReader(br.raw)
	br.req = httptest.NewRequest("POST", path, io.NopCloser(br.body))
	br.req.Header.Set("Content-Type", "application/json")
	br.req.ContentLength = int64(len(br.raw))
	return br
}

func (br *benchRequest) serve(b *testing.B, h http.Handler, users []string, i int) {
	if users != nil {
		br.raw = fmt.Appendf(br.raw[:0], br.format, users[i%len(users)])
		br.req.ContentLength = int64(len(br.raw))
	}
	br.body.Reset(br.raw)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, br.req)
	if rec.Code != 200 {
		b.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
}

// benchLatency runs the handler b.N times, timing each call, and reports
// p50/p99 next to ns/op.
func benchLatency(b *testing.B, h http.Handler, br *benchRequest, users []string) {
	b.Helper()
	br.serve(b, h, users, 0) // load the model outside the timing
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		br.serve(b, h, users, i)
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds()), "p99-ns")
}

func benchFixture(b *testing.B, nUsers int) (http.Handler, []string) {
	b.Helper()
	users := servetest.Users(nUsers, 7, "2024-01-31")
	svc, err := servetest.NewEnv(users).ProductionService(b.Context(), model, "2024-01-31")
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	return svc.Handler(), ids
}

func BenchmarkPredictSingle(b *testing.B) {
	h, ids := benchFixture(b, 10000)
	benchLatency(b, h, newBenchRequest(`{"user_id":"x"}`), ids)
}

func BenchmarkPredictInline(b *testing.B) {
	h, _ := benchFixture(b, 10)
	benchLatency(b, h, newBenchRequest(readTestdata(b, "inline.json")), nil)
}

func BenchmarkPredictBatch100(b *testing.B) {
	h, ids := benchFixture(b, 1000)
	q := make([]string, 100)
	for i := range q {
		q[i] = fmt.Sprintf("%q", ids[i*7])
	}
	benchLatency(b, h, newBenchRequest(`{"user_ids":[`+strings.Join(q, ",")+`]}`), nil)
}

// BenchmarkServerHandlerSingle adds the local server's metrics wrapper.
func BenchmarkServerHandlerSingle(b *testing.B) {
	users := servetest.Users(10000, 7, "2024-01-31")
	env := servetest.NewEnv(users)
	v, _ := env.AddVersion(b.Context(), model, "2024-01-31", servetest.NewArtifact(-0.5, 0.5))
	if err := env.Promote(b.Context(), model, v); err != nil {
		b.Fatal(err)
	}
	svc, err := newQuietService(env)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	benchLatency(b, svc.ServerHandler(), newBenchRequest(`{"user_id":"x"}`), ids)
}
