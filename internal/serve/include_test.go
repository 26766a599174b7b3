package serve_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// defaultFields are the fields of a default prediction: no per-customer
// data beyond the id the caller sent.
var defaultFields = []string{"as_of", "churn_probability", "model_name", "model_version", "prediction", "user_id"}

// TestIncludeGate checks who gets features_used and reasons: nobody by
// default, the details route when the request includes "features" or
// "reasons", and never POST /predict, which refuses an include with 403
// rather than drop it silently. Unknown include values are 400 on either
// route.
func TestIncludeGate(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		path, file string
		status     int
		code       string // error code, for a failure
		msg        string // substring of the error message
		features   bool   // whether predictions carry features_used
		reasons    bool   // whether predictions carry reasons
	}{
		{path: "/predict", file: "single.json", status: 200},
		{path: "/predict", file: "include_empty.json", status: 200},
		{path: "/predict/details", file: "single.json", status: 200},
		{path: "/predict/details", file: "single_include_features.json", status: 200, features: true},
		{path: "/predict/details", file: "batch_include_features.json", status: 200, features: true},
		{path: "/predict/details", file: "batch.json", status: 200},
		{path: "/predict/details", file: "inline_include_features.json", status: 200, features: true},
		{path: "/predict/details", file: "single_include_reasons.json", status: 200, reasons: true},
		{path: "/predict/details", file: "batch_include_reasons.json", status: 200, reasons: true},
		{path: "/predict/details", file: "inline_include_reasons.json", status: 200, reasons: true},
		{path: "/predict/details", file: "single_include_features_reasons_k.json", status: 200, features: true, reasons: true},
		{path: "/predict", file: "single_include_reasons.json", status: 403, code: serve.CodeForbidden, msg: `"reasons"`},
		{path: "/predict", file: "single_include_features.json", status: 403, code: serve.CodeForbidden, msg: "POST /predict/details"},
		{path: "/predict", file: "batch_include_features.json", status: 403, code: serve.CodeForbidden, msg: `"features"`},
		{path: "/predict", file: "inline_include_features.json", status: 403, code: serve.CodeForbidden, msg: `"features"`},
		{path: "/predict", file: "include_unknown.json", status: 400, code: serve.CodeInvalidRequest, msg: `unknown value "everything"; allowed: "features", "reasons"`},
		{path: "/predict/details", file: "include_unknown.json", status: 400, code: serve.CodeInvalidRequest, msg: `include[1]: unknown value "everything"`},
		{path: "/predict/details", file: "include_not_array.json", status: 400, code: serve.CodeInvalidRequest, msg: "include must be an array of strings"},
	}
	for _, tc := range tests {
		t.Run(tc.path+"/"+tc.file, func(t *testing.T) {
			rec := do(t, f.h, "POST", tc.path, readTestdata(t, tc.file))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				if e := decodeError(t, rec); e.Code != tc.code || !strings.Contains(e.Message, tc.msg) {
					t.Fatalf("error %+v, want code %s with %q", e, tc.code, tc.msg)
				}
				if b := rec.Body.String(); strings.Contains(b, "features_used") || strings.Contains(b, "29.85") || strings.Contains(b, "contribution") {
					t.Fatalf("a refusal leaks features or reasons: %s", rec.Body)
				}
				return
			}
			var items []json.RawMessage
			var batch struct {
				Predictions []json.RawMessage `json:"predictions"`
			}
			if json.Unmarshal(rec.Body.Bytes(), &batch) == nil && batch.Predictions != nil {
				items = batch.Predictions
			} else {
				items = []json.RawMessage{rec.Body.Bytes()}
			}
			for _, it := range items {
				var fields map[string]json.RawMessage
				decodeStrict(t, it, &fields)
				if _, isErr := fields["error"]; isErr {
					if _, ok := fields["features_used"]; ok {
						t.Errorf("an unknown user's item has features_used: %s", it)
					}
					if _, ok := fields["reasons"]; ok {
						t.Errorf("an unknown user's item has reasons: %s", it)
					}
					continue
				}
				want := slices.Clone(defaultFields)
				if tc.features {
					want = append(want, "features_used")
				}
				if tc.reasons {
					want = append(want, "reasons")
				}
				slices.Sort(want)
				if keys := slices.Sorted(maps.Keys(fields)); !slices.Equal(keys, want) {
					t.Errorf("fields %v, want %v in %s", keys, want, it)
				}
			}
		})
	}
}

// TestIncludeFeaturesValues checks what features_used holds: the stored
// raw values, every model feature, in model order, the same whether the
// record came through the cache (prepared once) or straight from the store.
func TestIncludeFeaturesValues(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Features = featurestore.NewCache(f.env.Features, 0, 100)
	cached, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := knownUsers()[0]
	for name, h := range map[string]http.Handler{"store": f.h, "cache": cached.Handler()} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // the cache's second answer comes from its memo
				rec := do(t, h, "POST", "/predict/details", readTestdata(t, "single_include_features.json"))
				if rec.Code != http.StatusOK {
					t.Fatalf("status %d: %s", rec.Code, rec.Body)
				}
				var got prediction
				decodeStrict(t, rec.Body.Bytes(), &got)
				if len(got.FeaturesUsed) != 14 {
					t.Errorf("features_used has %d features", len(got.FeaturesUsed))
				}
				for k, v := range want.Features {
					if got.FeaturesUsed[k] != v {
						t.Errorf("features_used[%s] = %v, want %v", k, got.FeaturesUsed[k], v)
					}
				}
				body := rec.Body.String()
				last := -1
				for _, ft := range servetest.ChurnSpec() {
					i := strings.Index(body, `"`+ft.Name+`":`)
					if i < last {
						t.Errorf("features_used not in model order at %s", ft.Name)
					}
					last = i
				}
			}
		})
	}
}

func TestIncludeString(t *testing.T) {
	if got := serve.IncludeFeatures.String(); got != "features" {
		t.Errorf("IncludeFeatures.String() = %q", got)
	}
	if got := (serve.IncludeReasons | serve.IncludeFeatures).String(); got != "features,reasons" {
		t.Errorf("(IncludeReasons|IncludeFeatures).String() = %q", got)
	}
	if got := serve.Include(0).String(); got != "" {
		t.Errorf("Include(0).String() = %q", got)
	}
	if !serve.IncludeFeatures.Has(serve.IncludeFeatures) || serve.Include(0).Has(serve.IncludeFeatures) {
		t.Error("Has")
	}
}
