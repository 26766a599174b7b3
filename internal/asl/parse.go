package asl

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

var placeholderRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

// Parse loads a definition the way SAM deploys one: every ${Name}
// placeholder is first replaced, as raw text, by substitutions[Name]
// (DefinitionSubstitutions); a placeholder with no value is an error.
// The result is then validated against the subset this executor runs
// faithfully; anything outside it (Parallel states, JSONata,
// variables, unknown fields or Choice operators, unsupported intrinsics,
// Map fields such as ItemBatcher, dangling Next, unreachable states,
// missing terminal states) is rejected with DefinitionErrors naming the
// state and field.
func Parse(def []byte, substitutions map[string]string) (*Machine, error) {
	text, err := substitute(string(def), substitutions)
	if err != nil {
		return nil, err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(text)); err != nil {
		return nil, &DefinitionError{Msg: fmt.Sprintf("definition is not valid JSON: %v", err)}
	}
	doc, err := parseJSON(compact.Bytes())
	if err != nil {
		return nil, &DefinitionError{Msg: fmt.Sprintf("definition is not valid JSON: %v", err)}
	}
	top, ok := doc.(map[string]any)
	if !ok {
		return nil, &DefinitionError{Msg: fmt.Sprintf("definition must be a JSON object, got %s", jsonTypeName(doc))}
	}
	sum := sha256.Sum256(compact.Bytes())
	m := &Machine{digest: hex.EncodeToString(sum[:])}
	p := &parser{def: compact.Bytes(), names: map[string]bool{}}
	p.parseTop(m, top)
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	m.all = p.all
	return m, nil
}

// substitute applies DefinitionSubstitutions.
func substitute(def string, subs map[string]string) (string, error) {
	var missing []string
	out := placeholderRE.ReplaceAllStringFunc(def, func(ph string) string {
		name := ph[2 : len(ph)-1]
		if v, ok := subs[name]; ok {
			return v
		}
		if !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
		return ph
	})
	if len(missing) > 0 {
		return "", &DefinitionError{Msg: fmt.Sprintf("no substitution for placeholder(s) ${%s}", strings.Join(missing, "}, ${"))}
	}
	return out, nil
}

// keyOrder reads, in document order (maps lose it), the keys of the
// object found by following path from the top of def: ["States"] for the
// definition's states, [..., "M", "ItemProcessor", "States"] for those of
// the Map state M.
func keyOrder(def []byte, path []string) []string {
	dec := json.NewDecoder(bytes.NewReader(def))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for depth := 0; ; {
		if !dec.More() {
			return nil
		}
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		if k != path[depth] {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil
		}
		if depth++; depth < len(path) {
			continue
		}
		var names []string
		for dec.More() {
			name, err := dec.Token()
			if err != nil {
				return names
			}
			s, _ := name.(string)
			names = append(names, s)
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return names
			}
		}
		return names
	}
}

// parser accumulates DefinitionErrors so one Parse reports them all.
type parser struct {
	errs     []error
	def      []byte          // the compact definition, for key order
	names    map[string]bool // every state name so far, nested ones too
	all      []*state        // every state parsed, nested ones too
	mapDepth int             // how many Map processors enclose the state being parsed
}

// fieldErr records an error from a compiler that locates its own field.
func (p *parser) fieldErr(state string, err error) {
	var fe *fieldError
	if errors.As(err, &fe) {
		p.errf(state, fe.field, "%s", fe.msg)
		return
	}
	p.errf(state, "", "%v", err)
}

func (p *parser) errf(state, field, format string, args ...any) {
	p.errs = append(p.errs, &DefinitionError{State: state, Field: field, Msg: fmt.Sprintf(format, args...)})
}

var topFields = []string{"Comment", "StartAt", "States", "TimeoutSeconds", "Version", "QueryLanguage"}

// stateFields are the fields each supported state type accepts besides
// Type, Comment and QueryLanguage.
var stateFields = map[string][]string{
	typePass:    {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "Result"},
	typeTask:    {"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Resource", "Retry", "Catch", "TimeoutSeconds", "HeartbeatSeconds"},
	typeChoice:  {"InputPath", "OutputPath", "Choices", "Default"},
	typeWait:    {"Next", "End", "InputPath", "OutputPath", "Seconds", "SecondsPath", "Timestamp", "TimestampPath"},
	typeSucceed: {"InputPath", "OutputPath"},
	typeFail:    {"Error", "ErrorPath", "Cause", "CausePath"},
	typeMap: append([]string{"Next", "End", "InputPath", "OutputPath", "ResultPath", "Parameters", "ResultSelector", "Retry", "Catch"},
		mapFields...),
}

// unsupportedFields are real ASL fields outside this executor's subset.
var unsupportedFields = map[string]string{
	"Assign":               "workflow variables (Assign) are not supported",
	"Arguments":            "Arguments belongs to JSONata states; only JSONPath is supported",
	"Output":               "Output belongs to JSONata states; only JSONPath is supported",
	"Credentials":          "cross-account Credentials are not supported",
	"TimeoutSecondsPath":   "TimeoutSecondsPath is not supported; use TimeoutSeconds",
	"HeartbeatSecondsPath": "HeartbeatSecondsPath is not supported; use HeartbeatSeconds",
	"ItemBatcher":          "ItemBatcher is not supported by this executor; give each item its own iteration",
	"Items":                "Items belongs to JSONata Map states; use ItemsPath",
	"ItemsPointer":         "ItemsPointer is not supported by this executor",
}

func (p *parser) parseTop(m *Machine, top map[string]any) {
	f := objFields{p: p, m: top}
	for _, k := range sortedKeys(top) {
		if !slices.Contains(topFields, k) {
			f.errf(k, "unknown top-level field")
		}
	}
	m.comment, _ = f.str("Comment")
	if ql, ok := f.str("QueryLanguage"); ok && ql != "JSONPath" {
		f.errf("QueryLanguage", "%q is not supported; this executor runs JSONPath definitions only", ql)
	}
	if v, ok := f.str("Version"); ok && v != "1.0" {
		f.errf("Version", "only version \"1.0\" exists, got %q", v)
	}
	if n, ok := f.integer("TimeoutSeconds", 1, 99999999); ok {
		m.timeoutSeconds = int(n)
	}
	if g := p.parseGraph(f, []string{"States"}, "a definition"); g != nil {
		m.graph = *g
	}
}

// parseGraph parses the StartAt and States of f's object (the definition,
// or a Map's ItemProcessor, which what names in messages); statesPath
// locates its States in the document.
func (p *parser) parseGraph(f objFields, statesPath []string, what string) *graph {
	g := &graph{states: map[string]*state{}}
	start, ok := f.str("StartAt")
	if !ok || start == "" {
		if !f.has("StartAt") {
			f.errf("StartAt", "missing: %s needs StartAt", what)
		} else if ok {
			f.errf("StartAt", "must name a state, not be empty")
		}
	}
	g.startAt = start
	raw, ok := f.m["States"].(map[string]any)
	if !ok || len(raw) == 0 {
		f.errf("States", "must be a non-empty object of states")
		return nil
	}
	// Definition order, falling back to sorted for names the scan missed.
	for _, name := range keyOrder(p.def, statesPath) {
		if _, ok := raw[name]; ok && !slices.Contains(g.order, name) {
			g.order = append(g.order, name)
		}
	}
	for _, name := range sortedKeys(raw) {
		if !slices.Contains(g.order, name) {
			g.order = append(g.order, name)
		}
	}
	nErrs := len(p.errs)
	for _, name := range g.order {
		if p.names[name] {
			// Step Functions names states across nested processors as one
			// namespace, and so do history events and the Observer here.
			p.errf(name, "", "state names must be unique in the whole definition, Map processors included")
			continue
		}
		p.names[name] = true
		if st := p.parseState(name, raw[name], statesPath); st != nil {
			g.states[name] = st
			p.all = append(p.all, st)
		}
	}
	if len(p.errs) > nErrs {
		return nil // references and reachability only make sense on valid states
	}
	if _, ok := g.states[g.startAt]; !ok {
		f.errf("StartAt", "names no state: %q", g.startAt)
		return nil
	}
	if !p.checkGraph(g) {
		return nil
	}
	return g
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// checkGraph reports transitions to states outside g (a processor's
// states cannot leave it) and states unreachable from StartAt.
func (p *parser) checkGraph(m *graph) bool {
	nErrs := len(p.errs)
	for _, name := range m.order {
		for _, s := range m.states[name].successors() {
			if _, ok := m.states[s[1]]; !ok {
				p.errf(name, s[0], "names no state: %q", s[1])
			}
		}
	}
	if len(p.errs) > nErrs {
		return false
	}
	seen := map[string]bool{m.startAt: true}
	queue := []string{m.startAt}
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, s := range m.states[cur].successors() {
			if !seen[s[1]] {
				seen[s[1]] = true
				queue = append(queue, s[1])
			}
		}
	}
	for _, name := range m.order {
		if !seen[name] {
			p.errf(name, "", "unreachable from StartAt %q", m.startAt)
		}
	}
	return len(p.errs) == nErrs
}

func (p *parser) parseState(name string, v any, statesPath []string) *state {
	if name == "" || len([]rune(name)) > 80 {
		p.errf(name, "", "state names must be 1 to 80 characters")
		return nil
	}
	obj, ok := v.(map[string]any)
	if !ok {
		p.errf(name, "", "a state must be an object, got %s", jsonTypeName(v))
		return nil
	}
	f := objFields{p: p, state: name, m: obj}
	typ, ok := f.str("Type")
	if !ok {
		if !f.has("Type") {
			f.errf("Type", "missing")
		}
		return nil
	}
	allowed, supported := stateFields[typ]
	if !supported {
		switch typ {
		case "Parallel":
			f.errf("Type", "%s states are not supported by this executor", typ)
		default:
			f.errf("Type", "unknown state type %q", typ)
		}
		return nil
	}
	nErrs := len(p.errs)
	for _, k := range sortedKeys(obj) {
		if k == "Type" || k == "Comment" || k == "QueryLanguage" || slices.Contains(allowed, k) {
			continue
		}
		if why, ok := unsupportedFields[k]; ok {
			f.errf(k, "%s", why)
			continue
		}
		valid := false
		for _, fs := range stateFields {
			valid = valid || slices.Contains(fs, k)
		}
		if valid {
			f.errf(k, "not allowed in a %s state", typ)
		} else {
			f.errf(k, "unknown field")
		}
	}
	if ql, ok := f.str("QueryLanguage"); ok && ql != "JSONPath" {
		f.errf("QueryLanguage", "%q is not supported; this executor runs JSONPath states only", ql)
	}
	f.str("Comment")

	st := &state{name: name, typ: typ}
	if slices.Contains(allowed, "Next") {
		next, hasNext := f.str("Next")
		end := false
		if e, has := obj["End"]; has {
			b, isBool := e.(bool)
			if !isBool {
				f.errf("End", "must be a boolean, got %s", jsonTypeName(e))
			}
			end = b
		}
		switch {
		case hasNext && end:
			f.errf("End", "a state cannot have both Next and End: true")
		case !hasNext && !end && !f.has("Next"):
			f.errf("Next", "a %s state needs Next or \"End\": true", typ)
		case hasNext && next == "":
			f.errf("Next", "must be a state name")
		}
		st.next = next
	}
	if slices.Contains(allowed, "InputPath") {
		st.inputPath = f.path("InputPath")
		st.outputPath = f.path("OutputPath")
	}
	if slices.Contains(allowed, "ResultPath") {
		st.resultPath = f.path("ResultPath")
	}
	if slices.Contains(allowed, "Parameters") {
		st.parameters = f.template("Parameters")
	}

	switch typ {
	case typePass:
		p.parsePass(f, st)
	case typeTask:
		p.parseTask(f, st)
	case typeChoice:
		p.parseChoice(f, st)
	case typeWait:
		p.parseWait(f, st)
	case typeFail:
		p.parseFail(f, st)
	case typeMap:
		p.parseMap(f, st, statesPath)
		p.checkMapContext(f, "ItemSelector", "Parameters")
	}
	if typ != typeMap {
		p.checkMapContext(f)
	}
	if len(p.errs) > nErrs {
		return nil
	}
	return st
}

func (p *parser) list(f objFields, k string) []objFields {
	v, ok := f.m[k]
	if !ok {
		return nil
	}
	arr, ok := v.([]any)
	if !ok {
		f.errf(k, "must be an array, got %s", jsonTypeName(v))
		return nil
	}
	var out []objFields
	for i, item := range arr {
		obj, ok := item.(map[string]any)
		if !ok {
			f.errf(fmt.Sprintf("%s[%d]", k, i), "must be an object, got %s", jsonTypeName(item))
			continue
		}
		out = append(out, objFields{p: p, state: f.state, pre: fmt.Sprintf("%s%s[%d].", f.pre, k, i), m: obj})
	}
	return out
}
