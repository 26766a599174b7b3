package serve

import (
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Routes, as metric labels. Anything else is "other", so that scanners
// cannot blow up the label cardinality.
var routeNames = [...]string{"/predict", "/predict/details", "/health", "/ready", "/model", "/metrics", "other"}

const numRoutes = len(routeNames)

func routeIndex(path string) int {
	for i, r := range routeNames[:numRoutes-1] {
		if path == r {
			return i
		}
	}
	return numRoutes - 1
}

// latencyBuckets are the histogram's upper bounds, in seconds: dense below
// a millisecond, where in-process predictions land.
var latencyBuckets = [...]float64{
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
	0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
}

// httpMetrics are lock-free request counters: per route, a counter per
// status code and a latency histogram.
type httpMetrics struct {
	codes   [numRoutes][600]atomic.Uint64
	buckets [numRoutes][len(latencyBuckets) + 1]atomic.Uint64 // last: +Inf
	sumNS   [numRoutes]atomic.Uint64
	count   [numRoutes]atomic.Uint64
}

func (m *httpMetrics) observe(route, code int, d time.Duration) {
	if code < 100 || code > 599 {
		code = 599
	}
	m.codes[route][code].Add(1)
	sec := d.Seconds()
	i := 0
	for i < len(latencyBuckets) && sec > latencyBuckets[i] {
		i++
	}
	m.buckets[route][i].Add(1)
	m.sumNS[route].Add(uint64(d.Nanoseconds()))
	m.count[route].Add(1)
}

// appendMetrics writes the Prometheus text exposition format (0.0.4).
func (s *Service) appendMetrics(b []byte) []byte {
	m := &s.http
	b = append(b, "# HELP churnops_http_requests_total HTTP requests by route and status code.\n"...)
	b = append(b, "# TYPE churnops_http_requests_total counter\n"...)
	for r := range numRoutes {
		for code := range 600 {
			n := m.codes[r][code].Load()
			if n == 0 {
				continue
			}
			b = append(b, `churnops_http_requests_total{route="`...)
			b = append(b, routeNames[r]...)
			b = append(b, `",code="`...)
			b = strconv.AppendInt(b, int64(code), 10)
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, n, 10)
			b = append(b, '\n')
		}
	}
	b = append(b, "# HELP churnops_http_request_duration_seconds Time to serve a request, by route.\n"...)
	b = append(b, "# TYPE churnops_http_request_duration_seconds histogram\n"...)
	for r := range numRoutes {
		count := m.count[r].Load()
		if count == 0 {
			continue
		}
		var cum uint64
		for i := range len(latencyBuckets) + 1 {
			cum += m.buckets[r][i].Load()
			le := "+Inf"
			if i < len(latencyBuckets) {
				le = strconv.FormatFloat(latencyBuckets[i], 'g', -1, 64)
			} else {
				// Counters move while we read: keep the histogram consistent.
				cum = max(cum, count)
				count = cum
			}
			b = append(b, `churnops_http_request_duration_seconds_bucket{route="`...)
			b = append(b, routeNames[r]...)
			b = append(b, `",le="`...)
			b = append(b, le...)
			b = append(b, `"} `...)
			b = strconv.AppendUint(b, cum, 10)
			b = append(b, '\n')
		}
		b = append(b, `churnops_http_request_duration_seconds_sum{route="`...)
		b = append(b, routeNames[r]...)
		b = append(b, `"} `...)
		b = strconv.AppendFloat(b, float64(m.sumNS[r].Load())/1e9, 'g', -1, 64)
		b = append(b, '\n')
		b = append(b, `churnops_http_request_duration_seconds_count{route="`...)
		b = append(b, routeNames[r]...)
		b = append(b, `"} `...)
		b = strconv.AppendUint(b, count, 10)
		b = append(b, '\n')
	}

	st := s.Stats()
	model := escapeLabel(s.cfg.ModelName)
	gauge := func(name, help, typ string, v float64) {
		b = append(b, "# HELP "+name+" "+help+"\n# TYPE "+name+" "+typ+"\n"...)
		b = append(b, name+`{model="`+model+`"} `...)
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
		b = append(b, '\n')
	}
	gauge("churnops_model_version", "Loaded model version (0: none loaded).", "gauge", float64(st.Version))
	loadedAt := 0.0
	if !st.LoadedAt.IsZero() {
		loadedAt = float64(st.LoadedAt.UnixNano()) / 1e9
	}
	gauge("churnops_model_loaded_timestamp_seconds", "When the loaded model was loaded (unix seconds).", "gauge", loadedAt)
	gauge("churnops_model_reload_checks_total", "Registry checks for a new Production version.", "counter", float64(st.Checks))
	gauge("churnops_model_reloads_total", "Model versions loaded and swapped in.", "counter", float64(st.Reloads))
	gauge("churnops_model_reload_failures_total", "Failed checks or loads (the previous model kept serving).", "counter", float64(st.Failures))
	return b
}

// escapeLabel escapes a label value for the text format.
func escapeLabel(v string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
}

func (s *Service) serveMetrics(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		s.methodNotAllowed(w, r, s.requestID(r), "GET, HEAD")
		return
	}
	bp := getBuf()
	b := s.appendMetrics((*bp)[:0])
	h := w.Header()
	h.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	putBuf(bp, b)
}
