package apigw_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"

	"github.com/churnops/churnops/internal/apigw"
	"github.com/churnops/churnops/internal/serve/servetest"
)

var _ lambda.Handler = (*apigw.Adapter)(nil)

func readEvent(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// newService returns the real /predict handler over fakes, with version 1
// in Production and the users the testdata events name.
func newService(t *testing.T) http.Handler {
	t.Helper()
	ctx := t.Context()
	users := servetest.Users(3, 1, "2024-01-31")
	for i, id := range []string{"7590-VHVEG", "5575-GNVDE", "3668-QPYBK"} {
		users[i].UserID = id
	}
	svc, err := servetest.NewEnv(users).ProductionService(ctx, "churn", "2023-12-31")
	if err != nil {
		t.Fatal(err)
	}
	return svc.Handler()
}

// response is what both response types have in common, decoded from the
// raw Invoke output.
type response struct {
	StatusCode        int                 `json:"statusCode"`
	Headers           map[string]string   `json:"headers"`
	MultiValueHeaders map[string][]string `json:"multiValueHeaders"`
	Body              string              `json:"body"`
	IsBase64Encoded   bool                `json:"isBase64Encoded"`
	Cookies           []string            `json:"cookies"`
}

func TestEndToEnd(t *testing.T) {
	h := apigw.Handler(newService(t))
	tests := []struct {
		file      string
		status    int
		requestID string
		check     func(t *testing.T, body map[string]any)
	}{
		{"v1-rest-predict.json", 200, "c6af9ac6-7b61-11e6-9a41-93e8deadbeef", wantPrediction("7590-VHVEG")},
		{"v1-rest-predict-details-iam.json", 200, "f0e1d2c3-7b61-11e6-9a41-93e8deadbeef", wantDetails("7590-VHVEG")},
		{"v1-rest-batch-base64.json", 200, "d1b2c3a4-7b61-11e6-9a41-93e8deadbeef", wantBatch("7590-VHVEG", "0000-NOONE", "5575-GNVDE")},
		{"v1-rest-stage-in-path.json", 200, "e5f6a7b8-7b61-11e6-9a41-93e8deadbeef", wantPrediction("7590-VHVEG")},
		{"v1-rest-get-model.json", 200, "client-trace-42", func(t *testing.T, b map[string]any) {
			if b["model_version"] != 1.0 || b["model_name"] != "churn" {
				t.Errorf("/model body %v", b)
			}
		}},
		{"v1-rest-unknown-user.json", 404, "a0a0a0a0-7b61-11e6-9a41-93e8deadbeef", wantError("user_not_found")},
		{"v1-httpapi-format1-predict.json", 200, "SkQ3FHc0joEFu6A=", wantPrediction("7590-VHVEG")},
		{"v2-http-predict.json", 200, "SkQ3FHc0joEFu6A=", wantPrediction("7590-VHVEG")},
		{"v2-http-inline-base64.json", 200, "Tk4aGHd1koFGv7B=", wantPrediction("")},
		{"v2-http-named-stage-batch.json", 200, "Ul5bHIe2lpGHw8C=", wantBatch("5575-GNVDE", "7590-VHVEG")},
		{"v2-http-get-predict.json", 405, "Vm6cIJf3mqHIx9D=", wantError("method_not_allowed")},
		{"v2-http-ready.json", 200, "Wn7dJKg4nrIJy0E=", func(t *testing.T, b map[string]any) {
			if b["status"] != "ready" {
				t.Errorf("/ready body %v", b)
			}
		}},
		{"v2-http-malformed.json", 400, "Xo8eKLh5osJKz1F=", wantError("invalid_request")},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			out, err := h.Invoke(t.Context(), readEvent(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			// The response type matches the event's format.
			var raw map[string]json.RawMessage
			if err := json.Unmarshal(out, &raw); err != nil {
				t.Fatal(err)
			}
			_, hasCookies := raw["cookies"]
			if v2 := strings.HasPrefix(tc.file, "v2-"); hasCookies != v2 {
				t.Errorf("cookies field present=%v for %s: %s", hasCookies, tc.file, out)
			}
			var resp response
			if err := json.Unmarshal(out, &resp); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.status, resp.Body)
			}
			if resp.IsBase64Encoded {
				t.Errorf("JSON body sent as base64")
			}
			if ct := resp.Headers["Content-Type"]; ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if id := resp.Headers["X-Request-Id"]; id != tc.requestID {
				t.Errorf("X-Request-Id %q, want %q", id, tc.requestID)
			}
			if tc.status == 405 && resp.Headers["Allow"] != "POST" {
				t.Errorf("Allow %q", resp.Headers["Allow"])
			}
			var body map[string]any
			if err := json.Unmarshal([]byte(resp.Body), &body); err != nil {
				t.Fatalf("body %q: %v", resp.Body, err)
			}
			tc.check(t, body)
		})
	}
}

// wantPrediction wants the default answer for userID: no features_used or
// reasons, which only a request including them on /predict/details gets.
func wantPrediction(userID string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		wantScore(t, b, userID)
		if _, ok := b["features_used"]; ok {
			t.Errorf("features_used in a default answer: %v", b)
		}
		if _, ok := b["reasons"]; ok {
			t.Errorf("reasons in a default answer: %v", b)
		}
	}
}

// wantDetails wants userID's answer with its 14 features_used and its
// reasons: the bias, the log-odds and the default three reasons.
func wantDetails(userID string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		wantScore(t, b, userID)
		if fu, _ := b["features_used"].(map[string]any); len(fu) != 14 {
			t.Errorf("features_used %v, want the 14 features the request included", b["features_used"])
		}
		r, _ := b["reasons"].(map[string]any)
		top, _ := r["top"].([]any)
		if _, ok := r["bias"].(float64); !ok || len(top) != 3 {
			t.Errorf("reasons %v, want a bias and the top 3", b["reasons"])
		}
	}
}

func wantScore(t *testing.T, b map[string]any, userID string) {
	t.Helper()
	p, ok := b["churn_probability"].(float64)
	if !ok || p <= 0 || p >= 1 || b["model_version"] != 1.0 {
		t.Fatalf("prediction body %v", b)
	}
	if userID == "" && b["user_id"] != nil || userID != "" && b["user_id"] != userID {
		t.Fatalf("user_id %v, want %q", b["user_id"], userID)
	}
}

func wantBatch(ids ...string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		preds, _ := b["predictions"].([]any)
		if len(preds) != len(ids) {
			t.Fatalf("%d predictions, want %d: %v", len(preds), len(ids), b)
		}
		for i, p := range preds {
			if got := p.(map[string]any)["user_id"]; got != ids[i] {
				t.Errorf("predictions[%d].user_id = %v, want %s", i, got, ids[i])
			}
		}
	}
}

func wantError(code string) func(*testing.T, map[string]any) {
	return func(t *testing.T, b map[string]any) {
		t.Helper()
		e, _ := b["error"].(map[string]any)
		if e == nil || e["code"] != code {
			t.Fatalf("error body %v, want code %s", b, code)
		}
	}
}

// seen is what an echo handler observed of a request.
type seen struct {
	Method, Path, RawQuery, Host, RemoteAddr, Body string
	Query                                          map[string][]string
	Header                                         http.Header
	Deadline                                       bool
}

func echo(got *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		_, dl := r.Context().Deadline()
		*got = seen{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Host: r.Host,
			RemoteAddr: r.RemoteAddr, Body: string(b), Query: r.URL.Query(), Header: r.Header, Deadline: dl}
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestRequestConversion(t *testing.T) {
	tests := []struct {
		file  string
		check func(t *testing.T, s seen)
	}{
		{"v1-rest-predict.json", func(t *testing.T, s seen) {
			want := seen{Method: "POST", Path: "/predict", Host: "k3x9q2m7ab.execute-api.eu-west-1.amazonaws.com",
				RemoteAddr: "203.0.113.42", Body: `{"user_id": "7590-VHVEG"}`}
			if s.Method != want.Method || s.Path != want.Path || s.Host != want.Host || s.RemoteAddr != want.RemoteAddr || s.Body != want.Body {
				t.Errorf("got %+v", s)
			}
			if s.Header.Get("X-Forwarded-For") != "203.0.113.42, 130.176.98.12" || s.Header.Get("X-Request-Id") != "c6af9ac6-7b61-11e6-9a41-93e8deadbeef" {
				t.Errorf("headers %v", s.Header)
			}
		}},
		{"v1-rest-predict-details-iam.json", func(t *testing.T, s seen) {
			// An AWS_IAM route: API Gateway checked the signature; the
			// handler sees the route and body, the signed headers ride along.
			if s.Method != "POST" || s.Path != "/predict/details" || s.Body != `{"user_id": "7590-VHVEG", "include": ["features", "reasons"]}` {
				t.Errorf("got %+v", s)
			}
			if !strings.HasPrefix(s.Header.Get("Authorization"), "AWS4-HMAC-SHA256 ") {
				t.Errorf("headers %v", s.Header)
			}
		}},
		{"v1-rest-batch-base64.json", func(t *testing.T, s seen) {
			if !strings.HasPrefix(s.Body, `{"user_ids": [`) {
				t.Errorf("base64 body not decoded: %q", s.Body)
			}
		}},
		{"v1-rest-stage-in-path.json", func(t *testing.T, s seen) {
			if s.Path != "/predict" || s.Host != "churn.example.com" {
				t.Errorf("path %q host %q", s.Path, s.Host)
			}
		}},
		{"v1-rest-get-model.json", func(t *testing.T, s seen) {
			if s.Method != "GET" || s.Path != "/model" || !reflect.DeepEqual(s.Query["verbose"], []string{"1", "2"}) {
				t.Errorf("got %+v", s)
			}
			if s.Header.Get("X-Request-Id") != "client-trace-42" {
				t.Errorf("client request id replaced: %q", s.Header.Get("X-Request-Id"))
			}
		}},
		{"v1-httpapi-format1-predict.json", func(t *testing.T, s seen) {
			if s.Path != "/predict" || s.Header.Get("Content-Type") != "application/json" {
				t.Errorf("got %+v", s)
			}
		}},
		{"v2-http-predict.json", func(t *testing.T, s seen) {
			if s.Method != "POST" || s.Path != "/predict" || s.RemoteAddr != "198.51.100.7" ||
				s.Host != "7h2k9d4m1q.execute-api.eu-west-1.amazonaws.com" || s.Body != `{"user_id": "7590-VHVEG"}` {
				t.Errorf("got %+v", s)
			}
			if s.Header.Get("Cookie") != "session=8f14e45fceea167a; theme=dark" || s.Header.Get("Content-Type") != "application/json" {
				t.Errorf("headers %v", s.Header)
			}
		}},
		{"v2-http-inline-base64.json", func(t *testing.T, s seen) {
			if !strings.HasPrefix(s.Body, `{"features": {`) {
				t.Errorf("base64 body not decoded: %q", s.Body)
			}
		}},
		{"v2-http-named-stage-batch.json", func(t *testing.T, s seen) {
			if s.Path != "/predict" {
				t.Errorf("stage not stripped: %q", s.Path)
			}
		}},
		{"v2-http-ready.json", func(t *testing.T, s seen) {
			if s.Method != "GET" || s.Path != "/ready" || s.RawQuery != "probe=lb&probe=canary" ||
				!reflect.DeepEqual(s.Query["probe"], []string{"lb", "canary"}) {
				t.Errorf("got %+v", s)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var got seen
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // Lambda's deadline
			defer cancel()
			out, err := apigw.Handler(echo(&got)).Invoke(ctx, readEvent(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if !got.Deadline {
				t.Error("the Lambda context did not reach the handler")
			}
			var resp response
			if err := json.Unmarshal(out, &resp); err != nil || resp.StatusCode != 204 || resp.Body != "" {
				t.Fatalf("response %s (%v)", out, err)
			}
			tc.check(t, got)
		})
	}
}

func TestResponseConversion(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "a=1; Path=/")
		w.Header().Add("Set-Cookie", "b=2; Path=/")
		w.Header().Add("Vary", "Accept")
		w.Header().Add("Vary", "Origin")
		w.Header().Set("X-Single", "yes")
		switch r.URL.Path {
		case "/png":
			_, _ = w.Write(png) // no Content-Type: sniffed as image/png
		case "/text":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusTeapot)
			_, _ = w.Write([]byte("héllo"))
		}
	})
	a := apigw.Handler(h)
	v1 := func(path, method string) events.APIGatewayProxyResponse {
		t.Helper()
		resp, err := a.ServeV1(t.Context(), events.APIGatewayProxyRequest{HTTPMethod: method, Path: path})
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	v2 := func(path, method string) events.APIGatewayV2HTTPResponse {
		t.Helper()
		ev := events.APIGatewayV2HTTPRequest{Version: "2.0", RawPath: path}
		ev.RequestContext.HTTP.Method = method
		resp, err := a.ServeV2(t.Context(), ev)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	t.Run("v1 binary", func(t *testing.T) {
		r := v1("/png", "GET")
		b, _ := base64.StdEncoding.DecodeString(r.Body)
		if r.StatusCode != 200 || !r.IsBase64Encoded || string(b) != string(png) || r.Headers["Content-Type"] != "image/png" {
			t.Fatalf("%+v", r)
		}
		if !reflect.DeepEqual(r.MultiValueHeaders["Set-Cookie"], []string{"a=1; Path=/", "b=2; Path=/"}) ||
			!reflect.DeepEqual(r.MultiValueHeaders["Vary"], []string{"Accept", "Origin"}) || r.Headers["X-Single"] != "yes" {
			t.Fatalf("headers %v / %v", r.Headers, r.MultiValueHeaders)
		}
		if _, dup := r.Headers["Vary"]; dup {
			t.Error("multi-valued header also in headers")
		}
	})
	t.Run("v1 text", func(t *testing.T) {
		r := v1("/text", "GET")
		if r.StatusCode != 418 || r.IsBase64Encoded || r.Body != "héllo" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("v1 HEAD", func(t *testing.T) {
		if r := v1("/text", "HEAD"); r.Body != "" || r.StatusCode != 418 {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("v2 binary", func(t *testing.T) {
		r := v2("/png", "GET")
		b, _ := base64.StdEncoding.DecodeString(r.Body)
		if !r.IsBase64Encoded || string(b) != string(png) {
			t.Fatalf("%+v", r)
		}
		if !reflect.DeepEqual(r.Cookies, []string{"a=1; Path=/", "b=2; Path=/"}) || r.Headers["Vary"] != "Accept,Origin" {
			t.Fatalf("cookies %v headers %v", r.Cookies, r.Headers)
		}
		if _, ok := r.Headers["Set-Cookie"]; ok {
			t.Error("Set-Cookie left in headers")
		}
	})
	t.Run("v2 text", func(t *testing.T) {
		if r := v2("/text", "GET"); r.StatusCode != 418 || r.IsBase64Encoded || r.Body != "héllo" {
			t.Fatalf("%+v", r)
		}
	})
}

func TestInvalidEvents(t *testing.T) {
	a := apigw.Handler(http.NotFoundHandler())
	for _, tc := range []struct{ name, payload string }{
		{"not json", `{`},
		{"array", `[1,2]`},
		{"null", `null`},
		{"empty object", `{}`},
		{"s3 event", `{"Records":[{"eventSource":"aws:s3"}]}`},
		{"v2 without method", `{"version":"2.0","rawPath":"/predict"}`},
		{"v3", `{"version":"3.0","httpMethod":"GET"}`},
		{"v1 bad base64", `{"httpMethod":"POST","path":"/predict","body":"%%%","isBase64Encoded":true}`},
		{"v2 bad base64", `{"version":"2.0","requestContext":{"http":{"method":"POST"}},"rawPath":"/predict","body":"%%%","isBase64Encoded":true}`},
		{"v2 bad path escape", `{"version":"2.0","requestContext":{"http":{"method":"GET"}},"rawPath":"/%zz"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := a.Invoke(t.Context(), []byte(tc.payload))
			var ie *apigw.InvalidEventError
			if !errors.As(err, &ie) || out != nil {
				t.Fatalf("got %s, %v; want an *InvalidEventError", out, err)
			}
			if reflect.TypeOf(err).String() != "*apigw.InvalidEventError" {
				t.Fatalf("error is wrapped (%T): Lambda would report the wrapper's type", err)
			}
		})
	}
}
