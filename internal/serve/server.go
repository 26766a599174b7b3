package serve

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ShutdownTimeout is how long ListenAndServe waits for in-flight requests
// after its context is cancelled.
const ShutdownTimeout = 10 * time.Second

// ServerHandler is Handler plus what only a long-running server needs:
// GET /metrics (Prometheus text format), per-route request counters and
// latency histograms, an access log line per request when Config.AccessLog
// is set, and the bearer token check when Config.Token is set (every route
// but /health; refusals are counted and logged like any answer).
func (s *Service) ServerHandler() http.Handler {
	api := s.withPages(s.Handler())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		route := routeIndex(r.URL.Path)
		ok, present, answered := true, false, false
		if s.token != nil && routeNames[route] != "/health" {
			ok, present = s.token.authorized(r)
			if !ok && s.isPage(r) {
				ok, answered = s.pageAccess(sw, r)
			}
		}
		if answered {
			// signed in: redirected to the page without its token
		} else if !ok {
			s.refuse(sw, r, present)
		} else if routeNames[route] == "/metrics" {
			s.serveMetrics(sw, r)
		} else {
			api.ServeHTTP(sw, r)
		}
		d := time.Since(start)
		s.http.observe(route, sw.status, d)
		if s.cfg.AccessLog != nil {
			s.cfg.AccessLog.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Int("bytes", sw.bytes),
				slog.Float64("duration_ms", float64(d.Microseconds())/1000), slog.String("remote", r.RemoteAddr),
				slog.String("request_id", w.Header().Get("X-Request-Id")))
		}
	})
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += n
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ListenAndServe serves ServerHandler on addr (e.g. "127.0.0.1:8000") until
// ctx is cancelled, then shuts down gracefully: it stops accepting, lets
// in-flight requests finish (up to ShutdownTimeout) and returns nil.
func (s *Service) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on an existing listener, which it closes.
func (s *Service) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.ServerHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("serving", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	s.log.Info("server stopped", "addr", ln.Addr().String())
	return err
}
