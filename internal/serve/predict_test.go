package serve_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

func TestPredictSingle(t *testing.T) {
	f := newFixture(t)
	rec := do(t, f.h, "POST", "/predict", readTestdata(t, "single.json"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	if rec.Header().Get("X-Request-Id") == "" {
		t.Error("no X-Request-Id")
	}
	var got prediction
	decodeStrict(t, rec.Body.Bytes(), &got)
	want := knownUsers()[0]
	p := expectProba(t, -0.5, want.Features)
	if got.UserID == nil || *got.UserID != "7590-VHVEG" {
		t.Errorf("user_id %v", got.UserID)
	}
	if math.Abs(got.ChurnProbability-p) > 1e-15 {
		t.Errorf("churn_probability %v, want %v", got.ChurnProbability, p)
	}
	wantPred := 0
	if p >= 0.5 {
		wantPred = 1
	}
	if got.Prediction != wantPred {
		t.Errorf("prediction %d, want %d (p=%v)", got.Prediction, wantPred, p)
	}
	if got.ModelName != model || got.ModelVersion != 1 {
		t.Errorf("model %s v%d", got.ModelName, got.ModelVersion)
	}
	if got.AsOf == nil || *got.AsOf != "2024-01-31" {
		t.Errorf("as_of %v", got.AsOf)
	}
	// The default answer carries no per-customer data: exactly these fields.
	var fields map[string]json.RawMessage
	decodeStrict(t, rec.Body.Bytes(), &fields)
	if keys := slices.Sorted(maps.Keys(fields)); !slices.Equal(keys, defaultFields) {
		t.Errorf("fields %v, want %v", keys, defaultFields)
	}
}

func TestPredictionThreshold(t *testing.T) {
	// With threshold 0 everything is churn; with threshold 1 nothing is
	// (probabilities of a logistic model are < 1).
	for _, tc := range []struct {
		threshold float64
		want      int
	}{{0, 1}, {1, 0}} {
		t.Run(fmt.Sprint(tc.threshold), func(t *testing.T) {
			f := newFixture(t)
			ctx := t.Context()
			v, err := f.env.AddVersion(ctx, model, "2024-01-31", servetest.NewArtifact(0, tc.threshold))
			if err != nil {
				t.Fatal(err)
			}
			if err := f.env.Promote(ctx, model, v); err != nil {
				t.Fatal(err)
			}
			rec := do(t, f.h, "POST", "/predict", `{"user_id":"5575-GNVDE"}`)
			var got prediction
			decodeStrict(t, rec.Body.Bytes(), &got)
			if got.ModelVersion != v || got.Prediction != tc.want {
				t.Errorf("v%d prediction %d, want v%d %d", got.ModelVersion, got.Prediction, v, tc.want)
			}
		})
	}
}

func TestPredictBatch(t *testing.T) {
	f := newFixture(t)
	rec := do(t, f.h, "POST", "/predict", readTestdata(t, "batch.json"))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var got struct {
		Predictions []prediction `json:"predictions"`
	}
	decodeStrict(t, rec.Body.Bytes(), &got)
	wantIDs := []string{"7590-VHVEG", "5575-GNVDE", "0000-NOONE", "3668-QPYBK", "7590-VHVEG"}
	if len(got.Predictions) != len(wantIDs) {
		t.Fatalf("%d predictions, want %d", len(got.Predictions), len(wantIDs))
	}
	users := map[string]featurestore.Record{}
	for _, u := range knownUsers() {
		users[u.UserID] = u
	}
	for i, p := range got.Predictions {
		t.Run(fmt.Sprint(i, "_", wantIDs[i]), func(t *testing.T) {
			if p.UserID == nil || *p.UserID != wantIDs[i] {
				t.Fatalf("item %d user_id %v, want %s", i, p.UserID, wantIDs[i])
			}
			u, known := users[wantIDs[i]]
			if !known {
				if p.Error == nil || p.Error.Code != serve.CodeUserNotFound {
					t.Fatalf("unknown user item: %+v", p)
				}
				return
			}
			if p.Error != nil {
				t.Fatalf("error %+v", p.Error)
			}
			if want := expectProba(t, -0.5, u.Features); math.Abs(p.ChurnProbability-want) > 1e-15 {
				t.Errorf("churn_probability %v, want %v", p.ChurnProbability, want)
			}
		})
	}
}

func TestPredictBatchLimits(t *testing.T) {
	f := newFixture(t, func(_ *fixture, c *serve.Config) { c.MaxBatch = 3 })
	ids := func(n int) string {
		q := make([]string, n)
		for i := range q {
			q[i] = `"7590-VHVEG"`
		}
		return `{"user_ids":[` + strings.Join(q, ",") + `]}`
	}
	for _, tc := range []struct {
		n    int
		want int
	}{{1, 200}, {3, 200}, {4, 400}} {
		t.Run(fmt.Sprint(tc.n), func(t *testing.T) {
			rec := do(t, f.h, "POST", "/predict", ids(tc.n))
			if rec.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.want, rec.Body)
			}
		})
	}
}

func TestPredictBatchStoreFailureFailsBatch(t *testing.T) {
	f := newFixture(t)
	f.env.Features.SetErr(errors.New("dynamodb: ProvisionedThroughputExceededException secret-table-name"))
	rec := do(t, f.h, "POST", "/predict", readTestdata(t, "batch.json"))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if e := decodeError(t, rec); e.Code != serve.CodeInternal || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("leaky or wrong error: %s", rec.Body)
	}
}

func TestPredictInline(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		file    string
		status  int
		code    string
		feature string
		userID  string
	}{
		{file: "inline.json", status: 200},
		{file: "inline_with_user.json", status: 200, userID: "9237-HQITU"},
		{file: "inline_wrong_type.json", status: 400, code: serve.CodeInvalidRequest, feature: "monthly_fee"},
		{file: "inline_unknown_feature.json", status: 400, code: serve.CodeInvalidRequest, feature: "monthly_fees"},
		{file: "inline_missing_feature.json", status: 400, code: serve.CodeInvalidRequest, feature: "ticket_avg_resolution_hrs_90d"},
		{file: "inline_bad_category.json", status: 400, code: serve.CodeInvalidRequest, feature: "net_service"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			rec := do(t, f.h, "POST", "/predict", readTestdata(t, tc.file))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				e := decodeError(t, rec)
				if e.Code != tc.code || e.Feature != tc.feature || !strings.Contains(e.Message, tc.feature) {
					t.Fatalf("error %+v, want code %s naming %s", e, tc.code, tc.feature)
				}
				return
			}
			var got prediction
			decodeStrict(t, rec.Body.Bytes(), &got)
			if got.AsOf != nil {
				t.Errorf("as_of %q for inline features, want null", *got.AsOf)
			}
			switch {
			case tc.userID == "" && got.UserID != nil:
				t.Errorf("user_id %q, want null", *got.UserID)
			case tc.userID != "" && (got.UserID == nil || *got.UserID != tc.userID):
				t.Errorf("user_id %v, want %s", got.UserID, tc.userID)
			}
			if got.ChurnProbability <= 0 || got.ChurnProbability >= 1 || got.ModelVersion != 1 {
				t.Errorf("prediction %+v", got)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	big := `{"user_id":"` + strings.Repeat("x", 70<<10) + `"}`
	tests := []struct {
		name   string
		opts   []option
		method string
		path   string
		body   string
		hdr    []string
		status int
		code   string
	}{
		{"malformed", nil, "POST", "/predict", readTestdata(t, "malformed.json"), nil, 400, serve.CodeInvalidRequest},
		{"empty body", nil, "POST", "/predict", "", nil, 400, serve.CodeInvalidRequest},
		{"array body", nil, "POST", "/predict", `["7590-VHVEG"]`, nil, 400, serve.CodeInvalidRequest},
		{"null body", nil, "POST", "/predict", `null`, nil, 400, serve.CodeInvalidRequest},
		{"empty object", nil, "POST", "/predict", `{}`, nil, 400, serve.CodeInvalidRequest},
		{"trailing data", nil, "POST", "/predict", readTestdata(t, "trailing_data.json"), nil, 400, serve.CodeInvalidRequest},
		{"unknown field", nil, "POST", "/predict", readTestdata(t, "unknown_field.json"), nil, 400, serve.CodeInvalidRequest},
		{"field case", nil, "POST", "/predict", `{"USER_ID":"7590-VHVEG"}`, nil, 400, serve.CodeInvalidRequest},
		{"both forms", nil, "POST", "/predict", readTestdata(t, "both_forms.json"), nil, 400, serve.CodeInvalidRequest},
		{"user_id number", nil, "POST", "/predict", readTestdata(t, "user_id_number.json"), nil, 400, serve.CodeInvalidRequest},
		{"user_id null", nil, "POST", "/predict", `{"user_id":null}`, nil, 400, serve.CodeInvalidRequest},
		{"user_id empty", nil, "POST", "/predict", `{"user_id":""}`, nil, 400, serve.CodeInvalidRequest},
		{"user_id control", nil, "POST", "/predict", `{"user_id":"a\nb"}`, nil, 400, serve.CodeInvalidRequest},
		{"user_ids not array", nil, "POST", "/predict", readTestdata(t, "user_ids_not_array.json"), nil, 400, serve.CodeInvalidRequest},
		{"user_ids null", nil, "POST", "/predict", `{"user_ids":null}`, nil, 400, serve.CodeInvalidRequest},
		{"user_ids empty", nil, "POST", "/predict", `{"user_ids":[]}`, nil, 400, serve.CodeInvalidRequest},
		{"user_ids with null", nil, "POST", "/predict", `{"user_ids":["7590-VHVEG",null]}`, nil, 400, serve.CodeInvalidRequest},
		{"too many ids", nil, "POST", "/predict", `{"user_ids":[` + strings.Repeat(`"a",`, 100) + `"a"]}`, nil, 400, serve.CodeInvalidRequest},
		{"features null", nil, "POST", "/predict", `{"features":null}`, nil, 400, serve.CodeInvalidRequest},
		{"features nested", nil, "POST", "/predict", `{"features":{"monthly_fee":{"v":1}}}`, nil, 400, serve.CodeInvalidRequest},
		{"features huge number", nil, "POST", "/predict", `{"features":{"monthly_fee":1e999}}`, nil, 400, serve.CodeInvalidRequest},
		{"text/plain", nil, "POST", "/predict", `{"user_id":"7590-VHVEG"}`, []string{"Content-Type", "text/plain"}, 415, serve.CodeUnsupportedMedia},
		{"form", nil, "POST", "/predict", `{"user_id":"7590-VHVEG"}`, []string{"Content-Type", "application/x-www-form-urlencoded"}, 415, serve.CodeUnsupportedMedia},
		{"too large", nil, "POST", "/predict", big, nil, 413, serve.CodeBodyTooLarge},
		{"too large chunked", nil, "POST", "/predict", big, []string{"Content-Length", ""}, 413, serve.CodeBodyTooLarge},
		{"GET /predict", nil, "GET", "/predict", "", nil, 405, serve.CodeMethodNotAllowed},
		{"POST /health", nil, "POST", "/health", "{}", nil, 405, serve.CodeMethodNotAllowed},
		{"DELETE /model", nil, "DELETE", "/model", "", nil, 405, serve.CodeMethodNotAllowed},
		{"unknown path", nil, "GET", "/admin", "", nil, 404, serve.CodeNotFound},
		{"trailing slash", nil, "POST", "/predict/", `{"user_id":"7590-VHVEG"}`, nil, 404, serve.CodeNotFound},
		{"unknown user", nil, "POST", "/predict", `{"user_id":"0000-NOONE"}`, nil, 404, serve.CodeUserNotFound},
		{"no model predict", []option{noModel}, "POST", "/predict", `{"user_id":"7590-VHVEG"}`, nil, 503, serve.CodeNoProductionModel},
		{"no model /model", []option{noModel}, "GET", "/model", "", nil, 503, serve.CodeNoProductionModel},
		{"no model /ready", []option{noModel}, "GET", "/ready", "", nil, 503, serve.CodeNoProductionModel},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.opts...)
			rec := do(t, f.h, tc.method, tc.path, tc.body, tc.hdr...)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Code != tc.code {
				t.Fatalf("code %q, want %q (%s)", e.Code, tc.code, e.Message)
			}
			if tc.status == 405 && rec.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
			for _, leak := range []string{"json:", "Go value", "map[string]", "*serve.", "goroutine", ".go:"} {
				if strings.Contains(e.Message, leak) {
					t.Errorf("message leaks internals (%q): %s", leak, e.Message)
				}
			}
		})
	}
}

// TestInternalErrorsAreNotLeaked checks that a 500 carries a generic message
// and that the cause is logged with the request id the client saw.
func TestInternalErrorsAreNotLeaked(t *testing.T) {
	const secret = "arn:aws:dynamodb:eu-west-1:123456789012:table/secret-features"
	tests := []struct {
		name    string
		setup   func(*fixture)
		body    string
		wantLog string
	}{
		{"store down", func(f *fixture) { f.env.Features.SetErr(errors.New("AccessDenied " + secret)) }, `{"user_id":"7590-VHVEG"}`, secret},
		{"corrupt record", func(f *fixture) {
			f.env.Features.Upsert("2024-01-31", featurestore.Record{UserID: "BAD-1",
				Features: map[string]any{"monthly_fee": "lots " + secret}})
		}, `{"user_id":"BAD-1"}`, `stored features of \"BAD-1\": feature \"monthly_fee\"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			tc.setup(f)
			rec := do(t, f.h, "POST", "/predict", tc.body, "X-Request-Id", "req-abc.123")
			if rec.Code != 500 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			e := decodeError(t, rec)
			if e.Code != serve.CodeInternal || strings.Contains(rec.Body.String(), "secret") {
				t.Fatalf("500 body leaks: %s", rec.Body)
			}
			if got := rec.Header().Get("X-Request-Id"); got != "req-abc.123" {
				t.Errorf("X-Request-Id %q not echoed", got)
			}
			logs := f.logs.String()
			if !strings.Contains(logs, tc.wantLog) || !strings.Contains(logs, `"request_id":"req-abc.123"`) {
				t.Errorf("cause or request id not logged:\n%s", logs)
			}
		})
	}
}

// panicky is a Model whose Encode panics.
type panicky struct{ serve.Model }

func (panicky) Encode(map[string]any, []float64) error { panic("boom: internal detail") }

func TestPanicIsInternalError(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	cfg.Loader = func(b []byte) (serve.Model, error) {
		m, err := servetest.Load(b)
		return panicky{m}, err
	}
	svc, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := do(t, svc.Handler(), "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
	if rec.Code != 500 || strings.Contains(rec.Body.String(), "boom") {
		t.Fatalf("status %d body %s", rec.Code, rec.Body)
	}
	if !strings.Contains(f.logs.String(), "boom: internal detail") {
		t.Error("panic not logged")
	}
}

func TestContentTypes(t *testing.T) {
	f := newFixture(t)
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON", "text/json", "application/vnd.churn+json"} {
		t.Run(ct, func(t *testing.T) {
			rec := do(t, f.h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`, "Content-Type", ct)
			if rec.Code != 200 {
				t.Fatalf("Content-Type %q: status %d %s", ct, rec.Code, rec.Body)
			}
		})
	}
}

// TestOddStrings checks the hand-written encoder against awkward strings.
func TestOddStrings(t *testing.T) {
	ids := []string{`quote"and\backslash`, "émoji-😀", "line\u2028sep", "<script>&amp;", "tab-less"}
	recs := make([]featurestore.Record, len(ids))
	for i, id := range ids {
		recs[i] = knownUsers()[0]
		recs[i].UserID = id
		recs[i].AsOf = "2024-01-31\"\\"
	}
	f := newFixture(t)
	f.env.Features.Upsert("2024-01-31\"\\", recs...)
	for _, id := range ids {
		t.Run(id, func(t *testing.T) {
			body := fmt.Sprintf(`{"user_id":%q}`, id)
			rec := do(t, f.h, "POST", "/predict", body)
			if rec.Code != 200 {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got prediction
			decodeStrict(t, rec.Body.Bytes(), &got)
			if *got.UserID != id || *got.AsOf != "2024-01-31\"\\" {
				t.Errorf("round trip: %q %q", *got.UserID, *got.AsOf)
			}
		})
	}
	t.Run("invalid utf8 feature value", func(t *testing.T) {
		r := knownUsers()[0]
		r.UserID = "UTF-1"
		r.Features = map[string]any{}
		for k, v := range knownUsers()[0].Features {
			r.Features[k] = v
		}
		r.Features["net_service"] = "DSL"
		r.AsOf = "bad\xffdate"
		f.env.Features.Upsert(r.AsOf, r)
		rec := do(t, f.h, "POST", "/predict", `{"user_id":"UTF-1"}`)
		var got prediction
		decodeStrict(t, rec.Body.Bytes(), &got)
		if *got.AsOf != "bad\ufffddate" {
			t.Errorf("as_of %q", *got.AsOf)
		}
	})
}
