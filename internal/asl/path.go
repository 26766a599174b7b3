package asl

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// A refPath is an ASL reference path: "$", "$.a.b", "$.a[0]", "$['a b']",
// or the same rooted at the context object ("$$.Execution.Input"). It
// identifies at most one node, which is what InputPath, OutputPath,
// ResultPath and Choice variables require; wildcards, filters, slices
// and recursive descent are rejected when the definition is loaded.
type refPath struct {
	text    string
	context bool // rooted at $$ (the context object) instead of $
	segs    []pathSeg
}

type pathSeg struct {
	key   string
	index int
	isIdx bool
}

// parseRefPath parses s, explaining what is wrong when it is not a
// reference path.
func parseRefPath(s string) (*refPath, error) {
	p := &refPath{text: s}
	var rest string
	switch {
	case strings.HasPrefix(s, "$$"):
		p.context = true
		rest = s[2:]
	case strings.HasPrefix(s, "$"):
		rest = s[1:]
	default:
		return nil, fmt.Errorf("path %q must start with $ or $$", s)
	}
	for rest != "" {
		switch rest[0] {
		case '.':
			rest = rest[1:]
			i := strings.IndexAny(rest, ".[")
			if i < 0 {
				i = len(rest)
			}
			name := rest[:i]
			if name == "" {
				return nil, fmt.Errorf("path %q: empty field name (recursive descent \"..\" is not a reference path)", s)
			}
			if j := strings.IndexAny(name, "*@?()]'\",: \t\r\n"); j >= 0 {
				return nil, fmt.Errorf("path %q: character %q is not allowed in a reference path field name", s, name[j])
			}
			p.segs = append(p.segs, pathSeg{key: name})
			rest = rest[i:]
		case '[':
			if len(rest) > 1 && (rest[1] == '\'' || rest[1] == '"') {
				q := rest[1]
				end := strings.IndexByte(rest[2:], q)
				if end < 0 || len(rest) < end+4 || rest[2+end+1] != ']' {
					return nil, fmt.Errorf("path %q: unterminated bracket field name", s)
				}
				p.segs = append(p.segs, pathSeg{key: rest[2 : 2+end]})
				rest = rest[2+end+2:]
				continue
			}
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return nil, fmt.Errorf("path %q: missing ]", s)
			}
			inner := rest[1:end]
			n, err := strconv.Atoi(inner)
			if err != nil || n < 0 || strings.HasPrefix(inner, "+") {
				return nil, fmt.Errorf("path %q: [%s] is not a reference path subscript (only [N] and ['name'] are)", s, inner)
			}
			p.segs = append(p.segs, pathSeg{index: n, isIdx: true})
			rest = rest[end+1:]
		default:
			return nil, fmt.Errorf("path %q: unexpected %q", s, rest[0])
		}
	}
	return p, nil
}

// isTaskToken reports whether the path is $$.Task.Token.
func (p *refPath) isTaskToken() bool {
	return p.context && len(p.segs) == 2 && !p.segs[0].isIdx && p.segs[0].key == "Task" &&
		!p.segs[1].isIdx && p.segs[1].key == "Token"
}

// get selects the node the path names from input (or from the context
// object for $$ paths); ok is false when it does not exist.
func (p *refPath) get(input, contextObj any) (any, bool) {
	cur := input
	if p.context {
		cur = contextObj
	}
	for _, s := range p.segs {
		if s.isIdx {
			arr, ok := cur.([]any)
			if !ok || s.index >= len(arr) {
				return nil, false
			}
			cur = arr[s.index]
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		v, ok := m[s.key]
		if !ok {
			return nil, false
		}
		cur = v
	}
	return cur, true
}

// set returns a copy of root with value placed at the path, creating
// missing intermediate objects as ResultPath does. It fails when an
// existing node on the way is not a container of the right kind.
func (p *refPath) set(root, value any) (any, error) {
	return setAt(root, p.segs, value)
}

func setAt(cur any, segs []pathSeg, value any) (any, error) {
	if len(segs) == 0 {
		return value, nil
	}
	s := segs[0]
	if s.isIdx {
		arr, ok := cur.([]any)
		if !ok {
			return nil, fmt.Errorf("cannot index %s with [%d]", jsonTypeName(cur), s.index)
		}
		if s.index >= len(arr) {
			return nil, fmt.Errorf("index [%d] is out of range for an array of %d", s.index, len(arr))
		}
		v, err := setAt(arr[s.index], segs[1:], value)
		if err != nil {
			return nil, err
		}
		cp := slices.Clone(arr)
		cp[s.index] = v
		return cp, nil
	}
	m, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("cannot set field %q on %s", s.key, jsonTypeName(cur))
	}
	child, exists := m[s.key]
	if !exists {
		child = map[string]any{}
	}
	v, err := setAt(child, segs[1:], value)
	if err != nil {
		return nil, err
	}
	cp := make(map[string]any, len(m)+1)
	for k, x := range m {
		cp[k] = x
	}
	cp[s.key] = v
	return cp, nil
}

// dataPath is an optional InputPath/OutputPath/ResultPath: absent means
// "$", JSON null has its own meaning per field.
type dataPath struct {
	null bool
	path *refPath
}

// apply selects the effective input or output: null yields {} (AWS
// passes an empty object), a missing node is a States.Runtime error.
func (d *dataPath) apply(v any, field string) (any, *stateError) {
	if d == nil {
		return v, nil
	}
	if d.null {
		return map[string]any{}, nil
	}
	out, ok := d.path.get(v, nil)
	if !ok {
		return nil, &stateError{Name: ErrorRuntime, Cause: fmt.Sprintf(
			"Invalid path '%s' for %s: no node at that path in the input '%s'", d.path.text, field, rawJSON(v))}
	}
	return out, nil
}

// merge applies a ResultPath: the result replaces the raw input ("$"),
// is discarded (null), or is placed inside a copy of the raw input.
func (d *dataPath) merge(rawInput, result any) (any, *stateError) {
	if d == nil {
		return result, nil
	}
	if d.null {
		return rawInput, nil
	}
	out, err := d.path.set(rawInput, result)
	if err != nil {
		return nil, &stateError{Name: ErrorResultPathMatchFailure, Cause: fmt.Sprintf(
			"Unable to apply ResultPath '%s' to input '%s': %v", d.path.text, rawJSON(rawInput), err)}
	}
	return out, nil
}
