//go:build integration

package integration_test

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
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
	header http.Header
	took   time.Duration
}

// api calls the stack's REST API (stage v1) through the emulator's
// execute-api route, the way an operator's client calls API Gateway:
// SigV4-signed with the suite's credentials.
func (f *fixture) api(t *testing.T, method, path, body string) apiResponse {
	t.Helper()
	return f.call(t, f.apiID, f.rootCaller(t), method, path, body)
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
			if p.FeaturesUsed != nil {
				t.Errorf("POST /predict answered features_used %v: per-customer data only on /predict/details, when asked", p.FeaturesUsed)
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
	f.checkAuth(t, user, latest)
}

// checkAuth checks who may call what: unsigned calls of every route but
// /health are refused by API Gateway before the function runs; the
// operator's signed calls get features_used only from /predict/details
// and only when asking; and, where the emulator verifies signatures and
// evaluates IAM policies, a forged signature is refused and a principal
// granted POST /predict alone is refused /predict/details.
func (f *fixture) checkAuth(t *testing.T, user string, latest month) {
	t.Helper()
	single := `{"user_id": "` + user + `"}`
	details := `{"user_id": "` + user + `", "include": ["features"]}`
	op := f.rootCaller(t)
	cases := []authCase{
		{name: "health_unsigned", who: unsigned, method: "GET", path: "/health", wantStatus: 200},
		{name: "predict_unsigned", who: unsigned, method: "POST", path: "/predict", body: single, wantStatus: 403, gateway: true},
		{name: "details_unsigned", who: unsigned, method: "POST", path: "/predict/details", body: details, wantStatus: 403, gateway: true},
		{name: "model_unsigned", who: unsigned, method: "GET", path: "/model", wantStatus: 403, gateway: true},
		{name: "ready_unsigned", who: unsigned, method: "GET", path: "/ready", wantStatus: 403, gateway: true},
		{name: "include_on_predict", who: op, method: "POST", path: "/predict", body: details, wantStatus: 403, wantCode: "forbidden"},
		{name: "unknown_include", who: op, method: "POST", path: "/predict/details", body: `{"user_id": "` + user + `", "include": ["everything"]}`,
			wantStatus: 400, wantCode: "invalid_request"},
		{name: "details_features", who: op, method: "POST", path: "/predict/details", body: details, wantStatus: 200, check: func(t *testing.T, b []byte) {
			var p prediction
			if err := json.Unmarshal(b, &p); err != nil || p.UserID != user || p.AsOf != latest.AsOf {
				t.Fatalf("body %s: %v", b, err)
			}
			if len(p.FeaturesUsed) != 14 {
				t.Errorf("features_used has %d features, want the model's 14: %v", len(p.FeaturesUsed), p.FeaturesUsed)
			}
		}},
	}
	if emulatorChecksIAM(t) {
		scorer := f.predictOnlyUser(t)
		forged := *scorer.creds // the user's key id, signed with another secret
		forged.SecretAccessKey = "not-the-secret-of-this-key-0123456789"
		cases = append(cases,
			authCase{name: "predict_forged_signature", who: caller{name: "forged signature", creds: &forged}, method: "POST", path: "/predict",
				body: single, wantStatus: 403, gateway: true},
			authCase{name: "predict_only_user_predicts", who: scorer, method: "POST", path: "/predict", body: single, wantStatus: 200},
			authCase{name: "predict_only_user_no_details", who: scorer, method: "POST", path: "/predict/details", body: details,
				wantStatus: 403, gateway: true},
			authCase{name: "predict_only_user_no_model", who: scorer, method: "GET", path: "/model", wantStatus: 403, gateway: true},
		)
	} else {
		t.Log("the emulator does not verify signatures or evaluate IAM policies (MiniStack without AUTH=true): " +
			"checked that AWS_IAM routes refuse unsigned calls, not which principal may call which route")
	}
	f.runAuthCases(t, f.apiID, cases)
	f.checkCurlSigV4(t, op, single)
}

// checkCurlSigV4 runs the README's signed curl call (curl --aws-sigv4) and
// requires a prediction, when curl is installed.
func (f *fixture) checkCurlSigV4(t *testing.T, op caller, body string) {
	t.Helper()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Log("curl is not installed: the README's --aws-sigv4 call is not checked")
		return
	}
	url := strings.TrimRight(os.Getenv("AWS_ENDPOINT_URL"), "/") + "/_aws/execute-api/" + f.apiID + "/v1/predict"
	args := []string{"-sS", "--aws-sigv4", "aws:amz:" + f.cfg.Region + ":execute-api",
		"--user", op.creds.AccessKeyID + ":" + op.creds.SecretAccessKey}
	if op.creds.SessionToken != "" {
		args = append(args, "-H", "x-amz-security-token: "+op.creds.SessionToken)
	}
	args = append(args, "-H", "Content-Type: application/json", "-d", body, "-w", "\n%{http_code}", url)
	out, err := exec.CommandContext(t.Context(), curl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl --aws-sigv4: %v\n%s", err, out)
	}
	answer, code, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	var p prediction
	if code != "200" || json.Unmarshal([]byte(answer), &p) != nil || p.ModelName != servedModel {
		t.Errorf("curl --aws-sigv4 POST /predict: %s %s, want 200 and a prediction", code, answer)
	}
}
