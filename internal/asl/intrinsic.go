package asl

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The intrinsic functions this executor implements, with their arity
// (-1: variadic, checked by the function).
var intrinsicArity = map[string]int{
	"States.Format":       -1,
	"States.StringToJson": 1,
	"States.JsonToString": 1,
	"States.Array":        -1,
	"States.JsonMerge":    3,
	"States.MathAdd":      2,
	"States.UUID":         0,
	"States.ArrayLength":  1,
}

// maxIntrinsicDepth is the nesting limit AWS enforces.
const maxIntrinsicDepth = 10

// icall is a parsed intrinsic function invocation.
type icall struct {
	name string
	args []iarg
}

type iargKind int

const (
	argLiteral iargKind = iota
	argPath
	argCall
)

// iarg is one argument: a literal, a path into the input or context, or
// a nested call.
type iarg struct {
	kind iargKind
	lit  any
	// format holds a string literal split at its unescaped "{}"
	// placeholders, so that an escaped \{\} is not a placeholder.
	format []string
	path   *refPath
	call   *icall
}

// parseIntrinsic parses "States.Name(arg, ...)" and checks the function
// is supported and its arguments plausible, so mistakes surface at load.
func parseIntrinsic(s string) (*icall, error) {
	p := &iparser{src: s}
	c, err := p.call(1)
	if err != nil {
		return nil, fmt.Errorf("intrinsic %s: %w", s, err)
	}
	p.space()
	if p.pos != len(p.src) {
		return nil, fmt.Errorf("intrinsic %s: unexpected %q after the closing parenthesis", s, p.src[p.pos:])
	}
	return c, nil
}

type iparser struct {
	src string
	pos int
}

func (p *iparser) space() {
	for p.pos < len(p.src) && (p.src[p.pos] == ' ' || p.src[p.pos] == '\t' || p.src[p.pos] == '\n' || p.src[p.pos] == '\r') {
		p.pos++
	}
}

func (p *iparser) call(depth int) (*icall, error) {
	if depth > maxIntrinsicDepth {
		return nil, fmt.Errorf("more than %d nested intrinsic functions", maxIntrinsicDepth)
	}
	open := strings.IndexByte(p.src[p.pos:], '(')
	if open < 0 {
		return nil, fmt.Errorf("missing ( after the function name")
	}
	name := strings.TrimSpace(p.src[p.pos : p.pos+open])
	arity, ok := intrinsicArity[name]
	if !ok {
		return nil, fmt.Errorf("unsupported intrinsic function %q (supported: %s)", name, supportedIntrinsics())
	}
	p.pos += open + 1
	c := &icall{name: name}
	p.space()
	if p.pos < len(p.src) && p.src[p.pos] == ')' {
		p.pos++
	} else {
		for {
			a, err := p.arg(depth)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, a)
			p.space()
			if p.pos >= len(p.src) {
				return nil, fmt.Errorf("missing ) to close %s", name)
			}
			if p.src[p.pos] == ')' {
				p.pos++
				break
			}
			if p.src[p.pos] != ',' {
				return nil, fmt.Errorf("expected , or ) in %s, found %q", name, p.src[p.pos])
			}
			p.pos++
		}
	}
	if arity >= 0 && len(c.args) != arity {
		return nil, fmt.Errorf("%s takes %d argument(s), got %d", name, arity, len(c.args))
	}
	return c, c.check()
}

// check validates what can be known before run time.
func (c *icall) check() error {
	switch c.name {
	case "States.Format":
		if len(c.args) == 0 {
			return fmt.Errorf("States.Format needs a template argument")
		}
		t := c.args[0]
		if t.kind == argLiteral {
			if t.format == nil {
				return fmt.Errorf("States.Format template must be a string, got %s", jsonTypeName(t.lit))
			}
			if n := len(t.format) - 1; n != len(c.args)-1 {
				return fmt.Errorf("States.Format template has %d {} placeholder(s) but %d value argument(s)", n, len(c.args)-1)
			}
		}
	case "States.JsonMerge":
		if a := c.args[2]; a.kind == argLiteral && a.lit != false {
			return fmt.Errorf("States.JsonMerge third argument must be false (only shallow merge is supported, as on AWS)")
		}
	case "States.MathAdd":
		for _, a := range c.args {
			if a.kind == argLiteral {
				if _, ok := a.lit.(json.Number); !ok {
					return fmt.Errorf("States.MathAdd arguments must be numbers, got %s", jsonTypeName(a.lit))
				}
			}
		}
	}
	return nil
}

func (p *iparser) arg(depth int) (iarg, error) {
	p.space()
	if p.pos >= len(p.src) {
		return iarg{}, fmt.Errorf("missing argument")
	}
	rest := p.src[p.pos:]
	switch {
	case rest[0] == '\'':
		return p.stringLit()
	case rest[0] == '$':
		return p.pathArg()
	case strings.HasPrefix(rest, "States."):
		c, err := p.call(depth + 1)
		if err != nil {
			return iarg{}, err
		}
		return iarg{kind: argCall, call: c}, nil
	}
	end := strings.IndexAny(rest, ",) \t\r\n")
	if end < 0 {
		end = len(rest)
	}
	tok := rest[:end]
	p.pos += end
	switch tok {
	case "true":
		return iarg{kind: argLiteral, lit: true}, nil
	case "false":
		return iarg{kind: argLiteral, lit: false}, nil
	case "null":
		return iarg{kind: argLiteral, lit: nil}, nil
	}
	if _, err := strconv.ParseFloat(tok, 64); err != nil || !isJSONNumber(tok) {
		return iarg{}, fmt.Errorf("argument %q is not a 'string', number, true, false, null, path or intrinsic function", tok)
	}
	return iarg{kind: argLiteral, lit: json.Number(tok)}, nil
}

// isJSONNumber reports whether s is a number in JSON syntax.
func isJSONNumber(s string) bool {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return false
	}
	_, ok := v.(float64)
	return ok
}

// stringLit parses a '...' literal with the intrinsic escapes \' \{ \}
// and \\; any other backslash is an error, as on AWS.
func (p *iparser) stringLit() (iarg, error) {
	p.pos++ // opening quote
	var cur strings.Builder
	var pieces []string
	for p.pos < len(p.src) {
		ch := p.src[p.pos]
		switch {
		case ch == '\\':
			if p.pos+1 >= len(p.src) {
				return iarg{}, fmt.Errorf("open escape \\ at the end of a string literal")
			}
			next := p.src[p.pos+1]
			if !strings.ContainsRune(`'{}\`, rune(next)) {
				return iarg{}, fmt.Errorf("invalid escape \\%c in a string literal (only \\' \\{ \\} \\\\ are allowed)", next)
			}
			cur.WriteByte(next)
			p.pos += 2
		case ch == '\'':
			p.pos++
			pieces = append(pieces, cur.String())
			return iarg{kind: argLiteral, lit: strings.Join(pieces, "{}"), format: pieces}, nil
		case ch == '{' && p.pos+1 < len(p.src) && p.src[p.pos+1] == '}':
			pieces = append(pieces, cur.String())
			cur.Reset()
			p.pos += 2
		default:
			cur.WriteByte(ch)
			p.pos++
		}
	}
	return iarg{}, fmt.Errorf("unterminated string literal")
}

// pathArg reads a path up to the next top-level , or ), skipping over
// bracketed field names that may contain those characters.
func (p *iparser) pathArg() (iarg, error) {
	start := p.pos
	var quote byte
	inBracket := false
loop:
	for ; p.pos < len(p.src); p.pos++ {
		ch := p.src[p.pos]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case inBracket:
			switch ch {
			case '\'', '"':
				quote = ch
			case ']':
				inBracket = false
			}
		case ch == '[':
			inBracket = true
		case ch == ',' || ch == ')':
			break loop
		}
	}
	text := strings.TrimSpace(p.src[start:p.pos])
	rp, err := parseRefPath(text)
	if err != nil {
		return iarg{}, err
	}
	return iarg{kind: argPath, path: rp}, nil
}

func supportedIntrinsics() string {
	return "States.Format, States.StringToJson, States.JsonToString, States.Array, States.JsonMerge, States.MathAdd, States.UUID, States.ArrayLength"
}

// usesTaskToken reports whether the call reads $$.Task.Token anywhere.
func (c *icall) usesTaskToken() bool {
	for _, a := range c.args {
		if (a.kind == argPath && a.path.isTaskToken()) || (a.kind == argCall && a.call.usesTaskToken()) {
			return true
		}
	}
	return false
}

// evalEnv is what templates and intrinsics evaluate against.
type evalEnv struct {
	input   any
	context any
	uuid    func() (string, error)
}

func (c *icall) eval(env *evalEnv, field string) (any, *stateError) {
	vals := make([]any, len(c.args))
	for i, a := range c.args {
		switch a.kind {
		case argLiteral:
			vals[i] = a.lit
		case argPath:
			v, ok := a.path.get(env.input, env.context)
			if !ok {
				return nil, runtimeError("The JsonPath argument '%s' of %s for the field '%s' could not be found in the %s",
					a.path.text, c.name, field, where(a.path, env))
			}
			vals[i] = v
		case argCall:
			v, err := a.call.eval(env, field)
			if err != nil {
				return nil, err
			}
			vals[i] = v
		}
	}
	switch c.name {
	case "States.Format":
		return formatIntrinsic(c.args[0], vals)
	case "States.StringToJson":
		s, ok := vals[0].(string)
		if !ok {
			return nil, intrinsicError("States.StringToJson argument must be a string, got %s", jsonTypeName(vals[0]))
		}
		v, err := parseJSON([]byte(s))
		if err != nil {
			return nil, intrinsicError("States.StringToJson: %q is not valid JSON: %v", s, err)
		}
		return v, nil
	case "States.JsonToString":
		b, err := toJSON(vals[0])
		if err != nil {
			return nil, intrinsicError("States.JsonToString: %v", err)
		}
		return string(b), nil
	case "States.Array":
		return append([]any{}, vals...), nil
	case "States.JsonMerge":
		a, aok := vals[0].(map[string]any)
		b, bok := vals[1].(map[string]any)
		if !aok || !bok {
			return nil, intrinsicError("States.JsonMerge arguments must be objects, got %s and %s", jsonTypeName(vals[0]), jsonTypeName(vals[1]))
		}
		if vals[2] != false {
			return nil, intrinsicError("States.JsonMerge third argument must be false (deep merge is not supported), got %s", rawJSON(vals[2]))
		}
		out := make(map[string]any, len(a)+len(b))
		for k, v := range a {
			out[k] = v
		}
		for k, v := range b {
			out[k] = v
		}
		return out, nil
	case "States.MathAdd":
		var sum int64
		for _, v := range vals {
			f, ok := numberValue(v)
			if !ok {
				return nil, intrinsicError("States.MathAdd arguments must be numbers, got %s", jsonTypeName(v))
			}
			r := math.Round(f)
			if r < math.MinInt32 || r > math.MaxInt32 {
				return nil, intrinsicError("States.MathAdd argument %v is outside the integer range [-2147483648, 2147483647]", v)
			}
			sum += int64(r)
		}
		return json.Number(strconv.FormatInt(sum, 10)), nil
	case "States.UUID":
		u, err := env.uuid()
		if err != nil {
			return nil, intrinsicError("States.UUID: %v", err)
		}
		return u, nil
	case "States.ArrayLength":
		arr, ok := vals[0].([]any)
		if !ok {
			return nil, intrinsicError("States.ArrayLength argument must be an array, got %s", jsonTypeName(vals[0]))
		}
		return json.Number(strconv.Itoa(len(arr))), nil
	}
	return nil, intrinsicError("unsupported intrinsic function %s", c.name)
}

// formatIntrinsic implements States.Format. A literal template keeps its
// escaped braces literal; a template read from a path has no escapes.
func formatIntrinsic(tmpl iarg, vals []any) (any, *stateError) {
	pieces := tmpl.format
	if tmpl.kind != argLiteral {
		s, ok := vals[0].(string)
		if !ok {
			return nil, intrinsicError("States.Format template must be a string, got %s", jsonTypeName(vals[0]))
		}
		pieces = strings.Split(s, "{}")
	}
	args := vals[1:]
	if len(pieces)-1 != len(args) {
		return nil, intrinsicError("States.Format template has %d {} placeholder(s) but %d value argument(s)", len(pieces)-1, len(args))
	}
	var b strings.Builder
	for i, piece := range pieces {
		b.WriteString(piece)
		if i < len(args) {
			switch v := args[i].(type) {
			case string:
				b.WriteString(v)
			case json.Number:
				b.WriteString(v.String())
			case bool:
				b.WriteString(strconv.FormatBool(v))
			case nil:
				b.WriteString("null")
			default:
				b.Write(rawJSON(v))
			}
		}
	}
	return b.String(), nil
}

func where(p *refPath, env *evalEnv) string {
	if p.context {
		return "context object"
	}
	return fmt.Sprintf("input '%s'", rawJSON(env.input))
}
