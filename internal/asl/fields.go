package asl

import (
	"encoding/json"
	"slices"
	"sort"
)

// objFields reads one JSON object's fields, remembering which were used
// so the rest can be reported as unknown.
type objFields struct {
	p     *parser
	state string
	pre   string // field prefix, e.g. "Retry[0]."
	m     map[string]any
}

func (f objFields) field(k string) string { return f.pre + k }

func (f objFields) errf(k, format string, args ...any) {
	f.p.errf(f.state, f.field(k), format, args...)
}

func (f objFields) has(k string) bool {
	_, ok := f.m[k]
	return ok
}

// str reads an optional string field.
func (f objFields) str(k string) (string, bool) {
	v, ok := f.m[k]
	if !ok {
		return "", false
	}
	s, isStr := v.(string)
	if !isStr {
		f.errf(k, "must be a string, got %s", jsonTypeName(v))
		return "", false
	}
	return s, true
}

// integer reads an optional integer field within [lo, hi].
func (f objFields) integer(k string, lo, hi int64) (int64, bool) {
	v, ok := f.m[k]
	if !ok {
		return 0, false
	}
	n, isNum := v.(json.Number)
	if !isNum {
		f.errf(k, "must be an integer, got %s", jsonTypeName(v))
		return 0, false
	}
	fl, err := n.Float64()
	if err != nil || fl != float64(int64(fl)) {
		f.errf(k, "must be an integer, got %s", n)
		return 0, false
	}
	i := int64(fl)
	if i < lo || i > hi {
		f.errf(k, "must be between %d and %d, got %d", lo, hi, i)
		return 0, false
	}
	return i, true
}

// path reads an optional InputPath/OutputPath/ResultPath.
func (f objFields) path(k string) *dataPath {
	v, ok := f.m[k]
	if !ok {
		return nil
	}
	if v == nil {
		return &dataPath{null: true}
	}
	s, isStr := v.(string)
	if !isStr {
		f.errf(k, "must be a path string or null, got %s", jsonTypeName(v))
		return nil
	}
	rp, err := parseRefPath(s)
	if err != nil {
		f.errf(k, "%v", err)
		return nil
	}
	if rp.context {
		f.errf(k, "%q: the context object ($$) cannot be used here", s)
		return nil
	}
	if len(rp.segs) == 0 {
		return nil // "$" is the default
	}
	return &dataPath{path: rp}
}

// template reads an optional Parameters/ResultSelector object.
func (f objFields) template(k string) *tmpl {
	v, ok := f.m[k]
	if !ok {
		return nil
	}
	if _, isObj := v.(map[string]any); !isObj {
		f.errf(k, "must be an object, got %s", jsonTypeName(v))
		return nil
	}
	t, err := compileTemplate(v, f.field(k))
	if err != nil {
		f.p.fieldErr(f.state, err)
		return nil
	}
	return t
}

// unknown reports fields outside allowed.
func (f objFields) unknown(allowed []string, what string) {
	keys := make([]string, 0, len(f.m))
	for k := range f.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !slices.Contains(allowed, k) {
			f.errf(k, "unknown field in %s", what)
		}
	}
}

// object reads an optional object field as fields of their own.
func (f objFields) object(k string) (objFields, bool) {
	v, ok := f.m[k]
	if !ok {
		return objFields{}, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		f.errf(k, "must be an object, got %s", jsonTypeName(v))
		return objFields{}, false
	}
	return objFields{p: f.p, state: f.state, pre: f.field(k) + ".", m: m}, true
}

// refPath reads an optional reference path field (ItemsPath,
// MaxConcurrencyPath, ...), which may read the context object.
func (f objFields) refPath(k string) *refPath {
	s, ok := f.str(k)
	if !ok {
		return nil
	}
	rp, err := parseRefPath(s)
	if err != nil {
		f.errf(k, "%v", err)
		return nil
	}
	return rp
}

// number reads an optional number field within [lo, hi].
func (f objFields) number(k string, lo, hi float64) (float64, bool) {
	v, ok := f.m[k]
	if !ok {
		return 0, false
	}
	n, isNum := numberValue(v)
	if !isNum || n < lo || n > hi {
		f.errf(k, "must be a number between %g and %g, got %s", lo, hi, rawJSON(v))
		return 0, false
	}
	return n, true
}

// exclusive reports a pair of fields given together (a value and its
// ...Path form, ItemSelector and Parameters, ...).
func (f objFields) exclusive(a, b string) {
	if f.has(a) && f.has(b) {
		f.errf(b, "give %s or %s, not both", a, b)
	}
}
