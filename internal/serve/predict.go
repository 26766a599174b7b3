package serve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
)

// predict serves POST /predict and, with details, POST /predict/details:
// the same request and answer, except that only the details route serves
// what a request includes (per-customer data), so that it can be granted
// apart (see Include).
func (s *Service) predict(w http.ResponseWriter, r *http.Request, id string, details bool) {
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		s.writeError(w, r, id, err)
		return
	}
	bp := getBuf()
	b, err := s.readBody(w, r, (*bp)[:0])
	if err != nil {
		putBuf(bp, b)
		s.writeError(w, r, id, err)
		return
	}
	req, err := DecodeRequest(b, s.cfg.MaxBatch)
	if err == nil && req.Include != 0 && !details {
		err = includeForbidden(req.Include)
	}
	if err != nil {
		putBuf(bp, b)
		s.writeError(w, r, id, err)
		return
	}
	m := s.current(r.Context())
	if m == nil {
		putBuf(bp, b)
		s.writeError(w, r, id, errNoModel)
		return
	}
	if req.Include.Has(IncludeReasons) && m.explainer == nil {
		putBuf(bp, b)
		s.writeError(w, r, id, reasonsUnavailable(m))
		return
	}
	// The request body is decoded (copied out); reuse its buffer for the response.
	out := b[:0]
	parts := parts{inc: req.Include, k: req.ReasonsK}
	switch req.Kind {
	case KindSingle:
		out, err = s.predictUser(r.Context(), m, req.UserID, parts, out)
	case KindBatch:
		out, err = s.predictBatch(r.Context(), m, req.UserIDs, parts, out)
	default:
		out, err = s.predictInline(m, req, parts, out)
	}
	if err != nil {
		putBuf(bp, out)
		s.writeError(w, r, id, err)
		return
	}
	writeRaw(w, http.StatusOK, out)
	putBuf(bp, out)
}

// includeForbidden is the answer to an include sent to POST /predict.
func includeForbidden(inc Include) *Error {
	return &Error{Code: CodeForbidden, Message: fmt.Sprintf(
		"include %s is per-customer data, served only by POST /predict/details (granted separately); POST /predict answers without it",
		quote(inc.String()))}
}

var errNoModel = &Error{Code: CodeNoProductionModel,
	Message: "no Production model is loaded yet; retry later"}

// reasonsUnavailable answers a request for reasons that the loaded model
// cannot give: the request is fine, the model predates reasons.
func reasonsUnavailable(m *loaded) *Error {
	return &Error{Code: CodeReasonsUnavailable, Message: fmt.Sprintf(
		"model %s v%d cannot explain its predictions: it was trained before reasons were supported; retrain it (a new run) to get reasons, or ask without \"reasons\"",
		m.version.Model, m.version.Version)}
}

// parts are what a request includes beyond the default answer.
type parts struct {
	inc Include
	k   int // reasons per prediction, with IncludeReasons
}

func userNotFound(id string) *Error {
	return &Error{Code: CodeUserNotFound, Message: "no online features for user_id " + quote(id)}
}

// errNoFeatures answers a user's request when no month of online features
// is published: not the user's fault, and over once one is.
var errNoFeatures = &Error{Code: CodeNotReady, Message: "no online features are published yet; retry later"}

// readError maps a feature store failure other than a missing user.
func readError(id string, err error) *Error {
	if errors.Is(err, featurestore.ErrNoVersion) {
		e := *errNoFeatures
		e.Err = err
		return &e
	}
	return internal(fmt.Errorf("feature store get %q: %w", id, err))
}

func (s *Service) predictUser(ctx context.Context, m *loaded, id string, inc parts, out []byte) ([]byte, error) {
	rec, e, err := s.read(ctx, id)
	if errors.Is(err, featurestore.ErrNotFound) {
		return out, userNotFound(id)
	}
	if err != nil {
		return out, readError(id, err)
	}
	out, err = m.appendStored(out, id, rec, e, inc)
	if err != nil {
		return out, internal(err)
	}
	return out, nil
}

// read returns the user's stored record and, when the feature store hands
// out cache entries (featurestore.Cache, in churnops serve), the entry
// holding it, whose memo keeps the record prepared for the model.
func (s *Service) read(ctx context.Context, id string) (featurestore.Record, *featurestore.Entry, error) {
	if s.entries != nil {
		e, err := s.entries.GetEntry(ctx, id)
		if err != nil {
			return featurestore.Record{}, nil, err
		}
		return e.Record, e, nil
	}
	rec, err := s.cfg.Features.Get(ctx, id)
	return rec, nil, err
}

// appendStored appends the prediction for a stored record, with the parts
// inc asks for. With its cache entry, the row is encoded and features_used
// rendered once per record and model, so that a request pays for the model
// itself and little else.
func (m *loaded) appendStored(out []byte, id string, rec featurestore.Record, e *featurestore.Entry, inc parts) ([]byte, error) {
	a := answer{userID: id, hasUser: true, asOf: rec.AsOf, hasAsOf: true, raw: rec.Features}
	if e == nil {
		rp, err := m.encode(rec.Features)
		if err != nil {
			return out, fmt.Errorf("stored features of %q: %w", id, err)
		}
		a.row = *rp
		out, err = m.appendAnswer(out, &a, inc)
		rowPool.Put(rp)
		return out, err
	}
	pr, err := m.prepare(e)
	if err != nil {
		return out, fmt.Errorf("stored features of %q: %w", id, err)
	}
	a.row, a.features = pr.row, pr.features
	return m.appendAnswer(out, &a, inc)
}

// answer is one prediction to render: who and when, the raw features
// (features_used and the reasons' values; features_used pre-rendered when
// features is set) and the encoded row.
type answer struct {
	userID   string
	hasUser  bool
	asOf     string
	hasAsOf  bool
	raw      map[string]any
	features []byte
	row      []float64
}

// appendAnswer scores a.row and appends the prediction with what inc asks
// for.
func (m *loaded) appendAnswer(out []byte, a *answer, inc parts) ([]byte, error) {
	p, err := m.proba(a.row)
	if err != nil {
		return out, err
	}
	out = appendPredictionHead(out, m, a.userID, a.hasUser, a.asOf, a.hasAsOf, p)
	if inc.inc.Has(IncludeFeatures) {
		out = append(out, featuresKey...)
		if a.features != nil {
			out = append(out, a.features...)
		} else {
			out = appendFeatures(out, m, a.raw)
		}
	}
	if inc.inc.Has(IncludeReasons) {
		if out, err = m.appendReasons(out, a.row, a.raw, inc.k); err != nil {
			return out, err
		}
	}
	return append(out, '}'), nil
}

// prepared is what predictions for one stored record need from it under one
// model: the encoded row and the rendered features_used object. Both are
// read-only once made: requests share them.
type prepared struct {
	row      []float64
	features []byte
}

// prepare returns e's prepared record for m from e's memo, making it on
// first use (concurrent first uses may each make one; the last one stays).
func (m *loaded) prepare(e *featurestore.Entry) (*prepared, error) {
	if v, ok := e.Memo(m); ok {
		return v.(*prepared), nil
	}
	row := make([]float64, m.model.NumFeatures())
	if err := m.model.Encode(e.Record.Features, row); err != nil {
		return nil, err
	}
	pr := &prepared{row: row, features: appendFeatures(nil, m, e.Record.Features)}
	e.SetMemo(m, pr)
	return pr, nil
}

func (s *Service) predictInline(m *loaded, req Request, inc parts, out []byte) ([]byte, error) {
	if err := m.checkInline(req.Features); err != nil {
		return out, err
	}
	rp, err := m.encode(req.Features)
	if err != nil {
		var fe *FeatureError
		if errors.As(err, &fe) {
			return out, &Error{Code: CodeInvalidRequest, Feature: fe.Feature, Message: fe.Error()}
		}
		return out, internal(fmt.Errorf("inline features: %w", err))
	}
	a := answer{userID: req.UserID, hasUser: req.UserID != "", raw: req.Features, row: *rp}
	out, err = m.appendAnswer(out, &a, inc)
	rowPool.Put(rp)
	if err != nil {
		return out, internal(fmt.Errorf("inline features: %w", err))
	}
	return out, nil
}

func (s *Service) predictBatch(ctx context.Context, m *loaded, ids []string, inc parts, out []byte) ([]byte, error) {
	recs := make([]featurestore.Record, len(ids))
	ents := make([]*featurestore.Entry, len(ids))
	errs := make([]error, len(ids))
	s.fetchAll(ctx, ids, recs, ents, errs)
	for i, err := range errs {
		if err != nil && !errors.Is(err, featurestore.ErrNotFound) {
			return out, readError(ids[i], err)
		}
	}
	out = append(out, `{"predictions":[`...)
	for i, id := range ids {
		if i > 0 {
			out = append(out, ',')
		}
		if errs[i] != nil {
			nf := userNotFound(id)
			out = append(out, `{"user_id":`...)
			out = appendString(out, id)
			out = append(out, `,"error":`...)
			out = appendErrorObject(out, nf.Code, nf.Message, "")
			out = append(out, '}')
			continue
		}
		var err error
		if out, err = m.appendStored(out, id, recs[i], ents[i], inc); err != nil {
			return out, internal(err)
		}
	}
	return append(out, "]}"...), nil
}

// fetchAll reads the ids' records (and cache entries, see read) with at
// most BatchConcurrency reads in flight: a remote store (DynamoDB) answers
// a batch of 100 in a few round trips instead of 100.
func (s *Service) fetchAll(ctx context.Context, ids []string, recs []featurestore.Record, ents []*featurestore.Entry, errs []error) {
	workers := min(s.cfg.BatchConcurrency, len(ids))
	if workers <= 1 {
		for i, id := range ids {
			recs[i], ents[i], errs[i] = s.read(ctx, id)
		}
		return
	}
	var next sync.Mutex
	n := 0
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				next.Lock()
				i := n
				n++
				next.Unlock()
				if i >= len(ids) {
					return
				}
				recs[i], ents[i], errs[i] = s.read(ctx, ids[i])
			}
		})
	}
	wg.Wait()
}

// rowPool holds encoded rows, so that a prediction allocates no row.
var rowPool = sync.Pool{New: func() any { return new([]float64) }}

// encode encodes raw into a row from rowPool; put it back when done.
func (m *loaded) encode(raw map[string]any) (*[]float64, error) {
	rp := rowPool.Get().(*[]float64)
	n := m.model.NumFeatures()
	if cap(*rp) < n {
		*rp = make([]float64, n)
	}
	*rp = (*rp)[:n]
	clear(*rp)
	if err := m.model.Encode(raw, *rp); err != nil {
		rowPool.Put(rp)
		return nil, err
	}
	return rp, nil
}

// proba is the model's probability for an encoded row, refusing a value
// that is not one.
func (m *loaded) proba(row []float64) (float64, error) {
	p := m.model.PredictProba(row)
	if math.IsNaN(p) || p < 0 || p > 1 {
		return 0, fmt.Errorf("model %s v%d returned probability %v", m.version.Model, m.version.Version, p)
	}
	return p, nil
}

// checkInline enforces the inline contract: exactly the model's features,
// with null for a missing value.
func (m *loaded) checkInline(raw map[string]any) error {
	var missing, unknown []string
	for _, n := range m.names {
		if _, ok := raw[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(raw)+len(missing) != len(m.names) {
		for k := range raw {
			if _, ok := m.index[k]; !ok {
				unknown = append(unknown, k)
			}
		}
		slices.Sort(unknown)
	}
	if len(missing) == 0 && len(unknown) == 0 {
		return m.checkCategories(raw)
	}
	var parts []string
	feature := ""
	if len(unknown) > 0 {
		feature = unknown[0]
		parts = append(parts, "unknown feature(s) "+quoteList(unknown))
	}
	if len(missing) > 0 {
		if feature == "" {
			feature = missing[0]
		}
		parts = append(parts, "missing feature(s) "+quoteList(missing)+" (send null for a missing value)")
	}
	return &Error{Code: CodeInvalidRequest, Feature: feature,
		Message: strings.Join(parts, "; ") + fmt.Sprintf("; model %s v%d expects exactly %d features",
			m.version.Model, m.version.Version, len(m.names))}
}

// checkCategories refuses a category the model does not know: from a
// client it is a mistake (a typo, a stale client), where Encode would score
// it as missing, the lenient reading kept for the online store.
func (m *loaded) checkCategories(raw map[string]any) error {
	for _, n := range m.names {
		levels := m.model.Categories(n)
		if levels == nil {
			continue
		}
		v, ok := raw[n].(string) // nil is missing; other types fail in Encode
		if !ok || slices.Contains(levels, v) {
			continue
		}
		q := make([]string, len(levels))
		for i, l := range levels {
			q[i] = quote(l)
		}
		return &Error{Code: CodeInvalidRequest, Feature: n,
			Message: fmt.Sprintf("feature %s: unknown category %s; want one of %s, or null for missing",
				quote(n), quote(v), strings.Join(q, ", "))}
	}
	return nil
}

func quoteList(names []string) string {
	const show = 5
	q := make([]string, 0, show+1)
	for i, n := range names {
		if i == show {
			q = append(q, fmt.Sprintf("and %d more", len(names)-show))
			break
		}
		q = append(q, quote(n))
	}
	return strings.Join(q, ", ")
}

func (s *Service) ready(w http.ResponseWriter, r *http.Request, id string) {
	m := s.current(r.Context())
	if m == nil {
		s.writeError(w, r, id, errNoModel)
		return
	}
	// Ready means /predict can answer a user: a version of online features
	// is served and readable.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
	defer cancel()
	asOf, err := s.cfg.Features.Current(ctx)
	if errors.Is(err, featurestore.ErrNoVersion) {
		e := *errNoFeatures
		e.Err = err
		s.writeError(w, r, id, &e)
		return
	}
	if err != nil {
		s.writeError(w, r, id, &Error{Code: CodeNotReady, Message: "the online features cannot be read",
			Err: fmt.Errorf("feature store: %w", err)})
		return
	}
	b := fmt.Appendf(nil, `{"status":"ready","model_name":%s,"model_version":%d,"features_as_of":%s}`,
		appendString(nil, m.version.Model), m.version.Version, appendString(nil, asOf))
	writeRaw(w, http.StatusOK, b)
}

// ModelInfo is the body of GET /model.
type ModelInfo struct {
	ModelName    string              `json:"model_name"`
	ModelVersion int                 `json:"model_version"`
	Stage        string              `json:"stage"`
	AsOf         string              `json:"as_of"` // training snapshot date
	ArtifactKey  string              `json:"artifact_key"`
	Metrics      map[string]*float64 `json:"metrics"` // null for a non-finite value
	Threshold    float64             `json:"threshold"`
	Features     []string            `json:"features"`
	LoadedAt     time.Time           `json:"loaded_at"`
}

func (s *Service) modelInfo(w http.ResponseWriter, r *http.Request, id string) {
	m := s.current(r.Context())
	if m == nil {
		s.writeError(w, r, id, errNoModel)
		return
	}
	info := ModelInfo{
		ModelName:    m.version.Model,
		ModelVersion: m.version.Version,
		Stage:        string(m.version.Stage),
		AsOf:         m.version.AsOf,
		ArtifactKey:  m.version.ArtifactKey,
		Metrics:      make(map[string]*float64, len(m.version.Metrics)),
		Threshold:    m.model.Threshold(),
		Features:     m.names,
		LoadedAt:     m.loadedAt.UTC(),
	}
	for k, v := range m.version.Metrics {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			info.Metrics[k] = &v
		} else {
			info.Metrics[k] = nil
		}
	}
	b, err := json.Marshal(info)
	if err != nil {
		s.writeError(w, r, id, internal(fmt.Errorf("encode /model: %w", err)))
		return
	}
	writeRaw(w, http.StatusOK, b)
}
