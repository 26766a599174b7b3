// Package servetest provides in-memory fakes for exercising internal/serve
// without a trained model or a real store: a deterministic Model with the
// lab's 14-feature spec and its artifact Loader, and in-memory Registry,
// blob Store and feature Store implementations with fault injection.
//
// It is test support (like net/http/httptest): production code never
// imports it.
package servetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/serve"
)

// Kind is a feature's raw type in the fake spec.
type Kind string

// Feature kinds.
const (
	Number   Kind = "number"   // float64, or null
	Boolean  Kind = "bool"     // true/false, or null
	Category Kind = "category" // one of Feature.Levels, or null
)

// Feature is one entry of the fake feature spec.
type Feature struct {
	Name   string   `json:"name"`
	Kind   Kind     `json:"kind"`
	Levels []string `json:"levels,omitempty"` // Category: accepted values, encoded as their index
}

// ChurnSpec is the lab's 14 features with their raw types, in model order.
func ChurnSpec() []Feature {
	return []Feature{
		{Name: "months_active", Kind: Number},
		{Name: "monthly_fee", Kind: Number},
		{Name: "paperless_billing", Kind: Boolean},
		{Name: "plan_stream_tv", Kind: Boolean},
		{Name: "plan_stream_movies", Kind: Boolean},
		{Name: "net_service", Kind: Category, Levels: []string{"DSL", "Fiber optic", "No"}},
		{Name: "watch_hours_30d", Kind: Number},
		{Name: "avg_session_mins_7d", Kind: Number},
		{Name: "unique_devices_30d", Kind: Number},
		{Name: "skips_7d", Kind: Number},
		{Name: "rebuffer_events_7d", Kind: Number},
		{Name: "failed_payments_90d", Kind: Number},
		{Name: "support_tickets_90d", Kind: Number},
		{Name: "ticket_avg_resolution_hrs_90d", Kind: Number},
	}
}

// Artifact is the fake model's artifact: JSON, decoded by Load.
type Artifact struct {
	Spec      []Feature `json:"spec"`
	Weights   []float64 `json:"weights"` // one per feature; missing values contribute 0
	Bias      float64   `json:"bias"`
	Threshold float64   `json:"threshold"`
}

// NewArtifact returns the bytes of a fake model over ChurnSpec whose
// probabilities shift with bias, so that two versions answer differently.
func NewArtifact(bias, threshold float64) []byte {
	spec := ChurnSpec()
	w := make([]float64, len(spec))
	for i := range w {
		w[i] = 0.05 * float64(i%5-2)
	}
	b, err := json.Marshal(Artifact{Spec: spec, Weights: w, Bias: bias, Threshold: threshold})
	if err != nil {
		panic(err)
	}
	return b
}

// Model is the fake serve.Model: logistic regression over the encoded row.
// It explains its predictions exactly (serve.Explainer): each feature
// contributes its term of the linear score, the bias is Artifact.Bias.
type Model struct {
	a     Artifact
	names []string
}

var _ serve.Explainer = (*Model)(nil)

// Load is a serve.Loader for Artifact bytes.
func Load(data []byte) (serve.Model, error) {
	var a Artifact
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&a); err != nil {
		return nil, fmt.Errorf("servetest: decode artifact: %w", err)
	}
	if len(a.Spec) == 0 || len(a.Weights) != len(a.Spec) {
		return nil, errors.New("servetest: artifact needs one weight per feature")
	}
	m := &Model{a: a}
	for _, f := range a.Spec {
		m.names = append(m.names, f.Name)
	}
	return m, nil
}

// Encode implements serve.Model: NaN for a missing value or an unknown
// category.
func (m *Model) Encode(raw map[string]any, dst []float64) error {
	for i, f := range m.a.Spec {
		v, ok := raw[f.Name]
		if !ok || v == nil {
			dst[i] = math.NaN()
			continue
		}
		switch f.Kind {
		case Number:
			x, ok := v.(float64)
			if !ok {
				return &serve.FeatureError{Feature: f.Name, Reason: "want a number, got " + typeName(v)}
			}
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return &serve.FeatureError{Feature: f.Name, Reason: "want a finite number"}
			}
			dst[i] = x
		case Boolean:
			x, ok := v.(bool)
			if !ok {
				return &serve.FeatureError{Feature: f.Name, Reason: "want true, false or null, got " + typeName(v)}
			}
			dst[i] = 0
			if x {
				dst[i] = 1
			}
		case Category:
			x, ok := v.(string)
			if !ok {
				return &serve.FeatureError{Feature: f.Name, Reason: "want a string, got " + typeName(v)}
			}
			dst[i] = math.NaN() // an unknown category is missing
			if j := slices.Index(f.Levels, x); j >= 0 {
				dst[i] = float64(j)
			}
		}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case bool:
		return "boolean"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}

// PredictProba implements serve.Model.
func (m *Model) PredictProba(x []float64) float64 {
	z := m.a.Bias
	for i := range m.a.Weights {
		z += m.term(x, i)
	}
	return 1 / (1 + math.Exp(-z))
}

// term is feature i's part of the log-odds of row x.
func (m *Model) term(x []float64, i int) float64 {
	if v := x[i]; v == v { // not NaN
		return m.a.Weights[i] * math.Tanh(v/10)
	}
	return 0
}

// Explain implements serve.Explainer.
func (m *Model) Explain(x, out []float64) error {
	if len(out) != len(m.a.Weights)+1 {
		return fmt.Errorf("servetest: explain needs %d values, got %d", len(m.a.Weights)+1, len(out))
	}
	for i := range m.a.Weights {
		out[i] = m.term(x, i)
	}
	out[len(m.a.Weights)] = m.a.Bias
	return nil
}

// NumFeatures implements serve.Model.
func (m *Model) NumFeatures() int { return len(m.a.Spec) }

// FeatureNames implements serve.Model.
func (m *Model) FeatureNames() []string { return m.names }

// Categories implements serve.Model.
func (m *Model) Categories(feature string) []string {
	for _, f := range m.a.Spec {
		if f.Name == feature && f.Kind == Category {
			return f.Levels
		}
	}
	return nil
}

// Threshold implements serve.Model.
func (m *Model) Threshold() float64 { return m.a.Threshold }

// Users returns n realistic online-feature records (user ids like
// "0001-ABCDE"), seeded, with about 20% of customers without internet
// service (null streaming plans).
func Users(n int, seed uint64, asOf string) []featurestore.Record {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	recs := make([]featurestore.Record, n)
	for i := range recs {
		var id [5]byte
		for j := range id {
			id[j] = byte('A' + r.IntN(26))
		}
		f := map[string]any{
			"months_active":                 float64(r.IntN(72) + 1),
			"monthly_fee":                   math.Round((20+r.Float64()*100)*100) / 100,
			"paperless_billing":             r.IntN(2) == 0,
			"plan_stream_tv":                r.IntN(2) == 0,
			"plan_stream_movies":            r.IntN(2) == 0,
			"net_service":                   []string{"DSL", "Fiber optic"}[r.IntN(2)],
			"watch_hours_30d":               math.Round(r.Float64()*1200) / 10,
			"avg_session_mins_7d":           math.Round(r.Float64()*900) / 10,
			"unique_devices_30d":            float64(r.IntN(5) + 1),
			"skips_7d":                      float64(r.IntN(40)),
			"rebuffer_events_7d":            float64(r.IntN(12)),
			"failed_payments_90d":           float64(r.IntN(4)),
			"support_tickets_90d":           float64(r.IntN(6)),
			"ticket_avg_resolution_hrs_90d": math.Round(r.Float64()*720) / 10,
		}
		if r.IntN(5) == 0 {
			f["net_service"], f["plan_stream_tv"], f["plan_stream_movies"] = "No", nil, nil
		}
		recs[i] = featurestore.Record{UserID: fmt.Sprintf("%04d-%s", i+1, id[:]), AsOf: asOf, Features: f}
	}
	return recs
}

// Blobs is an in-memory blob.Store (it passes blobtest). SetErr makes Gets
// fail.
type Blobs struct {
	mu   sync.RWMutex
	data map[string][]byte
	err  error
	gets int
}

var _ blob.Store = (*Blobs)(nil)

// NewBlobs returns an empty store.
func NewBlobs() *Blobs { return &Blobs{data: map[string][]byte{}} }

// SetErr makes every later Get fail with err (nil: succeed again).
func (b *Blobs) SetErr(err error) {
	b.mu.Lock()
	b.err = err
	b.mu.Unlock()
}

// Gets returns how many Gets were made.
func (b *Blobs) Gets() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.gets
}

// Put implements blob.Store.
func (b *Blobs) Put(ctx context.Context, key string, data []byte) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.data[key]; ok {
		return fmt.Errorf("%s: %w", key, blob.ErrExists)
	}
	b.data[key] = slices.Clone(data)
	return nil
}

// Get implements blob.Store; SetErr makes it fail.
func (b *Blobs) Get(_ context.Context, key string) ([]byte, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gets++
	if b.err != nil {
		return nil, b.err
	}
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	d, ok := b.data[key]
	if !ok {
		return nil, fmt.Errorf("%s: %w", key, blob.ErrNotFound)
	}
	return slices.Clone(d), nil
}

// Open implements blob.Store.
func (b *Blobs) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	data, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

// Delete implements blob.Store.
func (b *Blobs) Delete(_ context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.data, key)
	return nil
}

// List implements blob.Store.
func (b *Blobs) List(_ context.Context, prefix string) ([]string, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var keys []string
	for k := range b.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Registry is an in-memory registry.Registry (it passes registrytest).
// SetErr makes Production fail.
type Registry struct {
	mu       sync.Mutex
	versions map[string][]registry.Version
	err      error
	reads    int
}

var _ registry.Registry = (*Registry)(nil)

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{versions: map[string][]registry.Version{}} }

// SetErr makes every later Production call fail with err (nil: succeed again).
func (r *Registry) SetErr(err error) {
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
}

// ProductionReads returns how many Production calls were made.
func (r *Registry) ProductionReads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reads
}

// Register implements registry.Registry.
func (r *Registry) Register(_ context.Context, v registry.Version) (registry.Version, error) {
	if v.Model == "" {
		return registry.Version{}, fmt.Errorf("register: empty model name: %w", registry.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now().UTC()
	v.Version = len(r.versions[v.Model]) + 1
	v.Stage, v.CreatedAt, v.UpdatedAt = registry.StageNone, now, now
	if v.ArtifactKey == "" {
		v.ArtifactKey = registry.ArtifactKey(v.Model, v.Version)
	}
	r.versions[v.Model] = append(r.versions[v.Model], v)
	return v, nil
}

// version returns the stored version, or ErrNotFound; r.mu is held.
func (r *Registry) version(model string, version int) (*registry.Version, error) {
	vs := r.versions[model]
	if version < 1 || version > len(vs) {
		return nil, fmt.Errorf("%s v%d: %w", model, version, registry.ErrNotFound)
	}
	return &vs[version-1], nil
}

// Get implements registry.Registry.
func (r *Registry) Get(_ context.Context, model string, version int) (registry.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.version(model, version)
	if err != nil {
		return registry.Version{}, err
	}
	return *v, nil
}

// List implements registry.Registry.
func (r *Registry) List(_ context.Context, model string) ([]registry.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.versions[model]), nil
}

// Production implements registry.Registry; SetErr makes it fail.
func (r *Registry) Production(_ context.Context, model string) (registry.Version, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reads++
	if r.err != nil {
		return registry.Version{}, r.err
	}
	for _, v := range r.versions[model] {
		if v.Stage == registry.StageProduction {
			return v, nil
		}
	}
	return registry.Version{}, fmt.Errorf("%s: %w", model, registry.ErrNoProduction)
}

// Promote implements registry.Registry.
func (r *Registry) Promote(_ context.Context, model string, version, expectedProduction int, d registry.Decision) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	cand, err := r.version(model, version)
	if err != nil {
		return err
	}
	vs := r.versions[model]
	prod := 0
	for _, v := range vs {
		if v.Stage == registry.StageProduction {
			prod = v.Version
		}
	}
	if prod != expectedProduction || cand.Stage != registry.StageNone && cand.Stage != registry.StageArchived {
		return fmt.Errorf("%s v%d: %w", model, version, registry.ErrConflict)
	}
	now := time.Now().UTC()
	if prod > 0 {
		vs[prod-1].Stage, vs[prod-1].UpdatedAt = registry.StageArchived, now
	}
	cand.Stage, cand.UpdatedAt, cand.Decision = registry.StageProduction, now, &d
	return nil
}

// Decide implements registry.Registry.
func (r *Registry) Decide(_ context.Context, model string, version int, stage registry.Stage, d registry.Decision) error {
	if stage != registry.StageNone && stage != registry.StageRejected {
		return fmt.Errorf("decide %s v%d: stage %q: %w", model, version, stage, registry.ErrInvalid)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	v, err := r.version(model, version)
	if err != nil {
		return err
	}
	if v.Stage != registry.StageNone {
		return fmt.Errorf("%s v%d is %s: %w", model, version, v.Stage, registry.ErrConflict)
	}
	v.Stage, v.UpdatedAt, v.Decision = stage, time.Now().UTC(), &d
	return nil
}

// Env is a ready-made set of fakes for a Service: model "churn" with no
// versions yet, and the given users in the feature store.
type Env struct {
	Registry *Registry
	Blobs    *Blobs
	Features *Features
}

// NewEnv returns fakes holding users.
func NewEnv(users []featurestore.Record) *Env {
	return &Env{Registry: NewRegistry(), Blobs: NewBlobs(), Features: NewFeatures(users...)}
}

// AddVersion stores artifact under models/<model>/v<N>/model.json and
// registers it (stage None). It returns the version number.
func (e *Env) AddVersion(ctx context.Context, model, asOf string, artifact []byte) (int, error) {
	vs, err := e.Registry.List(ctx, model)
	if err != nil {
		return 0, err
	}
	n := len(vs) + 1
	key := fmt.Sprintf("models/%s/v%d/model.json", model, n)
	if err := e.Blobs.Put(ctx, key, artifact); err != nil {
		return 0, err
	}
	v, err := e.Registry.Register(ctx, registry.Version{
		Model: model, ArtifactKey: key, AsOf: asOf,
		Metrics: map[string]float64{"auc": 0.8 + 0.01*float64(n), "f1": 0.6},
	})
	return v.Version, err
}

// Promote makes version the Production one, whatever is Production now.
func (e *Env) Promote(ctx context.Context, model string, version int) error {
	cur := 0
	if v, err := e.Registry.Production(ctx, model); err == nil {
		cur = v.Version
	}
	return e.Registry.Promote(ctx, model, version, cur, registry.Decision{Outcome: registry.OutcomePromoted})
}

// ProductionService registers a fake model version for model (trained on
// asOf), promotes it and returns a Service over e that logs nothing: the
// starting point of most handler tests and benchmarks.
func (e *Env) ProductionService(ctx context.Context, model, asOf string) (*serve.Service, error) {
	v, err := e.AddVersion(ctx, model, asOf, NewArtifact(-0.5, 0.5))
	if err != nil {
		return nil, err
	}
	if err := e.Promote(ctx, model, v); err != nil {
		return nil, err
	}
	cfg := e.Config(model)
	cfg.Logger = slog.New(slog.DiscardHandler)
	return serve.New(cfg)
}

// Config returns a serve.Config over e's fakes for model.
func (e *Env) Config(model string) serve.Config {
	return serve.Config{ModelName: model, Registry: e.Registry, Blobs: e.Blobs, Features: e.Features, Loader: Load}
}
