package asl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// JSON values inside the executor are the generic tree encoding/json
// produces with UseNumber: nil, bool, json.Number, string, []any and
// map[string]any. Values are never mutated in place once built: every
// change (ResultPath, templates, intrinsics) builds new containers, so
// subtrees can be shared between a state's input and output safely.

// parseJSON decodes exactly one JSON value, keeping numbers exact.
func parseJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("trailing data after JSON value")
	}
	return v, nil
}

// toJSON encodes a value compactly without HTML escaping, as Step
// Functions prints payloads.
func toJSON(v any) (json.RawMessage, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// rawJSON encodes a value for history events and error messages, where an
// encoding failure (impossible for values the executor builds) must not
// stop the execution.
func rawJSON(v any) json.RawMessage {
	b, err := toJSON(v)
	if err != nil {
		return json.RawMessage(strconv.Quote(fmt.Sprintf("<unencodable: %v>", err)))
	}
	return b
}

// numberValue reports whether v is a JSON number and its float64 value.
func numberValue(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	if err != nil {
		return 0, false
	}
	return f, true
}

// jsonTypeName names a value's JSON type for error messages.
func jsonTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case json.Number:
		return "number"
	case string:
		return "string"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	default:
		return fmt.Sprintf("%T", v)
	}
}
