package asl

import (
	"fmt"
	"sort"
	"strings"
)

// tmpl is a compiled payload template (Parameters, ResultSelector): JSON
// whose object keys ending in ".$" take their value from a path, a
// context path or an intrinsic function.
type tmpl struct {
	kind   tmplKind
	lit    any
	fields []tmplField
	items  []*tmpl
	path   *refPath
	call   *icall
	src    string // the path or intrinsic text
}

type tmplKind int

const (
	tLiteral tmplKind = iota
	tObject
	tArray
	tPath
	tCall
)

type tmplField struct {
	key    string // output key, without ".$"
	srcKey string // key as written, for messages
	val    *tmpl
}

// compileTemplate compiles v, naming the offending field (dotted from
// field) in errors.
func compileTemplate(v any, field string) (*tmpl, error) {
	switch x := v.(type) {
	case map[string]any:
		t := &tmpl{kind: tObject}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		seen := map[string]string{}
		for _, k := range keys {
			sub := field + "." + k
			out := k
			var val *tmpl
			if strings.HasSuffix(k, ".$") {
				out = strings.TrimSuffix(k, ".$")
				s, ok := x[k].(string)
				if !ok {
					return nil, fieldErr(sub, "a key ending in .$ needs a string path or intrinsic function, got %s", jsonTypeName(x[k]))
				}
				var err error
				if val, err = compileDynamic(s); err != nil {
					return nil, fieldErr(sub, "%v", err)
				}
			} else {
				var err error
				if val, err = compileTemplate(x[k], sub); err != nil {
					return nil, err
				}
			}
			if prev, dup := seen[out]; dup {
				return nil, fieldErr(sub, "duplicates %s.%s after removing .$", field, prev)
			}
			seen[out] = k
			t.fields = append(t.fields, tmplField{key: out, srcKey: k, val: val})
		}
		return t, nil
	case []any:
		t := &tmpl{kind: tArray}
		for i, item := range x {
			it, err := compileTemplate(item, fmt.Sprintf("%s[%d]", field, i))
			if err != nil {
				return nil, err
			}
			t.items = append(t.items, it)
		}
		return t, nil
	default:
		return &tmpl{kind: tLiteral, lit: v}, nil
	}
}

// compileDynamic compiles the value of a ".$" key.
func compileDynamic(s string) (*tmpl, error) {
	switch {
	case strings.HasPrefix(s, "$"):
		p, err := parseRefPath(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{kind: tPath, path: p, src: s}, nil
	case strings.HasPrefix(s, "States."):
		c, err := parseIntrinsic(s)
		if err != nil {
			return nil, err
		}
		return &tmpl{kind: tCall, call: c, src: s}, nil
	default:
		return nil, fmt.Errorf("%q is neither a path ($..., $$...) nor an intrinsic function (States....)", s)
	}
}

// usesTaskToken reports whether the template reads $$.Task.Token.
func (t *tmpl) usesTaskToken() bool {
	switch t.kind {
	case tPath:
		return t.path.isTaskToken()
	case tCall:
		return t.call.usesTaskToken()
	case tObject:
		for _, f := range t.fields {
			if f.val.usesTaskToken() {
				return true
			}
		}
	case tArray:
		for _, it := range t.items {
			if it.usesTaskToken() {
				return true
			}
		}
	}
	return false
}

// eval builds the payload. A path that selects nothing is a
// States.Runtime error, as on AWS.
func (t *tmpl) eval(env *evalEnv, field string) (any, *stateError) {
	switch t.kind {
	case tObject:
		out := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			v, err := f.val.eval(env, f.srcKey)
			if err != nil {
				return nil, err
			}
			out[f.key] = v
		}
		return out, nil
	case tArray:
		out := make([]any, len(t.items))
		for i, it := range t.items {
			v, err := it.eval(env, field)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case tPath:
		v, ok := t.path.get(env.input, env.context)
		if !ok {
			return nil, runtimeError("The JSONPath '%s' specified for the field '%s' could not be found in the %s",
				t.src, field, where(t.path, env))
		}
		return v, nil
	case tCall:
		return t.call.eval(env, field)
	default:
		return t.lit, nil
	}
}
