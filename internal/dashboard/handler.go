package dashboard

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"path"

	"github.com/churnops/churnops/internal/blob"
)

// reportCSP is sent with the stored reports Handler serves: the drift
// report is one page of inline CSS and SVG, with no script.
const reportCSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"

// reportTypes are the stored files Handler serves, by extension.
var reportTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".json": "application/json",
}

// Handler serves the dashboard, built afresh on every request, and the
// reports it links to, read-only:
//
//	GET /                    the page (its links point into reports/)
//	GET /reports/            the page as the static file reports/index.html
//	GET /reports/index.html  the same
//	GET /reports/KEY         the stored blob reports/KEY, for .html and .json
//	                         keys only (drift reports, execution records)
//
// HEAD works wherever GET does. Nothing outside reports/ is reachable:
// keys are checked with blob.CheckKey (no "..", no dot segments). The
// routes come as a ServeMux so a server can mount them beside its own and
// keep one handler chain (and its authentication) in front of both.
// log receives the errors a request cannot show (nil: discarded).
func Handler(src Sources, log *slog.Logger) *http.ServeMux {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if src.Cache == nil {
		src.Cache = &Cache{}
	}
	h := &handler{src: src, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { h.page(w, r, "reports/") })
	mux.HandleFunc("GET /reports/{$}", func(w http.ResponseWriter, r *http.Request) { h.page(w, r, "") })
	mux.HandleFunc("GET /reports/index.html", func(w http.ResponseWriter, r *http.Request) { h.page(w, r, "") })
	mux.HandleFunc("GET /reports/{key...}", h.report)
	return mux
}

type handler struct {
	src Sources
	log *slog.Logger
}

func (h *handler) page(w http.ResponseWriter, r *http.Request, base string) {
	p, err := Build(r.Context(), h.src)
	if err != nil {
		h.log.Error("dashboard: build", "err", err)
		http.Error(w, "the dashboard could not be built; see the server's log", http.StatusInternalServerError)
		return
	}
	p.ReportsBase = base
	var buf bytes.Buffer
	if err := Render(&buf, p); err != nil {
		h.log.Error("dashboard: render", "err", err)
		http.Error(w, "the dashboard could not be rendered; see the server's log", http.StatusInternalServerError)
		return
	}
	headers(w, "text/html; charset=utf-8", CSP)
	_, _ = buf.WriteTo(w)
}

func (h *handler) report(w http.ResponseWriter, r *http.Request) {
	key := "reports/" + r.PathValue("key")
	ctype, ok := reportTypes[path.Ext(key)]
	if !ok || blob.CheckKey(key) != nil {
		http.NotFound(w, r)
		return
	}
	data, err := h.src.Blobs.Get(r.Context(), key)
	switch {
	case errors.Is(err, blob.ErrNotFound), errors.Is(err, blob.ErrBadKey):
		http.NotFound(w, r)
		return
	case err != nil:
		h.log.Error("dashboard: read report", "key", key, "err", err)
		http.Error(w, "the report could not be read; see the server's log", http.StatusInternalServerError)
		return
	}
	headers(w, ctype, reportCSP)
	_, _ = w.Write(data)
}

// headers are sent with every page and report: no sniffing, no framing,
// no caching (the page changes with every run), no referrer.
func headers(w http.ResponseWriter, ctype, csp string) {
	h := w.Header()
	h.Set("Content-Type", ctype)
	h.Set("Content-Security-Policy", csp+"; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}
