package main

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/serve/servetest"
)

func TestCheckLoopback(t *testing.T) {
	for _, tc := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8000/predict", true},
		{"http://127.0.0.2:8000/predict", true},
		{"http://[::1]:8000/predict", true},
		{"http://localhost:8000/predict", true},
		{"https://127.0.0.1/predict", false}, // plain HTTP only
		{"http://10.0.0.5:8000/predict", false},
		{"http://0.0.0.0:8000/predict", false},
		{"http://example.com/predict", false},
		{"http://k3x9q2m7ab.execute-api.eu-west-1.amazonaws.com/prod/predict", false},
		{"http://localhost.example.com/predict", false},
		{"ftp://127.0.0.1/predict", false},
		{"127.0.0.1:8000", false},
	} {
		t.Run(tc.url, func(t *testing.T) {
			err := checkLoopback(t.Context(), tc.url)
			if (err == nil) != tc.ok {
				t.Fatalf("checkLoopback(%q) = %v, want ok=%v", tc.url, err, tc.ok)
			}
		})
	}
}

func TestReadUsers(t *testing.T) {
	want := []string{"7590-VHVEG", "5575-GNVDE", "3668-QPYBK"}
	for _, f := range []string{"users.txt", "users.csv"} {
		t.Run(f, func(t *testing.T) {
			got, err := readUsers(filepath.Join("testdata", f))
			if err != nil || !slices.Equal(got, want) {
				t.Fatalf("readUsers = %v, %v; want %v", got, err, want)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		p    float64
		want time.Duration
	}{{50, 50}, {90, 90}, {99, 99}, {100, 100}, {0.1, 1}} {
		if got := percentile(d, tc.p); got != tc.want {
			t.Errorf("p%v = %v, want %v", tc.p, got, tc.want)
		}
	}
	if percentile(nil, 50) != 0 {
		t.Error("empty")
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	base := config{URL: "http://127.0.0.1:1/predict", Duration: time.Second, Concurrency: 1, Users: []string{"a"}}
	for _, tc := range []struct {
		name string
		mut  func(*config)
	}{
		{"remote host", func(c *config) { c.URL = "http://192.0.2.1/predict" }},
		{"zero duration", func(c *config) { c.Duration = 0 }},
		{"too long", func(c *config) { c.Duration = time.Hour }},
		{"no clients", func(c *config) { c.Concurrency = 0 }},
		{"too many clients", func(c *config) { c.Concurrency = 5000 }},
		{"no users", func(c *config) { c.Users = nil }},
		{"negative rate", func(c *config) { c.Rate = -1 }},
		{"absurd rate", func(c *config) { c.Rate = 1e9 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base
			tc.mut(&cfg)
			if _, err := run(t.Context(), cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

// TestRunAgainstService drives the real service (fake model) on a loopback
// test server, briefly.
func TestRunAgainstService(t *testing.T) {
	users := servetest.Users(200, 3, "2024-01-31")
	ctx := t.Context()
	svc, err := servetest.NewEnv(users).ProductionService(ctx, "churn", "2024-01-31")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(svc.ServerHandler()) // binds 127.0.0.1
	defer srv.Close()

	ids := []string{"no-such-user"}
	for _, u := range users {
		ids = append(ids, u.UserID)
	}
	for _, tc := range []struct {
		name  string
		batch int
	}{{"single", 0}, {"batch", 10}} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := run(context.Background(), config{URL: srv.URL + "/predict", Duration: 2 * time.Second,
				Requests: 300, Concurrency: 4, Batch: tc.batch, Timeout: 5 * time.Second, Users: ids})
			if err != nil {
				t.Fatal(err)
			}
			if res.Errors != 0 || res.Requests != 300 || int64(len(res.Latencies)) != 300 {
				t.Fatalf("result %+v (first error %v)", res, res.FirstErr)
			}
			wantStatus := map[int]bool{http.StatusOK: true}
			if tc.batch == 0 {
				wantStatus[http.StatusNotFound] = true // no-such-user
			}
			for code := range res.Status {
				if !wantStatus[code] {
					t.Errorf("unexpected status %d: %v", code, res.Status)
				}
			}
			var out bytes.Buffer
			res.print(&out, config{URL: srv.URL, Concurrency: 4, Users: ids, Batch: tc.batch})
			for _, want := range []string{"req/s", "p50", "p90", "p99", "200: "} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("report lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

// TestOpenLoop checks the open-loop schedule: a server that keeps up gets
// the requests due (no more, no fewer), and one that answers slower than
// they fall due is reported behind, with latencies that include the wait
// for a connection (counted from when each request was due).
func TestOpenLoop(t *testing.T) {
	const delay = 20 * time.Millisecond
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(delay)
		w.Header().Set("Content-Length", "2")
		_, _ = w.Write([]byte("{}"))
	}))
	defer slow.Close()

	t.Run("keeps up", func(t *testing.T) {
		// 200 req/s on 8 connections: each answers in 20 ms, so 8 connections
		// serve up to 400 req/s.
		res, err := run(t.Context(), config{URL: slow.URL + "/predict", Duration: 5 * time.Second, Requests: 200,
			Rate: 200, Concurrency: 8, Timeout: 5 * time.Second, Users: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 200 || res.Status[http.StatusOK] != 200 || res.Unsent != 0 {
			t.Fatalf("requests %d, status %v, unsent %d; want 200 answered", res.Requests, res.Status, res.Unsent)
		}
		// 200 requests due over 1 s: the run cannot be much shorter.
		if res.Elapsed < 990*time.Millisecond {
			t.Fatalf("200 requests at 200/s took %v: the schedule was not kept", res.Elapsed)
		}
		if p := percentile(res.Latencies, 50); p < delay {
			t.Fatalf("p50 %v below the server's %v delay", p, delay)
		}
	})
	t.Run("falls behind", func(t *testing.T) {
		// 400 req/s on 2 connections: at most 100 answers a second.
		res, err := run(t.Context(), config{URL: slow.URL + "/predict", Duration: time.Second,
			Rate: 400, Concurrency: 2, Timeout: 5 * time.Second, Users: []string{"a"}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Unsent < 200 {
			t.Fatalf("unsent %d after 1 s at 4x the capacity (answered %d)", res.Unsent, res.Requests)
		}
		// The last answered request waited behind the queue: hundreds of ms,
		// where a closed loop would report the 20 ms exchange.
		if p := percentile(res.Latencies, 100); p < 300*time.Millisecond {
			t.Fatalf("max latency %v: waiting for a connection was not counted", p)
		}
		var out bytes.Buffer
		res.print(&out, config{URL: slow.URL, Rate: 400, Concurrency: 2, Users: []string{"a"}})
		for _, want := range []string{"open loop", "behind", "due time to response"} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("report lacks %q:\n%s", want, out.String())
			}
		}
	})
}

// TestBaseline checks the stand-in /predict: it answers what the real
// service answers for one user (the same fields),
// and a run against it works like one against the service.
func TestBaseline(t *testing.T) {
	users := servetest.Users(5, 3, "2024-01-31")
	svc, err := servetest.NewEnv(users).ProductionService(t.Context(), "churn", "2024-01-31")
	if err != nil {
		t.Fatal(err)
	}
	real := httptest.NewServer(svc.ServerHandler())
	defer real.Close()
	base := httptest.NewServer(baselineHandler())
	defer base.Close()

	answer := func(url string) map[string]any {
		t.Helper()
		resp, err := http.Post(url+"/predict", "application/json", strings.NewReader(`{"user_id":"`+users[0].UserID+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&m) != nil {
			t.Fatalf("%s: status %d", url, resp.StatusCode)
		}
		return m
	}
	keys := func(m map[string]any) []string {
		return slices.Sorted(maps.Keys(m))
	}
	want, got := answer(real.URL), answer(base.URL)
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("baseline fields %v, service fields %v", keys(got), keys(want))
	}

	res, err := run(t.Context(), config{URL: base.URL + "/predict", Duration: 2 * time.Second, Requests: 100,
		Concurrency: 2, Timeout: 5 * time.Second, Users: []string{"a"}})
	if err != nil || res.Status[http.StatusOK] != 100 {
		t.Fatalf("run against the baseline: %+v, %v", res, err)
	}
	if err := serveBaseline(t.Context(), "192.0.2.1:80"); err == nil {
		t.Fatal("serveBaseline accepted a non-loopback address")
	}
}
