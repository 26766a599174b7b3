package serve_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/churnops/churnops/internal/serve"
)

func TestDecodeRequest(t *testing.T) {
	tests := []struct {
		body    string
		kind    serve.RequestKind
		wantErr string // substring of the message; "" for success
	}{
		{`{"user_id":"7590-VHVEG"}`, serve.KindSingle, ""},
		{" \n{\"user_id\":\"7590-VHVEG\"}\n ", serve.KindSingle, ""},
		{`{"user_ids":["a","b"]}`, serve.KindBatch, ""},
		{`{"features":{"x":1,"y":null,"z":"s","w":true}}`, serve.KindInline, ""},
		{`{"features":{},"user_id":"u"}`, serve.KindInline, ""},
		{`{"user_id":"a","user_id":"b"}`, serve.KindSingle, ""}, // last wins, as in encoding/json
		{``, 0, "empty"},
		{`"7590-VHVEG"`, 0, "must be a JSON object"},
		{`{"user_id":"a"}}`, 0, "not valid JSON"},
		{`{"user_id":"a"} {"user_id":"b"}`, 0, "not valid JSON"},
		{`{"user_id":"a",}`, 0, "not valid JSON"},
		{`{"user_id":"a","extra":1}`, 0, `unknown field "extra"`},
		{`{"User_Id":"a"}`, 0, `unknown field "User_Id"`},
		{`{"user_id":1}`, 0, "user_id must be a string"},
		{`{"user_id":"` + strings.Repeat("x", 129) + `"}`, 0, "1 to 128 bytes"},
		{`{"user_id":"a\u0000"}`, 0, "control characters"},
		{"{\"user_id\":\"\xff\xfe\"}", 0, "bytes of UTF-8"},                     // not U+FFFD U+FFFD, a valid id
		{"{\"user_ids\":[\"a\",\"7590-\xc3\"]}", 0, "user_ids[1] must be 1 to"}, // a cut multi-byte character
		{`{"user_ids":["a"],"features":{}}`, 0, "cannot be combined"},
		{`{"user_ids":[1]}`, 0, "user_ids[0] must be a string"},
		{`{"user_ids":["a",""]}`, 0, "user_ids[1]"},
		{`{"user_ids":[]}`, 0, "must not be empty"},
		{`{"user_ids":{}}`, 0, "array of strings"},
		{`{"features":[1,2]}`, 0, "features must be a JSON object"},
		{`{"features":{"a":[1]}}`, 0, `feature "a"`},
		{`{"features":{"a":1e400}}`, 0, `feature "a": "1e400" is out of range`},
		{`{}`, 0, "one of user_id, user_ids or features"},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			req, err := serve.DecodeRequest([]byte(tc.body), 3)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				if req.Kind != tc.kind {
					t.Fatalf("kind %v, want %v", req.Kind, tc.kind)
				}
				return
			}
			var e *serve.Error
			if !errors.As(err, &e) || e.Code != serve.CodeInvalidRequest {
				t.Fatalf("error %v, want invalid_request", err)
			}
			if !strings.Contains(e.Message, tc.wantErr) {
				t.Fatalf("message %q does not contain %q", e.Message, tc.wantErr)
			}
		})
	}
}

// TestDecodeInclude: the include list and reasons_k (how many reasons:
// the default with "reasons", nothing without).
func TestDecodeInclude(t *testing.T) {
	tests := []struct {
		body    string
		want    serve.Include
		wantErr string
	}{
		{`{"user_id":"a"}`, 0, ""},
		{`{"user_id":"a","include":[]}`, 0, ""},
		{`{"user_id":"a","include":["features"]}`, serve.IncludeFeatures, ""},
		{`{"include":["features","features"],"user_ids":["a"]}`, serve.IncludeFeatures, ""},
		{`{"features":{},"include":["features"]}`, serve.IncludeFeatures, ""},
		{`{"user_id":"a","include":null}`, 0, "include must be an array of strings"},
		{`{"user_id":"a","include":"features"}`, 0, "include must be an array of strings"},
		{`{"user_id":"a","include":[1]}`, 0, "include[0] must be a string"},
		{`{"user_id":"a","include":["Features"]}`, 0, `include[0]: unknown value "Features"; allowed: "features", "reasons"`},
		{`{"user_id":"a","include":["features",""]}`, 0, `include[1]: unknown value ""`},
		{`{"user_id":"a","Include":["features"]}`, 0, `unknown field "Include"`},
		{`{"include":["features"]}`, 0, "one of user_id, user_ids or features"},
		{`{"user_id":"a","include":["reasons","features"]}`, serve.IncludeFeatures | serve.IncludeReasons, ""},
		{`{"user_id":"a","include":["reasons"],"reasons_k":1}`, serve.IncludeReasons, ""},
		{`{"user_id":"a","include":["reasons"],"reasons_k":64}`, serve.IncludeReasons, ""},
		{`{"user_id":"a","include":["reasons"],"reasons_k":5.0}`, serve.IncludeReasons, ""},
		{`{"user_id":"a","reasons_k":3}`, 0, `reasons_k applies to reasons: send it with "include": ["reasons"]`},
		{`{"user_id":"a","include":["features"],"reasons_k":3}`, 0, "reasons_k applies to reasons"},
		{`{"user_id":"a","include":["reasons"],"reasons_k":0}`, 0, "reasons_k must be an integer from 1 to 64"},
		{`{"user_id":"a","include":["reasons"],"reasons_k":65}`, 0, "reasons_k must be an integer from 1 to 64"},
		{`{"user_id":"a","include":["reasons"],"reasons_k":2.5}`, 0, "reasons_k must be an integer"},
		{`{"user_id":"a","include":["reasons"],"reasons_k":"3"}`, 0, "reasons_k must be an integer"},
		{`{"user_id":"a","include":["reasons"],"reasons_k":null}`, 0, "reasons_k must be an integer"},
		{`{"user_id":"a","include":["reasons"],"k":3}`, 0, `unknown field "k"`},
	}
	for _, tc := range tests {
		t.Run(tc.body, func(t *testing.T) {
			req, err := serve.DecodeRequest([]byte(tc.body), 3)
			if tc.wantErr == "" {
				if err != nil || req.Include != tc.want {
					t.Fatalf("include %v, %v; want %v", req.Include, err, tc.want)
				}
				wantK := 0
				if tc.want.Has(serve.IncludeReasons) {
					wantK = serve.DefaultReasonsK
					var k struct {
						K *float64 `json:"reasons_k"`
					}
					if json.Unmarshal([]byte(tc.body), &k) == nil && k.K != nil {
						wantK = int(*k.K)
					}
				}
				if req.ReasonsK != wantK {
					t.Fatalf("reasons_k %d, want %d", req.ReasonsK, wantK)
				}
				return
			}
			var e *serve.Error
			if !errors.As(err, &e) || e.Code != serve.CodeInvalidRequest || !strings.Contains(e.Message, tc.wantErr) {
				t.Fatalf("error %v, want invalid_request with %q", err, tc.wantErr)
			}
		})
	}
}

// FuzzDecodeRequest checks that any body decodes to a well-formed request
// or to a 400 invalid_request, never a panic or another error.
func FuzzDecodeRequest(f *testing.F) {
	seeds, err := filepath.Glob(filepath.Join("testdata", "requests", "*.json"))
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"user_ids":["a","b","c","d"]}`))
	f.Add([]byte(`{"features":{"a":1e400}}`))
	f.Add([]byte("{\"user_id\":\"\xff\"}"))
	const maxBatch = 3
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := serve.DecodeRequest(body, maxBatch)
		if err != nil {
			var e *serve.Error
			if !errors.As(err, &e) || e.Code != serve.CodeInvalidRequest || e.Status() != 400 || e.Message == "" {
				t.Fatalf("error %v (%T) is not a 400 invalid_request", err, err)
			}
			if !utf8.ValidString(e.Message) && len(body) < 1<<10 {
				// Messages quote client input; the encoder repairs bad
				// UTF-8, but a message should not need it.
				t.Logf("message with invalid UTF-8: %q", e.Message)
			}
			return
		}
		valid := func(id string) bool {
			return id != "" && len(id) <= serve.MaxUserIDLen && utf8.ValidString(id) &&
				!strings.ContainsFunc(id, func(r rune) bool { return r < 0x20 || r == 0x7f })
		}
		if req.Include&^(serve.IncludeFeatures|serve.IncludeReasons) != 0 {
			t.Fatalf("include %b has unknown parts", req.Include)
		}
		if req.Include.Has(serve.IncludeReasons) != (req.ReasonsK != 0) || req.ReasonsK < 0 || req.ReasonsK > serve.MaxReasonsK {
			t.Fatalf("include %v with reasons_k %d", req.Include, req.ReasonsK)
		}
		switch req.Kind {
		case serve.KindSingle:
			if !valid(req.UserID) || req.UserIDs != nil || req.Features != nil {
				t.Fatalf("bad single request %+v", req)
			}
		case serve.KindBatch:
			if len(req.UserIDs) == 0 || len(req.UserIDs) > maxBatch || req.UserID != "" || req.Features != nil {
				t.Fatalf("bad batch request %+v", req)
			}
			for _, id := range req.UserIDs {
				if !valid(id) {
					t.Fatalf("bad id %q in batch", id)
				}
			}
		case serve.KindInline:
			if req.Features == nil || req.UserIDs != nil || (req.UserID != "" && !valid(req.UserID)) {
				t.Fatalf("bad inline request %+v", req)
			}
			for k, v := range req.Features {
				switch v.(type) {
				case nil, float64, bool, string:
				default:
					t.Fatalf("feature %q has type %T", k, v)
				}
			}
		default:
			t.Fatalf("request without kind: %+v", req)
		}
	})
}

// FuzzDecodeFastPath checks that the single-user fast path never accepts
// what the general decoder would reject or read differently.
func FuzzDecodeFastPath(f *testing.F) {
	for _, s := range []string{`{"user_id":"7590-VHVEG"}`, ` { "user_id" : "a b" } `, `{"user_id":"a\"b"}`,
		`{"user_id":""}`, `{"user_id":"x"}x`, `{"user_id":"x",}`, "{\"user_id\":\"\x7f\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		id, ok := serve.DecodeSingleFast(body)
		if !ok {
			return
		}
		req, err := serve.DecodeRequestGeneral(body, 100)
		if err != nil || req.Kind != serve.KindSingle || req.UserID != id {
			t.Fatalf("fast path read %q, general decoder %+v %v", id, req, err)
		}
	})
}
