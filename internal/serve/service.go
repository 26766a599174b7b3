package serve

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
)

// Defaults for zero Config fields.
const (
	DefaultReloadInterval   = 30 * time.Second
	DefaultReloadTimeout    = 10 * time.Second
	DefaultMaxBatch         = 100
	DefaultMaxBodyBytes     = 64 << 10
	DefaultBatchConcurrency = 8
	DefaultReadyTimeout     = 2 * time.Second
)

// Config configures a Service. ModelName, Registry, Blobs, Features and
// Loader are required; zero values of the other fields take the defaults.
type Config struct {
	ModelName string           // registry model name, e.g. "churn"
	Registry  ProductionReader // where the Production version is read
	Blobs     ArtifactReader   // where artifacts are read, by Version.ArtifactKey
	Features  FeatureReader    // online features per user
	Loader    Loader           // decodes an artifact into a Model

	// ReloadInterval is the longest a promotion or rollback waits before it
	// is served: requests re-check the registry at most this often.
	ReloadInterval time.Duration
	// ReloadTimeout bounds one registry check plus artifact load.
	ReloadTimeout time.Duration
	// MaxBatch is the most user_ids one request may carry.
	MaxBatch int
	// MaxBodyBytes is the largest accepted request body.
	MaxBodyBytes int64
	// BatchConcurrency is how many feature-store reads a batch runs at once.
	BatchConcurrency int
	// ReadyTimeout bounds the feature-store check of GET /ready.
	ReadyTimeout time.Duration

	// Logger receives reload events and internal errors (with the request
	// id). Default: slog.Default().
	Logger *slog.Logger
	// AccessLog, if set, gets one line per request from ServerHandler. It is
	// separate from Logger so that a load test can run without it.
	AccessLog *slog.Logger
	// Pages, if set, are more routes ServerHandler serves for the paths
	// they match (the dashboard: GET /, /reports/…), inside the same
	// handler chain as the API: metrics, access log and whatever checks
	// ServerHandler applies to every route. Handler (Lambda) ignores them.
	Pages *http.ServeMux
	// Clock returns the current time; tests move it to trigger reloads.
	// Default: time.Now.
	Clock func() time.Time

	// Token, if set, is the bearer token ServerHandler requires on every
	// route but /health ("Authorization: Bearer <Token>"); at least
	// MinTokenLen bytes. Handler (Lambda) ignores it: API Gateway
	// authenticates there.
	Token string
}

// Service serves predictions with the current Production model. It is safe
// for concurrent use; create it with New.
type Service struct {
	cfg Config
	log *slog.Logger

	cur       atomic.Pointer[loaded] // nil until a model is loaded
	nextCheck atomic.Int64           // unix nanos of the next registry check
	mu        sync.Mutex             // guards inflight
	inflight  chan struct{}          // non-nil while a check runs; closed when it ends

	reloadChecks   atomic.Uint64
	reloads        atomic.Uint64
	reloadFailures atomic.Uint64

	idPrefix string
	idSeq    atomic.Uint64
	http     httpMetrics

	// entries is Config.Features when it hands out cache entries with a
	// memo (featurestore.Cache), where prepared records are kept; else nil.
	entries entryStore

	// token is the digest of Config.Token; nil when no token is required.
	token *tokenDigest
}

// entryStore is a feature store whose reads return shared cache entries
// with a memo slot, as featurestore.Cache does.
type entryStore interface {
	GetEntry(ctx context.Context, userID string) (*featurestore.Entry, error)
}

// loaded is one loaded model version with what the handlers need precomputed.
type loaded struct {
	model     Model
	explainer Explainer // model, when it can explain; else nil
	version   registry.Version
	names     []string
	index     map[string]int
	loadedAt  time.Time
}

// New checks cfg and returns a Service. It does no I/O: the first request
// (or an explicit Reload, e.g. during Lambda init) loads the model.
func New(cfg Config) (*Service, error) {
	switch {
	case cfg.ModelName == "":
		return nil, errors.New("serve: Config.ModelName is required")
	case cfg.Registry == nil:
		return nil, errors.New("serve: Config.Registry is required")
	case cfg.Blobs == nil:
		return nil, errors.New("serve: Config.Blobs is required")
	case cfg.Features == nil:
		return nil, errors.New("serve: Config.Features is required")
	case cfg.Loader == nil:
		return nil, errors.New("serve: Config.Loader is required")
	case cfg.Token != "" && len(cfg.Token) < MinTokenLen:
		return nil, fmt.Errorf("serve: Config.Token is %d bytes; use at least %d", len(cfg.Token), MinTokenLen)
	case cfg.ReloadInterval < 0, cfg.ReloadTimeout < 0, cfg.MaxBatch < 0,
		cfg.MaxBodyBytes < 0, cfg.BatchConcurrency < 0, cfg.ReadyTimeout < 0:
		return nil, errors.New("serve: negative Config value")
	}
	cfg.ReloadInterval = cmp.Or(cfg.ReloadInterval, DefaultReloadInterval)
	cfg.ReloadTimeout = cmp.Or(cfg.ReloadTimeout, DefaultReloadTimeout)
	cfg.MaxBatch = cmp.Or(cfg.MaxBatch, DefaultMaxBatch)
	cfg.MaxBodyBytes = cmp.Or(cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	cfg.BatchConcurrency = cmp.Or(cfg.BatchConcurrency, DefaultBatchConcurrency)
	cfg.ReadyTimeout = cmp.Or(cfg.ReadyTimeout, DefaultReadyTimeout)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	var p [4]byte
	_, _ = rand.Read(p[:]) // never fails (crypto/rand panics instead)
	es, _ := cfg.Features.(entryStore)
	s := &Service{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "serve", "model", cfg.ModelName),
		idPrefix: hex.EncodeToString(p[:]),
		entries:  es,
	}
	if cfg.Token != "" {
		d := tokenDigest(sha256.Sum256([]byte(cfg.Token)))
		s.token = &d
		s.cfg.Token = "" // keep only the digest
	}
	return s, nil
}

// Handler returns the API handler (/predict, /predict/details, /health,
// /ready, /model). It is
// what Lambda serves through internal/apigw; ServerHandler adds the local
// server's extras.
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	id := s.requestID(r)
	w.Header().Set("X-Request-Id", id)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.writeError(w, r, id, internal(fmt.Errorf("panic: %v\n%s", v, debug.Stack())))
		}
	}()
	switch r.URL.Path {
	case "/predict", "/predict/details":
		if r.Method != http.MethodPost {
			s.methodNotAllowed(w, r, id, "POST")
			return
		}
		s.predict(w, r, id, r.URL.Path == "/predict/details")
	case "/health", "/ready", "/model":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			s.methodNotAllowed(w, r, id, "GET, HEAD")
			return
		}
		switch r.URL.Path {
		case "/health":
			writeRaw(w, http.StatusOK, []byte(`{"status":"ok"}`))
		case "/ready":
			s.ready(w, r, id)
		default:
			s.modelInfo(w, r, id)
		}
	default:
		s.writeError(w, r, id, &Error{Code: CodeNotFound, Message: "no route for " + quote(r.URL.Path)})
	}
}

func (s *Service) methodNotAllowed(w http.ResponseWriter, r *http.Request, id, allow string) {
	w.Header().Set("Allow", allow)
	s.writeError(w, r, id, &Error{Code: CodeMethodNotAllowed,
		Message: fmt.Sprintf("%s %s is not allowed; use %s", quote(r.Method), r.URL.Path, allow)})
}

// requestID echoes a sane X-Request-Id (API Gateway's, via internal/apigw,
// or a proxy's: up to 128 of [A-Za-z0-9-_.:=+/]) or makes a new one: a
// per-process prefix and a counter.
func (s *Service) requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); validRequestID(id) {
		return id
	}
	b := make([]byte, 0, 24)
	b = append(b, s.idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, s.idSeq.Add(1), 36)
	return string(b)
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-_.:=+/", c) >= 0) {
			return false
		}
	}
	return true
}

// writeError is the one place errors become responses: it maps the code to
// the status, replaces internal messages with a generic one, and logs the
// cause with the request id.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, id string, err error) {
	e := asError(err)
	status := e.Status()
	msg := e.Message
	if e.Code == CodeInternal || status == http.StatusInternalServerError {
		msg = internalMessage
	}
	if e.Err != nil {
		level := slog.LevelError
		if errors.Is(e.Err, context.Canceled) {
			level = slog.LevelWarn // the client went away
		}
		s.log.LogAttrs(r.Context(), level, "request failed",
			slog.String("request_id", id), slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", status),
			slog.String("code", e.Code), slog.String("err", e.Err.Error()))
	}
	bp := getBuf()
	b := appendError((*bp)[:0], e.Code, msg, e.Feature)
	writeRaw(w, status, b)
	putBuf(bp, b)
}

// jsonContentType is shared by every response: net/http only reads it.
var jsonContentType = []string{"application/json"}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// bufPool holds request and response byte buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(p *[]byte, b []byte) {
	if cap(b) > 256<<10 {
		return // let a huge one go
	}
	*p = b[:0]
	bufPool.Put(p)
}

// readBody reads the request body into b, up to the size limit.
func (s *Service) readBody(w http.ResponseWriter, r *http.Request, b []byte) ([]byte, error) {
	limit := s.cfg.MaxBodyBytes
	tooLarge := func() error {
		w.Header().Set("Connection", "close") // do not read the rest
		return &Error{Code: CodeBodyTooLarge, Message: fmt.Sprintf("request body is larger than %d bytes", limit)}
	}
	if r.ContentLength > limit {
		return b, tooLarge()
	}
	if r.ContentLength > 0 && int64(cap(b)) < r.ContentLength+1 {
		b = make([]byte, 0, r.ContentLength+1) // +1: see EOF without growing
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > limit {
			return b, tooLarge()
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return b, invalid("request body ended early")
			}
			return b, &Error{Code: CodeInvalidRequest, Message: "could not read request body", Err: err}
		}
	}
}

// checkContentType accepts no Content-Type, application/json, text/json and
// application/*+json, with any parameters.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = trimSpaceLower(ct)
	if ct == "application/json" || ct == "text/json" ||
		(len(ct) > len("application/+json") && ct[:len("application/")] == "application/" && ct[len(ct)-5:] == "+json") {
		return nil
	}
	return &Error{Code: CodeUnsupportedMedia,
		Message: "Content-Type must be application/json (with curl: -H 'Content-Type: application/json')"}
}

func trimSpaceLower(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
