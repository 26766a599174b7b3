//go:build integration

package integration_test

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// reloadWait bounds how long a warm PredictFunction may keep serving the
// previous Production model after a promotion: the template sets
// PredictReloadInterval=2s at deploy (the template defaults to 30s).
const reloadWait = 15 * time.Second

// apiResponse is one answer of the deployed REST API.
type apiResponse struct {
	status int
	body   []byte
	took   time.Duration
}

// api calls the stack's REST API (stage v1) through the emulator's
// execute-api route, the way a client calls API Gateway.
func (f *fixture) api(t *testing.T, method, path, body string) apiResponse {
	t.Helper()
	endpoint := strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/")
	url := endpoint + "/_aws/execute-api/" + f.apiID + "/v1" + path
	req, err := http.NewRequestWithContext(t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return apiResponse{status: resp.StatusCode, body: data, took: time.Since(start)}
}

// prediction is the body of a single POST /predict.
type prediction struct {
	UserID           string         `json:"user_id"`
	ChurnProbability float64        `json:"churn_probability"`
	Prediction       int            `json:"prediction"`
	ModelName        string         `json:"model_name"`
	ModelVersion     int            `json:"model_version"`
	AsOf             string         `json:"as_of"`
	FeaturesUsed     map[string]any `json:"features_used"`
}

// apiError is the body of an error answer.
type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// checkPredict checks the API against the Production version the registry
// names: /predict for a user of the latest ingested month answers with that
// version (after at most one reload interval if the function was warm with
// the previous one), an unknown user and one who left before the latest
// month are 404 user_not_found, and the
// health, readiness and model routes answer.
func (f *fixture) checkPredict(t *testing.T, wantVersion int, latest month) {
	t.Helper()
	f.mu.Lock()
	first := !f.predictProbed
	f.predictProbed = true
	f.mu.Unlock()
	if first {
		// The function's first invocation: its init loads the Production model.
		cold := f.api(t, http.MethodGet, "/health", "")
		warm := f.api(t, http.MethodGet, "/health", "")
		f.mu.Lock()
		f.coldStart = append(f.coldStart, coldStart{function: "PredictFunction (API)", cold: cold.took, warm: warm.took})
		f.mu.Unlock()
		t.Logf("PredictFunction through API Gateway: first GET /health %v, second %v", cold.took.Round(time.Millisecond), warm.took.Round(time.Millisecond))
	}

	user := latest.Users[0]
	body := `{"user_id": "` + user + `"}`
	// A customer of the first month who left before the latest one: the
	// served month does not know them (the online store is versioned).
	inLatest := map[string]bool{}
	for _, u := range latest.Users {
		inLatest[u] = true
	}
	departed := ""
	for _, u := range f.months[0].Users {
		if !inLatest[u] {
			departed = u
			break
		}
	}
	start := time.Now()
	var r apiResponse
	for {
		r = f.api(t, http.MethodPost, "/predict", body)
		var p prediction
		if r.status == http.StatusOK && json.Unmarshal(r.body, &p) == nil && p.ModelVersion == wantVersion {
			break
		}
		if time.Since(start) > reloadWait {
			t.Fatalf("POST /predict still answers %d %s %v after Production became v%d", r.status, r.body, reloadWait, wantVersion)
		}
		time.Sleep(2 * time.Second)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Logf("POST /predict served v%d after %v (hot reload)", wantVersion, waited.Round(time.Second))
	}

	cases := []struct {
		name       string
		method     string
		path       string
		body       string
		wantStatus int
		check      func(t *testing.T, body []byte)
	}{
		{"health", http.MethodGet, "/health", "", http.StatusOK, func(t *testing.T, b []byte) {
			var h struct{ Status string }
			if err := json.Unmarshal(b, &h); err != nil || h.Status != "ok" {
				t.Errorf("body %s, want status ok", b)
			}
		}},
		{"ready", http.MethodGet, "/ready", "", http.StatusOK, nil},
		{"model", http.MethodGet, "/model", "", http.StatusOK, func(t *testing.T, b []byte) {
			var m struct {
				ModelName    string `json:"model_name"`
				ModelVersion int    `json:"model_version"`
				Stage        string `json:"stage"`
			}
			if err := json.Unmarshal(b, &m); err != nil || m.ModelName != servedModel || m.ModelVersion != wantVersion || m.Stage != "Production" {
				t.Errorf("body %s, want %s v%d in Production", b, servedModel, wantVersion)
			}
		}},
		{"known_user", http.MethodPost, "/predict", body, http.StatusOK, func(t *testing.T, b []byte) {
			var p prediction
			if err := json.Unmarshal(b, &p); err != nil {
				t.Fatalf("body %s: %v", b, err)
			}
			if p.UserID != user || p.ModelName != servedModel || p.ModelVersion != wantVersion || p.AsOf != latest.AsOf {
				t.Errorf("prediction %+v, want user %s, %s v%d, features as_of %s", p, user, servedModel, wantVersion, latest.AsOf)
			}
			if p.ChurnProbability < 0 || p.ChurnProbability > 1 || (p.Prediction != 0 && p.Prediction != 1) {
				t.Errorf("probability %v, prediction %d: out of range", p.ChurnProbability, p.Prediction)
			}
			if len(p.FeaturesUsed) != 14 {
				t.Errorf("features_used has %d features, want the model's 14: %v", len(p.FeaturesUsed), p.FeaturesUsed)
			}
		}},
		{"unknown_user", http.MethodPost, "/predict", `{"user_id": "0000-NOBODY"}`, http.StatusNotFound, func(t *testing.T, b []byte) {
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != "user_not_found" {
				t.Errorf("body %s, want error code user_not_found", b)
			}
		}},
		{"departed_user", http.MethodPost, "/predict", `{"user_id": "` + departed + `"}`, http.StatusNotFound, func(t *testing.T, b []byte) {
			var e apiError
			if departed == "" || json.Unmarshal(b, &e) != nil || e.Error.Code != "user_not_found" {
				t.Errorf("a customer absent from the latest month (%q): body %s, want user_not_found", departed, b)
			}
		}},
		{"malformed", http.MethodPost, "/predict", `{"user": "x"}`, http.StatusBadRequest, func(t *testing.T, b []byte) {
			var e apiError
			if err := json.Unmarshal(b, &e); err != nil || e.Error.Code != "invalid_request" {
				t.Errorf("body %s, want error code invalid_request", b)
			}
		}},
	}
	for _, c := range cases {
		t.Run("api_"+c.name, func(t *testing.T) {
			r := f.api(t, c.method, c.path, c.body)
			if r.status != c.wantStatus {
				t.Fatalf("%s %s: status %d, want %d; body %s", c.method, c.path, r.status, c.wantStatus, r.body)
			}
			if c.check != nil {
				c.check(t, r.body)
			}
		})
	}
}
