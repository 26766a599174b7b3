package serve_test

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
	"github.com/churnops/churnops/internal/training"
)

// reasons is the "reasons" object of a prediction.
type reasons struct {
	Bias    float64  `json:"bias"`
	LogOdds float64  `json:"log_odds"`
	Top     []reason `json:"top"`
}

type reason struct {
	Feature      string  `json:"feature"`
	Value        any     `json:"value"`
	Contribution float64 `json:"contribution"`
	Direction    string  `json:"direction"`
}

// explained is a prediction with its reasons.
type explained struct {
	prediction
	Reasons *reasons `json:"reasons"`
}

// wantReasons is what a request for k reasons must answer for raw under
// model m: its contributions, largest |contribution| first (ties in model
// order), zeros left out, at most k.
func wantReasons(t *testing.T, m serve.Explainer, raw map[string]any, k int) reasons {
	t.Helper()
	row := make([]float64, m.NumFeatures())
	if err := m.Encode(raw, row); err != nil {
		t.Fatal(err)
	}
	c := make([]float64, m.NumFeatures()+1)
	if err := m.Explain(row, c); err != nil {
		t.Fatal(err)
	}
	names := m.FeatureNames()
	idx := make([]int, 0, len(names))
	for j := range names {
		if c[j] != 0 {
			idx = append(idx, j)
		}
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(c[b]), math.Abs(c[a])) })
	want := reasons{Bias: c[len(names)], LogOdds: math.Log(m.PredictProba(row) / (1 - m.PredictProba(row)))}
	for _, j := range idx[:min(k, len(idx))] {
		dir := "raises"
		if c[j] < 0 {
			dir = "lowers"
		}
		want.Top = append(want.Top, reason{Feature: names[j], Value: raw[names[j]], Contribution: c[j], Direction: dir})
	}
	return want
}

// checkReasons compares an answer's reasons with want.
func checkReasons(t *testing.T, got *reasons, want reasons, tol float64) {
	t.Helper()
	if got == nil {
		t.Fatal("no reasons in the answer")
	}
	if math.Abs(got.Bias-want.Bias) > tol || math.Abs(got.LogOdds-want.LogOdds) > 1e-9 {
		t.Errorf("bias %v, log_odds %v; want %v, %v", got.Bias, got.LogOdds, want.Bias, want.LogOdds)
	}
	if len(got.Top) != len(want.Top) {
		t.Fatalf("%d reasons, want %d: %+v", len(got.Top), len(want.Top), got.Top)
	}
	for i, g := range got.Top {
		w := want.Top[i]
		if g.Feature != w.Feature || g.Direction != w.Direction || math.Abs(g.Contribution-w.Contribution) > tol || g.Value != w.Value {
			t.Errorf("reason %d: %+v, want %+v", i, g, w)
		}
	}
}

// TestReasons: the details route answers each payload's reasons (top k of
// the model's own contributions, with the customer's raw values), for a
// single user, a batch (an unknown user's item has none) and inline
// features, read from the store or through the cache's prepared records.
func TestReasons(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Features = featurestore.NewCache(f.env.Features, 0, 100)
	cached, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	fake, err := servetest.Load(servetest.NewArtifact(-0.5, 0.5))
	if err != nil {
		t.Fatal(err)
	}
	m := fake.(serve.Explainer)
	users := map[string]map[string]any{}
	for _, u := range knownUsers() {
		users[u.UserID] = u.Features
	}
	var inline struct {
		Features map[string]any `json:"features"`
	}
	if err := json.Unmarshal([]byte(readTestdata(t, "inline_include_reasons.json")), &inline); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		file     string
		k        int
		features bool
		users    []string // the batch's, in order; "" for inline
	}{
		{file: "single_include_reasons.json", k: serve.DefaultReasonsK, users: []string{"7590-VHVEG"}},
		{file: "single_include_features_reasons_k.json", k: 5, features: true, users: []string{"7590-VHVEG"}},
		{file: "batch_include_reasons.json", k: 2, users: []string{"7590-VHVEG", "0000-NOONE", "3668-QPYBK"}},
		{file: "inline_include_reasons.json", k: 14, users: []string{""}},
	}
	for _, tc := range tests {
		for name, h := range map[string]http.Handler{"store": f.h, "cache": cached.Handler()} {
			t.Run(tc.file+"/"+name, func(t *testing.T) {
				for range 2 { // the cache's second answer comes from its memo
					rec := do(t, h, "POST", "/predict/details", readTestdata(t, tc.file))
					if rec.Code != http.StatusOK {
						t.Fatalf("status %d: %s", rec.Code, rec.Body)
					}
					var items []explained
					if len(tc.users) > 1 {
						var batch struct {
							Predictions []explained `json:"predictions"`
						}
						decodeStrict(t, rec.Body.Bytes(), &batch)
						items = batch.Predictions
					} else {
						var one explained
						decodeStrict(t, rec.Body.Bytes(), &one)
						items = []explained{one}
					}
					if len(items) != len(tc.users) {
						t.Fatalf("%d predictions for %d users", len(items), len(tc.users))
					}
					for i, id := range tc.users {
						it := items[i]
						raw, known := users[id], true
						if id == "" {
							raw = inline.Features
						} else if raw == nil {
							known = false
						}
						if !known {
							if it.Error == nil || it.Reasons != nil {
								t.Errorf("unknown user %s: %+v", id, it)
							}
							continue
						}
						if (it.FeaturesUsed != nil) != tc.features {
							t.Errorf("features_used present: %t, want %t", it.FeaturesUsed != nil, tc.features)
						}
						checkReasons(t, it.Reasons, wantReasons(t, m, raw, tc.k), 1e-12)
						if want := 1 / (1 + math.Exp(-it.Reasons.LogOdds)); math.Abs(want-it.ChurnProbability) > 1e-12 {
							t.Errorf("log_odds %v is not churn_probability %v", it.Reasons.LogOdds, it.ChurnProbability)
						}
					}
				}
			})
		}
	}
}

// TestReasonsOrder: reasons come by decreasing |contribution| in the
// answer's bytes too, and with "features" both parts are there, in the
// documented order.
func TestReasonsOrder(t *testing.T) {
	f := newFixture(t)
	rec := do(t, f.h, "POST", "/predict/details", readTestdata(t, "single_include_features_reasons_k.json"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	body := rec.Body.String()
	if i, j := strings.Index(body, `"features_used":`), strings.Index(body, `"reasons":`); i < 0 || j < i {
		t.Fatalf("features_used then reasons expected: %s", body)
	}
	var got explained
	decodeStrict(t, rec.Body.Bytes(), &got)
	for i := 1; i < len(got.Reasons.Top); i++ {
		if math.Abs(got.Reasons.Top[i].Contribution) > math.Abs(got.Reasons.Top[i-1].Contribution) {
			t.Errorf("reason %d is larger than reason %d: %+v", i, i-1, got.Reasons.Top)
		}
	}
}

// TestReasonsRequests: reasons_k needs "reasons", stays in range, and is
// refused (400) on either route before the gate (403 on /predict).
func TestReasonsRequests(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path, file string
		status     int
		code, msg  string
	}{
		{"/predict", "single_include_reasons.json", 403, serve.CodeForbidden, `"reasons"`},
		{"/predict", "batch_include_reasons.json", 403, serve.CodeForbidden, "POST /predict/details"},
		{"/predict", "inline_include_reasons.json", 403, serve.CodeForbidden, `"reasons"`},
		{"/predict", "single_include_features_reasons_k.json", 403, serve.CodeForbidden, `"features,reasons"`},
		{"/predict/details", "reasons_k_without_reasons.json", 400, serve.CodeInvalidRequest, `reasons_k applies to reasons`},
		{"/predict", "reasons_k_without_reasons.json", 400, serve.CodeInvalidRequest, `reasons_k applies to reasons`},
		{"/predict/details", "reasons_k_out_of_range.json", 400, serve.CodeInvalidRequest, "reasons_k must be an integer from 1 to 64"},
	}
	for _, tc := range tests {
		t.Run(tc.path+"/"+tc.file, func(t *testing.T) {
			rec := do(t, f.h, "POST", tc.path, readTestdata(t, tc.file))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if e := decodeError(t, rec); e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
				t.Fatalf("error %+v, want %s with %q", e, tc.code, tc.msg)
			}
			if strings.Contains(rec.Body.String(), "contribution") {
				t.Fatalf("a refusal leaks reasons: %s", rec.Body)
			}
		})
	}
}

// noExplain hides a model's Explain method: a model that cannot explain.
type noExplain struct{ serve.Model }

// TestReasonsUnavailable: a Production model that cannot explain (a gbdt
// artifact trained before covers, or a model without Explain) answers a
// request for reasons 409 reasons_unavailable with what to do, single,
// batch or inline, and everything else as before.
func TestReasonsUnavailable(t *testing.T) {
	ctx := context.Background()
	users := append(knownUsers(), servetest.Users(400, 5, "2024-01-31")...)
	artifact, _ := trainTiny(t, training.Spec(), users, 20)
	old := stripCovers(t, artifact)
	loaders := map[string]struct {
		artifact []byte
		loader   serve.Loader
	}{
		"gbdt without covers": {old, serve.GBDTLoader(training.Spec())},
		"model without Explain": {servetest.NewArtifact(-0.5, 0.5), func(b []byte) (serve.Model, error) {
			m, err := servetest.Load(b)
			return noExplain{m}, err
		}},
	}
	for name, l := range loaders {
		t.Run(name, func(t *testing.T) {
			env := servetest.NewEnv(users)
			v, err := env.AddVersion(ctx, model, "2024-01-31", l.artifact)
			if err != nil {
				t.Fatal(err)
			}
			if err := env.Promote(ctx, model, v); err != nil {
				t.Fatal(err)
			}
			cfg := env.Config(model)
			cfg.Loader = l.loader
			cfg.Logger = slog.New(slog.DiscardHandler)
			svc, err := serve.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			h := svc.Handler()
			for _, file := range []string{"single_include_reasons.json", "batch_include_reasons.json", "inline_include_reasons.json"} {
				rec := do(t, h, "POST", "/predict/details", readTestdata(t, file))
				if rec.Code != http.StatusConflict {
					t.Fatalf("%s: status %d, want 409: %s", file, rec.Code, rec.Body)
				}
				e := decodeError(t, rec)
				if e.Code != serve.CodeReasonsUnavailable || !strings.Contains(e.Message, "v1") || !strings.Contains(e.Message, "retrain") {
					t.Fatalf("%s: error %+v", file, e)
				}
			}
			for path, file := range map[string]string{"/predict/details": "single_include_features.json", "/predict": "single.json"} {
				if rec := do(t, h, "POST", path, readTestdata(t, file)); rec.Code != http.StatusOK {
					t.Fatalf("%s %s: status %d: %s", path, file, rec.Code, rec.Body)
				}
			}
			if rec := do(t, h, "POST", "/predict", readTestdata(t, "single_include_reasons.json")); rec.Code != http.StatusForbidden {
				t.Fatalf("/predict with reasons: status %d, want 403 (the gate comes first)", rec.Code)
			}
		})
	}
}

// stripCovers returns a gbdt artifact without its nodes' covers, as one
// written before they were recorded, its checksum recomputed.
func stripCovers(t *testing.T, artifact []byte) []byte {
	t.Helper()
	var env map[string]json.RawMessage
	if err := json.Unmarshal(artifact, &env); err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	if err := json.Unmarshal(env["model"], &body); err != nil {
		t.Fatal(err)
	}
	for _, tr := range body["trees"].([]any) {
		delete(tr.(map[string]any), "cover")
	}
	return artifactWith(t, env, body)
}

// artifactWith is an artifact envelope with model body, its checksum
// recomputed.
func artifactWith(t *testing.T, env map[string]json.RawMessage, body any) []byte {
	t.Helper()
	b := mustJSON(t, body)
	sum := sha256.Sum256(b)
	env["model"] = b
	env["sha256"] = mustJSON(t, hex.EncodeToString(sum[:]))
	return mustJSON(t, env)
}
