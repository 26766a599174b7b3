package serve

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Include is the set of optional parts a /predict request asks for with
// "include": [...]. Each part is per-customer data (the values the
// prediction read, the reasons behind it), so it is left out of the default
// answer, and only POST /predict/details serves it: who may read it is who
// may call that route (an IAM grant on AWS, the token locally).
type Include uint8

// The known include values. To add one: a constant here, a row in
// includeNames, and its rendering where the encoders check the bit.
const (
	IncludeFeatures Include = 1 << iota // "features": features_used, the raw values scored
	IncludeReasons                      // "reasons": the features that moved the prediction most, and by how much
)

// includeNames is the allow-list of "include" values, in the order error
// messages list them.
var includeNames = []struct {
	name string
	bit  Include
}{
	{"features", IncludeFeatures},
	{"reasons", IncludeReasons},
}

// Has reports whether every part of p is in i.
func (i Include) Has(p Include) bool { return i&p == p }

// String lists i's names, comma-separated (for messages and logs).
func (i Include) String() string {
	var names []string
	for _, n := range includeNames {
		if i.Has(n.bit) {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// decodeInclude reads the "include" field: an array of known names
// (duplicates allowed, order ignored; [] asks for nothing). Anything else is
// 400 invalid_request naming the allowed values.
func decodeInclude(raw json.RawMessage) (Include, error) {
	if len(raw) == 0 || raw[0] != '[' {
		return 0, invalid("include must be an array of strings; allowed: " + allowedIncludes())
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return 0, invalid("include must be an array of strings; allowed: " + allowedIncludes())
	}
	var inc Include
	for i, it := range items {
		var name string
		if len(it) == 0 || it[0] != '"' || json.Unmarshal(it, &name) != nil {
			return 0, invalid(fmt.Sprintf("include[%d] must be a string; allowed: %s", i, allowedIncludes()))
		}
		bit, ok := includeBit(name)
		if !ok {
			return 0, invalid(fmt.Sprintf("include[%d]: unknown value %s; allowed: %s", i, quote(name), allowedIncludes()))
		}
		inc |= bit
	}
	return inc, nil
}

func includeBit(name string) (Include, bool) {
	for _, n := range includeNames {
		if n.name == name {
			return n.bit, true
		}
	}
	return 0, false
}

func allowedIncludes() string {
	q := make([]string, len(includeNames))
	for i, n := range includeNames {
		q[i] = quote(n.name)
	}
	return strings.Join(q, ", ")
}
