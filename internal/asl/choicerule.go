package asl

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf16"
)

// operand says what type a comparison operator's value must have.
type operand int

const (
	opString operand = iota
	opNumber
	opBool
	opTimestamp
	opTypeTest // IsNull, IsPresent, ...: value is a boolean
	opPattern  // StringMatches
)

// choiceOps lists every comparison operator of the JSONPath Choice
// language; each also has a "...Path" form except the type tests and
// StringMatches.
var choiceOps = map[string]operand{
	"StringEquals": opString, "StringLessThan": opString, "StringGreaterThan": opString,
	"StringLessThanEquals": opString, "StringGreaterThanEquals": opString,
	"NumericEquals": opNumber, "NumericLessThan": opNumber, "NumericGreaterThan": opNumber,
	"NumericLessThanEquals": opNumber, "NumericGreaterThanEquals": opNumber,
	"BooleanEquals":   opBool,
	"TimestampEquals": opTimestamp, "TimestampLessThan": opTimestamp, "TimestampGreaterThan": opTimestamp,
	"TimestampLessThanEquals": opTimestamp, "TimestampGreaterThanEquals": opTimestamp,
	"IsNull": opTypeTest, "IsPresent": opTypeTest, "IsNumeric": opTypeTest, "IsString": opTypeTest,
	"IsBoolean": opTypeTest, "IsTimestamp": opTypeTest,
	"StringMatches": opPattern,
}

// lookupOp resolves an operator name, including "...Path" forms.
func lookupOp(name string) (base string, kind operand, isPath, ok bool) {
	if k, found := choiceOps[name]; found {
		return name, k, false, true
	}
	if b, found := strings.CutSuffix(name, "Path"); found {
		if k, found := choiceOps[b]; found && k != opTypeTest && k != opPattern {
			return b, k, true, true
		}
	}
	return "", 0, false, false
}

// choiceRule is a compiled Choice rule: a boolean combination or a
// Variable comparison. Next is set on top-level rules only.
type choiceRule struct {
	and, or   []*choiceRule
	not       *choiceRule
	variable  *refPath
	op        string // base operator, without "Path"
	kind      operand
	value     any      // literal operand
	valuePath *refPath // operand of a ...Path operator
	next      string
}

// parseChoiceRule compiles one rule; field names it in errors
// ("Choices[0].And[1]").
func parseChoiceRule(v any, field string, top bool) (*choiceRule, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fieldErr(field, "a Choice rule must be an object, got %s", jsonTypeName(v))
	}
	r := &choiceRule{}
	if n, has := m["Next"]; has {
		if !top {
			return nil, fieldErr(field+".Next", "nested Choice rules (inside And, Or, Not) must not have Next")
		}
		s, ok := n.(string)
		if !ok || s == "" {
			return nil, fieldErr(field+".Next", "must be a state name")
		}
		r.next = s
	} else if top {
		return nil, fieldErr(field, "a top-level Choice rule needs Next")
	}
	var ops []string
	for k := range m {
		switch k {
		case "Next", "Comment", "Variable":
		case "And", "Or", "Not":
			ops = append(ops, k)
		default:
			if _, _, _, ok := lookupOp(k); !ok {
				return nil, fieldErr(field, "unknown Choice operator %q", k)
			}
			ops = append(ops, k)
		}
	}
	slices.Sort(ops)
	if len(ops) != 1 {
		if len(ops) == 0 {
			return nil, fieldErr(field, "a Choice rule needs one comparison operator or And/Or/Not")
		}
		return nil, fieldErr(field, "a Choice rule takes exactly one operator, got %s", strings.Join(ops, ", "))
	}
	op := ops[0]
	varRaw, hasVar := m["Variable"]
	switch op {
	case "And", "Or":
		if hasVar {
			return nil, fieldErr(field+".Variable", "not allowed next to %s", op)
		}
		list, ok := m[op].([]any)
		if !ok || len(list) == 0 {
			return nil, fieldErr(field+"."+op, "must be a non-empty array of Choice rules")
		}
		for i, sub := range list {
			c, err := parseChoiceRule(sub, fmt.Sprintf("%s.%s[%d]", field, op, i), false)
			if err != nil {
				return nil, err
			}
			if op == "And" {
				r.and = append(r.and, c)
			} else {
				r.or = append(r.or, c)
			}
		}
		return r, nil
	case "Not":
		if hasVar {
			return nil, fieldErr(field+".Variable", "not allowed next to Not")
		}
		c, err := parseChoiceRule(m["Not"], field+".Not", false)
		if err != nil {
			return nil, err
		}
		r.not = c
		return r, nil
	}
	vs, ok := varRaw.(string)
	if !hasVar || !ok {
		return nil, fieldErr(field+".Variable", "a comparison needs a Variable path")
	}
	p, err := parseRefPath(vs)
	if err != nil {
		return nil, fieldErr(field+".Variable", "%v", err)
	}
	r.variable = p
	base, kind, isPath, _ := lookupOp(op)
	r.op, r.kind = base, kind
	val := m[op]
	if isPath {
		s, ok := val.(string)
		if !ok {
			return nil, fieldErr(field+"."+op, "must be a path string, got %s", jsonTypeName(val))
		}
		if r.valuePath, err = parseRefPath(s); err != nil {
			return nil, fieldErr(field+"."+op, "%v", err)
		}
		return r, nil
	}
	want := map[operand]string{opString: "string", opPattern: "string", opNumber: "number", opBool: "boolean", opTypeTest: "boolean", opTimestamp: "string"}[kind]
	if got := jsonTypeName(val); got != want {
		return nil, fieldErr(field+"."+op, "must be a %s, got %s", want, got)
	}
	if kind == opTimestamp {
		if _, ok := parseTimestamp(val); !ok {
			return nil, fieldErr(field+"."+op, "%q is not an RFC 3339 timestamp", val)
		}
	}
	r.value = val
	return r, nil
}

// eval evaluates the rule against the Choice state's effective input.
// And and Or short-circuit, so the AWS idiom
// And[IsPresent $.x, NumericEquals $.x] never reads a missing $.x.
func (r *choiceRule) eval(env *evalEnv) (bool, *stateError) {
	switch {
	case r.and != nil:
		for _, c := range r.and {
			ok, err := c.eval(env)
			if err != nil || !ok {
				return false, err
			}
		}
		return true, nil
	case r.or != nil:
		for _, c := range r.or {
			ok, err := c.eval(env)
			if err != nil || ok {
				return ok, err
			}
		}
		return false, nil
	case r.not != nil:
		ok, err := r.not.eval(env)
		return !ok, err
	}
	v, present := r.variable.get(env.input, env.context)
	if r.op == "IsPresent" {
		return present == r.value.(bool), nil
	}
	if !present {
		return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.variable.text)
	}
	if r.kind == opTypeTest {
		return typeTest(r.op, v) == r.value.(bool), nil
	}
	operandValue := r.value
	if r.valuePath != nil {
		var ok bool
		if operandValue, ok = r.valuePath.get(env.input, env.context); !ok {
			return false, runtimeError("Invalid path '%s': The choice state's condition path references an invalid value.", r.valuePath.text)
		}
	}
	return compare(r.op, r.kind, v, operandValue), nil
}

func typeTest(op string, v any) bool {
	switch op {
	case "IsNull":
		return v == nil
	case "IsNumeric":
		_, ok := v.(json.Number)
		return ok
	case "IsString":
		_, ok := v.(string)
		return ok
	case "IsBoolean":
		_, ok := v.(bool)
		return ok
	case "IsTimestamp":
		_, ok := parseTimestamp(v)
		return ok
	}
	return false
}

// compare applies a comparison; a value of the wrong type never matches
// (false, not an error), as on AWS.
func compare(op string, kind operand, v, operand any) bool {
	var c int
	switch kind {
	case opString, opPattern:
		a, aok := v.(string)
		b, bok := operand.(string)
		if !aok || !bok {
			return false
		}
		if kind == opPattern {
			return wildcardMatch(b, a)
		}
		c = compareJavaStrings(a, b)
	case opNumber:
		a, aok := numberValue(v)
		b, bok := numberValue(operand)
		if !aok || !bok {
			return false
		}
		c = cmpFloat(a, b)
	case opBool:
		a, aok := v.(bool)
		b, bok := operand.(bool)
		return aok && bok && a == b
	case opTimestamp:
		a, aok := parseTimestamp(v)
		b, bok := parseTimestamp(operand)
		if !aok || !bok {
			return false
		}
		c = a.Compare(b)
	}
	switch {
	case strings.HasSuffix(op, "LessThanEquals"):
		return c <= 0
	case strings.HasSuffix(op, "GreaterThanEquals"):
		return c >= 0
	case strings.HasSuffix(op, "LessThan"):
		return c < 0
	case strings.HasSuffix(op, "GreaterThan"):
		return c > 0
	default: // ...Equals
		return c == 0
	}
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// compareJavaStrings orders strings by UTF-16 code units, like Java's
// String.compareTo, which the AWS docs name as the reference.
func compareJavaStrings(a, b string) int {
	return slices.Compare(utf16.Encode([]rune(a)), utf16.Encode([]rune(b)))
}

// parseTimestamp accepts the RFC 3339 profile Step Functions uses
// (uppercase T and Z).
func parseTimestamp(v any) (time.Time, bool) {
	s, ok := v.(string)
	if !ok || !strings.Contains(s, "T") {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// wildcardMatch implements StringMatches: * matches any run of
// characters, \* a literal star and \\ a literal backslash.
func wildcardMatch(pattern, s string) bool {
	type tok struct {
		star bool
		ch   rune
	}
	var toks []tok
	pr := []rune(pattern)
	for i := 0; i < len(pr); i++ {
		switch {
		case pr[i] == '\\' && i+1 < len(pr) && (pr[i+1] == '*' || pr[i+1] == '\\'):
			toks = append(toks, tok{ch: pr[i+1]})
			i++
		case pr[i] == '*':
			toks = append(toks, tok{star: true})
		default:
			toks = append(toks, tok{ch: pr[i]})
		}
	}
	sr := []rune(s)
	// Classic greedy match with backtracking to the last star.
	ti, si, starT, starS := 0, 0, -1, 0
	for si < len(sr) {
		switch {
		case ti < len(toks) && !toks[ti].star && toks[ti].ch == sr[si]:
			ti++
			si++
		case ti < len(toks) && toks[ti].star:
			starT, starS = ti, si
			ti++
		case starT >= 0:
			starS++
			ti, si = starT+1, starS
		default:
			return false
		}
	}
	for ti < len(toks) && toks[ti].star {
		ti++
	}
	return ti == len(toks)
}
