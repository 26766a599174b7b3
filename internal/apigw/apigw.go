// Package apigw adapts an http.Handler to Amazon API Gateway's Lambda proxy
// integrations, so that the handler a laptop serves with net/http is the
// one Lambda runs:
//
//	lambda.Start(apigw.Handler(svc.Handler()))
//
// One Lambda function can sit behind a REST API (payload format 1.0,
// events.APIGatewayProxyRequest, also what an HTTP API sends when set to
// format 1.0) or an HTTP API (format 2.0, events.APIGatewayV2HTTPRequest):
// Invoke tells them apart by the payload's "version" field and answers with
// the matching response type.
//
// Requests: base64 bodies are decoded; multi-value headers and query
// strings are kept; v2 cookies become a Cookie header; the stage name is
// stripped from the front of the path when present ("/prod/predict" →
// "/predict"; a REST API's path usually has none, an HTTP API's named stage
// has one, $default never does); API Gateway's request id is passed as
// X-Request-Id unless the client sent one; the Lambda context (deadline,
// cancellation) becomes the request's context.
//
// Responses: textual bodies (text/*, JSON, XML, form, JavaScript) are sent
// as-is when valid UTF-8, others base64-encoded; v1 puts multi-valued
// headers in multiValueHeaders, v2 joins them with commas and moves
// Set-Cookie to cookies; HEAD responses carry no body; a missing
// Content-Type is sniffed as net/http would.
//
// This is the only package of the service that knows about API Gateway:
// internal/serve stays plain net/http.
package apigw

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Adapter serves API Gateway proxy events with an http.Handler. It
// implements lambda.Handler (Invoke), so lambda.Start accepts it directly.
type Adapter struct {
	h http.Handler
}

// Handler returns an Adapter serving h.
func Handler(h http.Handler) *Adapter { return &Adapter{h: h} }

// InvalidEventError reports a payload that is not an API Gateway proxy
// event, or one that cannot be turned into an HTTP request. It is returned
// unwrapped, so Lambda reports its errorType as "InvalidEventError".
type InvalidEventError struct {
	Reason string
}

// Error implements error.
func (e *InvalidEventError) Error() string { return "apigw: invalid event: " + e.Reason }

// probe holds the fields that tell the payload formats apart.
type probe struct {
	Version    string `json:"version"`
	HTTPMethod string `json:"httpMethod"`
}

// Invoke handles one raw Lambda payload: a format 2.0 event ("version":
// "2.0") gets an APIGatewayV2HTTPResponse, a REST or format 1.0 event an
// APIGatewayProxyResponse. Only a payload that is not such an event is an
// error; the handler's own failures are HTTP responses.
func (a *Adapter) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	var p probe
	if err := json.Unmarshal(payload, &p); err != nil {
		return nil, &InvalidEventError{Reason: "payload is not a JSON object: " + err.Error()}
	}
	var resp any
	var err error
	switch {
	case p.Version == "2.0":
		var ev events.APIGatewayV2HTTPRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, &InvalidEventError{Reason: "format 2.0 event: " + err.Error()}
		}
		resp, err = a.ServeV2(ctx, ev)
	case p.HTTPMethod != "" && (p.Version == "" || p.Version == "1.0"):
		var ev events.APIGatewayProxyRequest
		if err := json.Unmarshal(payload, &ev); err != nil {
			return nil, &InvalidEventError{Reason: "format 1.0 event: " + err.Error()}
		}
		resp, err = a.ServeV1(ctx, ev)
	default:
		return nil, &InvalidEventError{Reason: fmt.Sprintf("neither a format 2.0 event nor a REST/1.0 event (version %q, no httpMethod)", p.Version)}
	}
	if err != nil {
		return nil, err
	}
	return json.Marshal(resp)
}

// ServeV1 serves a REST API (or format 1.0) proxy event.
func (a *Adapter) ServeV1(ctx context.Context, ev events.APIGatewayProxyRequest) (events.APIGatewayProxyResponse, error) {
	req, err := requestV1(ctx, ev)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	rw := a.serve(req)
	body, b64 := rw.encodedBody()
	resp := events.APIGatewayProxyResponse{StatusCode: rw.status, Body: body, IsBase64Encoded: b64}
	for k, vs := range rw.header {
		if len(vs) == 1 {
			if resp.Headers == nil {
				resp.Headers = map[string]string{}
			}
			resp.Headers[k] = vs[0]
		} else if len(vs) > 1 {
			if resp.MultiValueHeaders == nil {
				resp.MultiValueHeaders = map[string][]string{}
			}
			resp.MultiValueHeaders[k] = vs
		}
	}
	return resp, nil
}

// ServeV2 serves an HTTP API format 2.0 event.
func (a *Adapter) ServeV2(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (events.APIGatewayV2HTTPResponse, error) {
	req, err := requestV2(ctx, ev)
	if err != nil {
		return events.APIGatewayV2HTTPResponse{}, err
	}
	rw := a.serve(req)
	body, b64 := rw.encodedBody()
	resp := events.APIGatewayV2HTTPResponse{StatusCode: rw.status, Body: body, IsBase64Encoded: b64}
	for k, vs := range rw.header {
		if k == "Set-Cookie" {
			resp.Cookies = append(resp.Cookies, vs...)
			continue
		}
		if len(vs) > 0 {
			if resp.Headers == nil {
				resp.Headers = map[string]string{}
			}
			resp.Headers[k] = strings.Join(vs, ",")
		}
	}
	return resp, nil
}

func (a *Adapter) serve(req *http.Request) *responseWriter {
	rw := &responseWriter{header: http.Header{}, status: http.StatusOK}
	a.h.ServeHTTP(rw, req)
	if req.Method == http.MethodHead {
		rw.body.Reset()
	}
	if _, ok := rw.header["Content-Type"]; !ok && rw.body.Len() > 0 {
		rw.header.Set("Content-Type", http.DetectContentType(rw.body.Bytes()))
	}
	return rw
}

func requestV1(ctx context.Context, ev events.APIGatewayProxyRequest) (*http.Request, error) {
	if ev.HTTPMethod == "" {
		return nil, &InvalidEventError{Reason: "no httpMethod"}
	}
	q := url.Values{}
	if len(ev.MultiValueQueryStringParameters) > 0 {
		for k, vs := range ev.MultiValueQueryStringParameters {
			q[k] = append(q[k], vs...)
		}
	} else {
		for k, v := range ev.QueryStringParameters {
			q.Set(k, v)
		}
	}
	h := http.Header{}
	if len(ev.MultiValueHeaders) > 0 {
		for k, vs := range ev.MultiValueHeaders {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
	} else {
		for k, v := range ev.Headers {
			h.Set(k, v)
		}
	}
	path := stripStage(ev.Path, ev.RequestContext.Stage)
	u := &url.URL{Path: path, RawQuery: q.Encode()}
	return newRequest(ctx, ev.HTTPMethod, u, h, ev.Body, ev.IsBase64Encoded,
		ev.RequestContext.DomainName, ev.RequestContext.Identity.SourceIP, ev.RequestContext.RequestID)
}

func requestV2(ctx context.Context, ev events.APIGatewayV2HTTPRequest) (*http.Request, error) {
	method := ev.RequestContext.HTTP.Method
	if method == "" {
		return nil, &InvalidEventError{Reason: "no requestContext.http.method"}
	}
	raw := ev.RawPath
	if raw == "" {
		raw = ev.RequestContext.HTTP.Path
	}
	path, err := url.PathUnescape(raw)
	if err != nil {
		return nil, &InvalidEventError{Reason: "bad rawPath: " + err.Error()}
	}
	path = stripStage(path, ev.RequestContext.Stage)
	h := http.Header{}
	for k, v := range ev.Headers {
		h.Set(k, v)
	}
	if len(ev.Cookies) > 0 {
		h.Set("Cookie", strings.Join(ev.Cookies, "; "))
	}
	u := &url.URL{Path: path, RawQuery: ev.RawQueryString}
	return newRequest(ctx, method, u, h, ev.Body, ev.IsBase64Encoded,
		ev.RequestContext.DomainName, ev.RequestContext.HTTP.SourceIP, ev.RequestContext.RequestID)
}

// stripStage removes a leading "/<stage>" path segment.
func stripStage(path, stage string) string {
	if path == "" {
		return "/"
	}
	if stage == "" || stage == "$default" {
		return path
	}
	prefix := "/" + stage
	switch {
	case path == prefix:
		return "/"
	case strings.HasPrefix(path, prefix+"/"):
		return path[len(prefix):]
	}
	return path
}

func newRequest(ctx context.Context, method string, u *url.URL, h http.Header, body string, isBase64 bool,
	domain, sourceIP, requestID string) (*http.Request, error) {
	data := []byte(body)
	if isBase64 {
		var err error
		if data, err = base64.StdEncoding.DecodeString(body); err != nil {
			return nil, &InvalidEventError{Reason: "isBase64Encoded body is not base64: " + err.Error()}
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.RequestURI(), bytes.NewReader(data))
	if err != nil {
		return nil, &InvalidEventError{Reason: err.Error()}
	}
	req.Header = h
	req.RequestURI = u.RequestURI()
	req.ContentLength = int64(len(data))
	req.Host = h.Get("Host")
	if req.Host == "" {
		req.Host = domain
	}
	req.RemoteAddr = sourceIP
	if requestID != "" && h.Get("X-Request-Id") == "" {
		h.Set("X-Request-Id", requestID)
	}
	return req, nil
}

// responseWriter buffers a response for API Gateway.
type responseWriter struct {
	header http.Header
	status int
	wrote  bool
	body   bytes.Buffer
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
}

func (w *responseWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.body.Write(p)
}

// encodedBody returns the body as API Gateway wants it.
func (w *responseWriter) encodedBody() (string, bool) {
	b := w.body.Bytes()
	if len(b) == 0 {
		return "", false
	}
	if isText(w.header.Get("Content-Type")) && utf8.Valid(b) {
		return string(b), false
	}
	return base64.StdEncoding.EncodeToString(b), true
}

// isText reports whether a content type is sent as text.
func isText(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.ToLower(strings.TrimSpace(ct))
	switch {
	case strings.HasPrefix(ct, "text/"),
		ct == "application/json", strings.HasSuffix(ct, "+json"),
		ct == "application/xml", strings.HasSuffix(ct, "+xml"),
		ct == "application/javascript", ct == "application/x-www-form-urlencoded":
		return true
	}
	return false
}
