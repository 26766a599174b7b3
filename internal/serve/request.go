package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// RequestKind says which of the three /predict forms a request is.
type RequestKind int

// Request kinds.
const (
	KindSingle RequestKind = iota + 1 // {"user_id": …}
	KindBatch                         // {"user_ids": […]}
	KindInline                        // {"features": {…}, "user_id"?: …}
)

// MaxUserIDLen is the longest user id accepted, in bytes.
const MaxUserIDLen = 128

// DefaultReasonsK is how many reasons a prediction carries when the request
// includes "reasons" without "reasons_k"; MaxReasonsK is the most a request
// may ask for.
const (
	DefaultReasonsK = 3
	MaxReasonsK     = 64
)

// Request is a decoded, shape-checked /predict request. Feature names and
// values are checked against the model later, by the service.
type Request struct {
	Kind     RequestKind
	UserID   string         // KindSingle; optional (may be "") for KindInline
	UserIDs  []string       // KindBatch: 1..maxBatch ids, in request order
	Features map[string]any // KindInline: name -> float64 | bool | string | nil
	Include  Include        // optional per-customer parts asked for ("include"); 0 for none
	// ReasonsK is how many reasons each prediction carries: "reasons_k",
	// DefaultReasonsK when the request includes "reasons" without it, 0
	// when it does not include "reasons".
	ReasonsK int
}

// DecodeRequest decodes a /predict body strictly (see the package doc):
// exactly one JSON object, exact field names, no unknown fields, no trailing
// data, one of user_id / user_ids / features (user_id may accompany
// features), at most maxBatch ids, an optional include list of known
// values, and reasons_k (1..MaxReasonsK) only with "reasons" included.
// Every error it returns is an *Error with code CodeInvalidRequest.
func DecodeRequest(body []byte, maxBatch int) (Request, error) {
	if id, ok := decodeSingleFast(body); ok {
		return Request{Kind: KindSingle, UserID: id}, nil
	}
	return decodeRequest(body, maxBatch)
}

// decodeRequest is the general decoder.
func decodeRequest(body []byte, maxBatch int) (Request, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return Request{}, invalid("request body is empty; send a JSON object")
	}
	if body[0] != '{' {
		if !json.Valid(body) {
			return Request{}, invalid("request body is not valid JSON")
		}
		return Request{}, invalid("request body must be a JSON object")
	}
	// json.Unmarshal rejects trailing data; a map keeps the exact key
	// spelling (struct decoding would match "USER_ID" to user_id).
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return Request{}, invalid("request body is not valid JSON: " + syntaxMessage(err))
	}
	var req Request
	var rawID, rawIDs, rawFeatures, rawInclude, rawK json.RawMessage
	for k, v := range fields {
		switch k {
		case "user_id":
			rawID = v
		case "user_ids":
			rawIDs = v
		case "features":
			rawFeatures = v
		case "include":
			rawInclude = v
		case "reasons_k":
			rawK = v
		default:
			return Request{}, invalid(fmt.Sprintf("unknown field %s; use one of user_id, user_ids or features (and optionally include, reasons_k)", quote(k)))
		}
	}
	if rawInclude != nil {
		inc, err := decodeInclude(rawInclude)
		if err != nil {
			return Request{}, err
		}
		req.Include = inc
	}
	if req.Include.Has(IncludeReasons) {
		req.ReasonsK = DefaultReasonsK
	}
	if rawK != nil {
		k, err := decodeReasonsK(rawK, req.Include)
		if err != nil {
			return Request{}, err
		}
		req.ReasonsK = k
	}
	switch {
	case rawIDs != nil && (rawID != nil || rawFeatures != nil):
		return Request{}, invalid("user_ids cannot be combined with user_id or features")
	case rawIDs != nil:
		ids, err := decodeUserIDs(rawIDs, maxBatch)
		if err != nil {
			return Request{}, err
		}
		req.Kind, req.UserIDs = KindBatch, ids
	case rawFeatures != nil:
		f, err := decodeFeatures(rawFeatures)
		if err != nil {
			return Request{}, err
		}
		req.Kind, req.Features = KindInline, f
		if rawID != nil {
			id, err := decodeUserID(rawID, "user_id")
			if err != nil {
				return Request{}, err
			}
			req.UserID = id
		}
	case rawID != nil:
		id, err := decodeUserID(rawID, "user_id")
		if err != nil {
			return Request{}, err
		}
		req.Kind, req.UserID = KindSingle, id
	default:
		return Request{}, invalid("request must have one of user_id, user_ids or features")
	}
	return req, nil
}

// decodeSingleFast recognizes the most common body, {"user_id":"<id>"} with
// an id of printable ASCII without escapes, in one pass and one allocation.
// Anything else, valid or not, goes to the general decoder, which accepts
// everything this accepts with the same result (FuzzDecodeFastPath).
func decodeSingleFast(b []byte) (string, bool) {
	const key = `"user_id"`
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if len(b)-i < len(key) || string(b[i:i+len(key)]) != key {
		return "", false
	}
	i = skipSpace(b, i+len(key))
	if i >= len(b) || b[i] != ':' {
		return "", false
	}
	i = skipSpace(b, i+1)
	if i >= len(b) || b[i] != '"' {
		return "", false
	}
	start := i + 1
	j := start
	for j < len(b) && b[j] != '"' {
		if c := b[j]; c < 0x20 || c >= 0x7f || c == '\\' {
			return "", false
		}
		j++
	}
	if j >= len(b) || j == start || j-start > MaxUserIDLen {
		return "", false
	}
	id := b[start:j]
	i = skipSpace(b, j+1)
	if i >= len(b) || b[i] != '}' {
		return "", false
	}
	if skipSpace(b, i+1) != len(b) {
		return "", false
	}
	return string(id), true
}

// skipSpace skips JSON whitespace from i.
func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// decodeReasonsK reads "reasons_k": an integer from 1 to MaxReasonsK, sent
// with "reasons" included (alone it would silently ask for nothing).
func decodeReasonsK(raw json.RawMessage, inc Include) (int, error) {
	if !inc.Has(IncludeReasons) {
		return 0, invalid(`reasons_k applies to reasons: send it with "include": ["reasons"]`)
	}
	var k float64
	if len(raw) == 0 || raw[0] == '"' || json.Unmarshal(raw, &k) != nil || k != math.Trunc(k) || k < 1 || k > MaxReasonsK {
		return 0, invalid(fmt.Sprintf("reasons_k must be an integer from 1 to %d", MaxReasonsK))
	}
	return int(k), nil
}

func decodeUserID(raw json.RawMessage, field string) (string, error) {
	var id string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &id) != nil {
		return "", invalid(field + " must be a string")
	}
	// Unmarshal turns invalid UTF-8 into U+FFFD: check the bytes sent, or
	// a malformed id is looked up (and reported unknown) as another one.
	if !utf8.Valid(raw) {
		return "", invalid(field + " " + checkUserID(string(raw)))
	}
	if err := checkUserID(id); err != "" {
		return "", invalid(field + " " + err)
	}
	return id, nil
}

// checkUserID returns what is wrong with id, or "".
func checkUserID(id string) string {
	if id == "" || len(id) > MaxUserIDLen || !utf8.ValidString(id) {
		return fmt.Sprintf("must be 1 to %d bytes of UTF-8", MaxUserIDLen)
	}
	for _, r := range id {
		if r < 0x20 || r == 0x7f {
			return "must not contain control characters"
		}
	}
	return ""
}

func decodeUserIDs(raw json.RawMessage, maxBatch int) ([]string, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return nil, invalid("user_ids must be an array of strings")
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, invalid("user_ids must be an array of strings")
	}
	if len(items) == 0 {
		return nil, invalid("user_ids must not be empty")
	}
	if len(items) > maxBatch {
		return nil, invalid(fmt.Sprintf("user_ids has %d ids; at most %d per request", len(items), maxBatch))
	}
	ids := make([]string, len(items))
	for i, it := range items {
		id, err := decodeUserID(it, fmt.Sprintf("user_ids[%d]", i))
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

func decodeFeatures(raw json.RawMessage) (map[string]any, error) {
	if len(raw) == 0 || raw[0] != '{' {
		return nil, invalid("features must be a JSON object of feature name to value")
	}
	var f map[string]any
	if err := json.Unmarshal(raw, &f); err != nil {
		// The body is valid JSON (checked by the caller), so this is a value
		// that fits no Go type: a number out of float64 range. Name it.
		var vals map[string]json.RawMessage
		if json.Unmarshal(raw, &vals) == nil {
			names := make([]string, 0, len(vals))
			for k := range vals {
				names = append(names, k)
			}
			slices.Sort(names)
			for _, k := range names {
				var v any
				if json.Unmarshal(vals[k], &v) != nil {
					return nil, &Error{Code: CodeInvalidRequest, Feature: k,
						Message: fmt.Sprintf("feature %s: %s is out of range", quote(k), quote(string(vals[k])))}
				}
			}
		}
		return nil, invalid("features: " + syntaxMessage(err))
	}
	// Report the first bad feature in name order, for stable messages.
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		switch f[k].(type) {
		case nil, float64, bool, string:
		default:
			return nil, &Error{Code: CodeInvalidRequest, Feature: k,
				Message: fmt.Sprintf("feature %s: want a number, boolean, string or null", quote(k))}
		}
	}
	return f, nil
}

// syntaxMessage renders a JSON decoding error without Go type names.
func syntaxMessage(err error) string {
	var se *json.SyntaxError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)
	case errors.As(err, &ute):
		if ute.Field != "" {
			return fmt.Sprintf("%s: cannot use JSON %s", quote(ute.Field), ute.Value)
		}
		return "cannot use JSON " + ute.Value
	}
	return "malformed value"
}

// quote quotes client-supplied text for an error message, truncated so a
// huge key cannot make a huge response.
func quote(s string) string {
	const limit = 64
	if len(s) > limit {
		s = strings.ToValidUTF8(s[:limit], "") + "…"
	}
	return fmt.Sprintf("%q", s)
}
