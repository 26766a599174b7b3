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
	"time"
)

// Machine is a parsed, validated state machine definition. It is
// immutable and safe to share between Runners and goroutines.
type Machine struct {
	comment        string
	startAt        string
	timeoutSeconds int
	states         map[string]*state
	order          []string // definition order, for listings and messages
	digest         string   // of the substituted definition, binds checkpoints
}

// StartAt returns the name of the first state.
func (m *Machine) StartAt() string { return m.startAt }

// Comment returns the definition's top-level Comment.
func (m *Machine) Comment() string { return m.comment }

// States returns the state names in definition order, so a CLI can list
// them or show progress against them.
func (m *Machine) States() []string { return slices.Clone(m.order) }

// StateType returns the Type of the named state ("" if there is none).
func (m *Machine) StateType(name string) string {
	if st, ok := m.states[name]; ok {
		return st.typ
	}
	return ""
}

// CheckHandlers reports every Task whose resource has no entry in h,
// joined into one error of *MissingHandlerError values. Resources only
// known at run time (Parameters "FunctionName.$") cannot be checked.
// Runner.Run calls it before starting, so wiring mistakes surface first.
func (m *Machine) CheckHandlers(h Handlers) error {
	var errs []error
	for _, name := range m.order {
		st := m.states[name]
		if st.typ != typeTask {
			continue
		}
		keys := st.res.keys()
		if st.res.kind == kindLambdaInvoke {
			if st.staticFunction == "" {
				continue
			}
			keys = functionKeys(st.staticFunction)
		}
		if _, ok := h.lookup(keys); !ok {
			errs = append(errs, &MissingHandlerError{State: name, Resource: st.res.arn, Keys: keys})
		}
	}
	return errors.Join(errs...)
}

const (
	typeTask    = "Task"
	typeChoice  = "Choice"
	typePass    = "Pass"
	typeWait    = "Wait"
	typeSucceed = "Succeed"
	typeFail    = "Fail"
)

// state is one compiled state; which fields are set depends on typ.
type state struct {
	name string
	typ  string
	next string // "" with end

	inputPath, outputPath, resultPath *dataPath
	parameters, resultSelector        *tmpl
	result                            any
	hasResult                         bool

	// Task
	res              resource
	staticFunction   string // lambda:invoke FunctionName, when not computed
	retry            []retrier
	catch            []catcher
	timeoutSeconds   int
	heartbeatSeconds int

	// Choice
	choices     []*choiceRule
	defaultNext string

	// Wait
	seconds       int64
	secondsPath   *refPath
	timestamp     time.Time
	timestampPath *refPath

	// Fail
	errorName, cause    string
	errorExpr, causeExp *tmpl // ErrorPath / CausePath: a path or intrinsic
}

// retrier is one Retry entry.
type retrier struct {
	errorEquals []string
	interval    float64 // seconds
	maxAttempts int
	backoffRate float64
	maxDelay    float64 // seconds, 0 = none
	jitterFull  bool
}

// catcher is one Catch entry.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *dataPath
}

func matchErrors(list []string, name string) bool {
	for _, p := range list {
		if errorMatches(p, name) {
			return true
		}
	}
	return false
}

var placeholderRE = regexp.MustCompile(`\$\{([^{}]*)\}`)

// Parse loads a definition the way SAM deploys one: every ${Name}
// placeholder is first replaced, as raw text, by substitutions[Name]
// (DefinitionSubstitutions); a placeholder with no value is an error.
// The result is then validated against the subset this executor runs
// faithfully; anything outside it (Map and Parallel states, JSONata,
// variables, unknown fields or Choice operators, unsupported intrinsics,
// dangling Next, unreachable states, missing terminal states) is rejected
// with DefinitionErrors naming the state and field.
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
	m := &Machine{states: map[string]*state{}, digest: hex.EncodeToString(sum[:])}
	p := &parser{}
	p.parseTop(m, top, stateOrder(compact.Bytes()))
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
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

// stateOrder reads the States keys in document order (maps lose it).
func stateOrder(def []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(def))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil
		}
		if k != "States" {
			var skip json.RawMessage
			if dec.Decode(&skip) != nil {
				return nil
			}
			continue
		}
		if t, err := dec.Token(); err != nil || t != json.Delim('{') {
			return nil
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
	return nil
}

// parser accumulates DefinitionErrors so one Parse reports them all.
type parser struct {
	errs []error
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
}

// unsupportedFields are real ASL fields outside this executor's subset.
var unsupportedFields = map[string]string{
	"Assign":               "workflow variables (Assign) are not supported",
	"Arguments":            "Arguments belongs to JSONata states; only JSONPath is supported",
	"Output":               "Output belongs to JSONata states; only JSONPath is supported",
	"Credentials":          "cross-account Credentials are not supported",
	"TimeoutSecondsPath":   "TimeoutSecondsPath is not supported; use TimeoutSeconds",
	"HeartbeatSecondsPath": "HeartbeatSecondsPath is not supported; use HeartbeatSeconds",
}

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

func (p *parser) parseTop(m *Machine, top map[string]any, order []string) {
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
	start, ok := f.str("StartAt")
	if !ok || start == "" {
		if !f.has("StartAt") {
			f.errf("StartAt", "missing: a definition needs StartAt")
		} else if ok {
			f.errf("StartAt", "must name a state, not be empty")
		}
	}
	m.startAt = start
	raw, ok := top["States"].(map[string]any)
	if !ok || len(raw) == 0 {
		f.errf("States", "must be a non-empty object of states")
		return
	}
	// Definition order, falling back to sorted for names the scan missed.
	for _, name := range order {
		if _, ok := raw[name]; ok && !slices.Contains(m.order, name) {
			m.order = append(m.order, name)
		}
	}
	for _, name := range sortedKeys(raw) {
		if !slices.Contains(m.order, name) {
			m.order = append(m.order, name)
		}
	}
	for _, name := range m.order {
		if st := p.parseState(name, raw[name]); st != nil {
			m.states[name] = st
		}
	}
	if len(p.errs) > 0 {
		return // references and reachability only make sense on valid states
	}
	if _, ok := m.states[m.startAt]; !ok {
		f.errf("StartAt", "names no state: %q", m.startAt)
		return
	}
	p.checkGraph(m)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// successors lists a state's outgoing transitions with the field that
// names each, for dangling-reference messages.
func (st *state) successors() [][2]string {
	var out [][2]string
	if st.next != "" {
		out = append(out, [2]string{"Next", st.next})
	}
	for i, c := range st.choices {
		out = append(out, [2]string{fmt.Sprintf("Choices[%d].Next", i), c.next})
	}
	if st.defaultNext != "" {
		out = append(out, [2]string{"Default", st.defaultNext})
	}
	for i, c := range st.catch {
		out = append(out, [2]string{fmt.Sprintf("Catch[%d].Next", i), c.next})
	}
	return out
}

func (p *parser) checkGraph(m *Machine) {
	for _, name := range m.order {
		for _, s := range m.states[name].successors() {
			if _, ok := m.states[s[1]]; !ok {
				p.errf(name, s[0], "names no state: %q", s[1])
			}
		}
	}
	if len(p.errs) > 0 {
		return
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
}

func (p *parser) parseState(name string, v any) *state {
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
		case "Map", "Parallel":
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
		st.result, st.hasResult = obj["Result"]
	case typeTask:
		p.parseTask(f, st)
	case typeChoice:
		p.parseChoice(f, st)
	case typeWait:
		p.parseWait(f, st)
	case typeFail:
		p.parseFail(f, st)
	}
	if len(p.errs) > nErrs {
		return nil
	}
	return st
}

var lambdaInvokeParams = []string{"FunctionName", "Payload", "InvocationType", "Qualifier", "ClientContext", "LogType"}

func (p *parser) parseTask(f objFields, st *state) {
	arn, ok := f.str("Resource")
	if !ok || arn == "" {
		if !f.has("Resource") || ok {
			f.errf("Resource", "a Task needs a Resource")
		}
		return
	}
	st.res = classifyResource(arn)
	st.resultSelector = f.template("ResultSelector")
	if n, ok := f.integer("TimeoutSeconds", 1, 99999999); ok {
		st.timeoutSeconds = int(n)
	}
	if n, ok := f.integer("HeartbeatSeconds", 1, 99999999); ok {
		st.heartbeatSeconds = int(n)
		if st.timeoutSeconds > 0 && st.heartbeatSeconds >= st.timeoutSeconds {
			f.errf("HeartbeatSeconds", "must be smaller than TimeoutSeconds (%d)", st.timeoutSeconds)
		}
	}
	params, _ := f.m["Parameters"].(map[string]any)
	if strings.Contains(arn, ".waitForTaskToken") && !st.res.callback {
		f.errf("Resource", "%q: .waitForTaskToken is only valid on a service integration (arn:aws:states:::service:action.waitForTaskToken)", arn)
	}
	if st.res.kind == kindLambdaInvoke {
		if params == nil {
			f.errf("Parameters", "%s needs Parameters with FunctionName", arn)
		} else {
			for _, k := range sortedKeys(params) {
				if !slices.Contains(lambdaInvokeParams, strings.TrimSuffix(k, ".$")) {
					f.errf("Parameters."+k, "not a lambda:invoke parameter (allowed: %s)", strings.Join(lambdaInvokeParams, ", "))
				}
			}
			fn, static := params["FunctionName"]
			_, dynamic := params["FunctionName.$"]
			switch {
			case static && dynamic:
				f.errf("Parameters.FunctionName", "give FunctionName or FunctionName.$, not both")
			case static:
				s, isStr := fn.(string)
				if !isStr || s == "" {
					f.errf("Parameters.FunctionName", "must be a non-empty string")
				}
				st.staticFunction = s
			case !dynamic:
				f.errf("Parameters.FunctionName", "%s needs a FunctionName", arn)
			}
		}
	}
	if st.parameters != nil {
		uses := st.parameters.usesTaskToken()
		switch {
		case st.res.callback && !uses:
			f.errf("Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
		case !st.res.callback && uses:
			f.errf("Parameters", "$$.Task.Token exists only in .waitForTaskToken tasks")
		}
	} else if st.res.callback {
		f.errf("Parameters", "a .waitForTaskToken task must pass $$.Task.Token in its Parameters")
	}
	st.retry = p.parseRetry(f)
	st.catch = p.parseCatch(f)
}

// errorEquals validates an ErrorEquals list.
func (p *parser) errorEquals(f objFields) []string {
	raw, ok := f.m["ErrorEquals"].([]any)
	if !ok || len(raw) == 0 {
		f.errf("ErrorEquals", "must be a non-empty array of error names")
		return nil
	}
	var out []string
	for i, v := range raw {
		s, ok := v.(string)
		if !ok || s == "" {
			f.errf(fmt.Sprintf("ErrorEquals[%d]", i), "must be a non-empty string")
			continue
		}
		if strings.HasPrefix(s, "States.") && !knownStatesErrors[s] {
			f.errf(fmt.Sprintf("ErrorEquals[%d]", i), "unknown predefined error %q", s)
		}
		out = append(out, s)
	}
	if slices.Contains(out, ErrorAll) && len(out) > 1 {
		f.errf("ErrorEquals", "States.ALL must appear alone")
	}
	return out
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

func (p *parser) parseRetry(f objFields) []retrier {
	var out []retrier
	items := p.list(f, "Retry")
	for i, rf := range items {
		rf.unknown([]string{"ErrorEquals", "IntervalSeconds", "MaxAttempts", "BackoffRate", "MaxDelaySeconds", "JitterStrategy", "Comment"}, "a retrier")
		rf.str("Comment")
		r := retrier{errorEquals: p.errorEquals(rf), interval: 1, maxAttempts: 3, backoffRate: 2}
		if slices.Contains(r.errorEquals, ErrorAll) && i != len(items)-1 {
			rf.errf("ErrorEquals", "the States.ALL retrier must be the last one")
		}
		if n, ok := rf.integer("IntervalSeconds", 1, 99999999); ok {
			r.interval = float64(n)
		}
		if n, ok := rf.integer("MaxAttempts", 0, 99999999); ok {
			r.maxAttempts = int(n)
		}
		if n, ok := rf.integer("MaxDelaySeconds", 1, 31622401); ok {
			r.maxDelay = float64(n)
		}
		if v, ok := rf.m["BackoffRate"]; ok {
			b, isNum := numberValue(v)
			if !isNum || b < 1 {
				rf.errf("BackoffRate", "must be a number >= 1.0, got %s", rawJSON(v))
			}
			r.backoffRate = b
		}
		if js, ok := rf.str("JitterStrategy"); ok {
			switch js {
			case "FULL":
				r.jitterFull = true
			case "NONE":
			default:
				rf.errf("JitterStrategy", "must be FULL or NONE, got %q", js)
			}
		}
		out = append(out, r)
	}
	return out
}

func (p *parser) parseCatch(f objFields) []catcher {
	var out []catcher
	items := p.list(f, "Catch")
	for i, cf := range items {
		cf.unknown([]string{"ErrorEquals", "Next", "ResultPath", "Comment"}, "a catcher")
		cf.str("Comment")
		c := catcher{errorEquals: p.errorEquals(cf), resultPath: cf.path("ResultPath")}
		if slices.Contains(c.errorEquals, ErrorAll) && i != len(items)-1 {
			cf.errf("ErrorEquals", "the States.ALL catcher must be the last one")
		}
		next, ok := cf.str("Next")
		if !ok || next == "" {
			cf.errf("Next", "a catcher needs Next")
		}
		c.next = next
		out = append(out, c)
	}
	return out
}

func (p *parser) parseChoice(f objFields, st *state) {
	if d, ok := f.str("Default"); ok {
		if d == "" {
			f.errf("Default", "must be a state name")
		}
		st.defaultNext = d
	}
	raw, ok := f.m["Choices"].([]any)
	if !ok || len(raw) == 0 {
		f.errf("Choices", "a Choice state needs a non-empty Choices array")
		return
	}
	for i, v := range raw {
		r, err := parseChoiceRule(v, fmt.Sprintf("Choices[%d]", i), true)
		if err != nil {
			p.fieldErr(st.name, err)
			continue
		}
		st.choices = append(st.choices, r)
	}
}

func (p *parser) parseWait(f objFields, st *state) {
	var given []string
	for _, k := range []string{"Seconds", "SecondsPath", "Timestamp", "TimestampPath"} {
		if f.has(k) {
			given = append(given, k)
		}
	}
	if len(given) != 1 {
		f.errf("Seconds", "a Wait state needs exactly one of Seconds, SecondsPath, Timestamp, TimestampPath (got %d)", len(given))
		return
	}
	switch given[0] {
	case "Seconds":
		st.seconds, _ = f.integer("Seconds", 0, 99999999)
	case "Timestamp":
		s, _ := f.str("Timestamp")
		t, ok := parseTimestamp(s)
		if !ok {
			f.errf("Timestamp", "%q is not an RFC 3339 timestamp", s)
		}
		st.timestamp = t
	default:
		s, ok := f.str(given[0])
		if !ok {
			return
		}
		rp, err := parseRefPath(s)
		if err != nil {
			f.errf(given[0], "%v", err)
			return
		}
		if given[0] == "SecondsPath" {
			st.secondsPath = rp
		} else {
			st.timestampPath = rp
		}
	}
}

// failExpr compiles ErrorPath/CausePath: a reference path or an
// intrinsic that returns a string.
func (p *parser) failExpr(f objFields, k string) *tmpl {
	s, ok := f.str(k)
	if !ok {
		return nil
	}
	t, err := compileDynamic(s)
	if err != nil {
		f.errf(k, "%v", err)
		return nil
	}
	if t.kind == tCall && !slices.Contains([]string{"States.Format", "States.JsonToString", "States.UUID"}, t.call.name) {
		f.errf(k, "%s does not return a string", t.call.name)
	}
	return t
}

func (p *parser) parseFail(f objFields, st *state) {
	if f.has("Error") && f.has("ErrorPath") {
		f.errf("ErrorPath", "give Error or ErrorPath, not both")
	}
	if f.has("Cause") && f.has("CausePath") {
		f.errf("CausePath", "give Cause or CausePath, not both")
	}
	st.errorName, _ = f.str("Error")
	st.cause, _ = f.str("Cause")
	st.errorExpr = p.failExpr(f, "ErrorPath")
	st.causeExp = p.failExpr(f, "CausePath")
}

// Choose evaluates the Choice state name on input exactly as an execution
// would and returns the state it leads to. It lets a caller outside an
// execution apply one of the definition's gates — `churnops drift` reports
// the DriftGate's verdict — so that the rule still lives only in the
// definition.
func (m *Machine) Choose(name string, input json.RawMessage) (string, error) {
	st, ok := m.states[name]
	if !ok || st.typ != typeChoice {
		return "", fmt.Errorf("asl: %q is not a Choice state of the machine", name)
	}
	in, err := parseJSON(input)
	if err != nil {
		return "", fmt.Errorf("asl: Choose %s: input is not valid JSON: %w", name, err)
	}
	x := (&Runner{Machine: m}).newRun()
	res := x.choice(st, in, x.clock.Now())
	if res.err != nil {
		return "", res.err
	}
	return res.next, nil
}
