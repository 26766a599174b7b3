package asl

import (
	"fmt"
	"slices"
	"strings"
	"unicode"
)

// mapSpec is a Map state's compiled fields. A Map runs its processor (a
// state machine of its own) once per item: concurrently, results in item
// order. INLINE iterations run inside the execution; a DISTRIBUTED Map
// runs each as a child execution of a Map Run, which may read its items
// from S3 (ItemReader), tolerate some failed items and write its results
// to S3 (ResultWriter). Locally both run as goroutines of the execution.
type mapSpec struct {
	distributed bool
	express     bool // ProcessorConfig.ExecutionType EXPRESS: shows in child ARNs only
	procField   string
	processor   *graph
	itemsPath   *refPath // nil: the effective input is the array
	selector    *tmpl    // ItemSelector, or the legacy Parameters
	reader      *itemReader
	writer      *resultWriter
	label       string // Label, or the state name, in Map Run ARNs

	maxConcurrency   limit
	toleratedCount   limit
	toleratedPercent limit
}

// limit is an optional number given literally (MaxConcurrency) or by a
// reference path into the state's input (MaxConcurrencyPath).
type limit struct {
	set   bool
	value float64
	path  *refPath
	field string // the ...Path field, for messages
}

// mapFields are the fields a Map state has besides those every state
// type shares with Task (Next, End, paths, Retry, Catch, ...).
var mapFields = []string{"ItemProcessor", "Iterator", "ItemsPath", "ItemSelector", "ItemReader", "ResultWriter",
	"MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
	"ToleratedFailureCount", "ToleratedFailureCountPath", "Label"}

// distributedOnly are the fields Step Functions accepts on a DISTRIBUTED
// Map only.
var distributedOnly = []string{"ItemReader", "ResultWriter", "ToleratedFailurePercentage", "ToleratedFailurePercentagePath",
	"ToleratedFailureCount", "ToleratedFailureCountPath", "Label"}

func (p *parser) parseMap(f objFields, st *state, statesPath []string) {
	ms := &mapSpec{label: st.name, procField: "ItemProcessor"}
	st.mp = ms
	f.exclusive("ItemProcessor", "Iterator")
	f.exclusive("ItemSelector", "Parameters")
	f.exclusive("ItemsPath", "ItemReader")
	if !f.has("ItemProcessor") && f.has("Iterator") {
		ms.procField = "Iterator"
	}
	pf, ok := f.object(ms.procField)
	if !ok {
		if !f.has(ms.procField) {
			f.errf("ItemProcessor", "a Map state needs an ItemProcessor (StartAt and States)")
		}
		return
	}
	if ms.procField == "Iterator" {
		pf.unknown([]string{"StartAt", "States", "Comment"}, "an Iterator")
	} else {
		pf.unknown([]string{"ProcessorConfig", "StartAt", "States", "Comment"}, "an ItemProcessor")
		p.parseProcessorConfig(pf, ms)
	}
	pf.str("Comment")
	p.mapDepth++
	ms.processor = p.parseGraph(pf, append(slices.Clone(statesPath), st.name, ms.procField, "States"), "a Map's "+ms.procField)
	p.mapDepth--

	ms.itemsPath = f.refPath("ItemsPath")
	ms.selector = f.template("ItemSelector")
	if ms.selector == nil {
		ms.selector = st.parameters
	}
	st.parameters = nil
	ms.maxConcurrency = p.limit(f, "MaxConcurrency", true, 0, 99999999)
	for _, k := range distributedOnly {
		if f.has(k) && !ms.distributed {
			f.errf(k, "only a DISTRIBUTED Map (%s.ProcessorConfig.Mode) has %s", ms.procField, k)
		}
	}
	if ms.distributed {
		ms.toleratedCount = p.limit(f, "ToleratedFailureCount", true, 0, 1e15)
		ms.toleratedPercent = p.limit(f, "ToleratedFailurePercentage", false, 0, 100)
		if label, ok := f.str("Label"); ok {
			if err := checkLabel(label); err != "" {
				f.errf("Label", "%s", err)
			}
			ms.label = label
		}
		ms.reader = p.parseItemReader(f)
		ms.writer = p.parseResultWriter(f)
	}
	st.resultSelector = f.template("ResultSelector")
	st.retry = p.parseRetry(f)
	st.catch = p.parseCatch(f)
}

func (p *parser) parseProcessorConfig(pf objFields, ms *mapSpec) {
	cf, ok := pf.object("ProcessorConfig")
	if !ok {
		return
	}
	cf.unknown([]string{"Mode", "ExecutionType"}, "a ProcessorConfig")
	switch mode, _ := cf.str("Mode"); mode {
	case "", "INLINE":
	case "DISTRIBUTED":
		ms.distributed = true
	default:
		cf.errf("Mode", "must be INLINE or DISTRIBUTED, got %q", mode)
	}
	et, hasET := cf.str("ExecutionType")
	switch {
	case !ms.distributed && cf.has("ExecutionType"):
		cf.errf("ExecutionType", "only a DISTRIBUTED Map has an ExecutionType")
	case ms.distributed && !hasET:
		cf.errf("ExecutionType", "a DISTRIBUTED Map needs ExecutionType STANDARD or EXPRESS")
	case et == "EXPRESS":
		ms.express = true
	case hasET && et != "STANDARD":
		cf.errf("ExecutionType", "must be STANDARD or EXPRESS, got %q", et)
	}
}

// limit reads the field k or its k+"Path" form.
func (p *parser) limit(f objFields, k string, integer bool, lo, hi float64) limit {
	f.exclusive(k, k+"Path")
	l := limit{field: k + "Path", path: f.refPath(k + "Path")}
	l.set = l.path != nil
	if integer {
		if n, ok := f.integer(k, int64(lo), int64(hi)); ok {
			l.set, l.value = true, float64(n)
		}
	} else if n, ok := f.number(k, lo, hi); ok {
		l.set, l.value = true, n
	}
	return l
}

// checkLabel applies Step Functions' rules for a Map Run label, which
// becomes part of ARNs.
func checkLabel(label string) string {
	if label == "" || len([]rune(label)) > 40 {
		return "must be 1 to 40 characters"
	}
	for _, r := range label {
		if unicode.IsSpace(r) || unicode.IsControl(r) || strings.ContainsRune("<>{}[]?*\"#%\\^|~`$&,;:/", r) {
			return fmt.Sprintf("must not contain %q (whitespace, brackets, wildcards and \" # %% \\ ^ | ~ ` $ & , ; : / are not allowed)", r)
		}
	}
	return ""
}

// checkMapContext rejects a reference to $$.Map anywhere in a state but a
// Map's ItemSelector (or legacy Parameters): Step Functions puts the
// current item in the context object there only, so a definition reading
// it elsewhere would fail on AWS even if an emulator let it through.
// Only values that are paths or intrinsics are looked at: keys ending in
// ".$", Choice Variables and fields whose names end in "Path".
func (p *parser) checkMapContext(f objFields, skip ...string) {
	var walk func(field string, v any, dynamic bool)
	walk = func(field string, v any, dynamic bool) {
		switch x := v.(type) {
		case string:
			if dynamic && strings.Contains(x, "$$.Map") {
				p.errf(f.state, field, "%q: $$.Map exists only in a Map state's ItemSelector; pass the item's index or value to the iteration from there", x)
			}
		case map[string]any:
			for _, k := range sortedKeys(x) {
				walk(field+"."+k, x[k], strings.HasSuffix(k, ".$") || strings.HasSuffix(k, "Path") || k == "Variable")
			}
		case []any:
			for i, item := range x {
				walk(fmt.Sprintf("%s[%d]", field, i), item, false)
			}
		}
	}
	for _, k := range sortedKeys(f.m) {
		if slices.Contains(skip, k) || k == "ItemProcessor" || k == "Iterator" {
			continue
		}
		walk(f.field(k), f.m[k], strings.HasSuffix(k, "Path") || k == "Variable")
	}
}

// resolve returns the limit's value, literal or read through its path
// (which must select a number in [lo, hi], a whole one if integer); 0 when
// it is not set.
func (l limit) resolve(env *evalEnv, integer bool, lo, hi float64) (float64, *stateError) {
	if l.path == nil {
		return l.value, nil
	}
	v, ok := l.path.get(env.input, env.context)
	n, isNum := numberValue(v)
	if !ok || !isNum || n < lo || n > hi || (integer && n != float64(int64(n))) {
		kind := "a number"
		if integer {
			kind = "an integer"
		}
		return 0, runtimeError("%s '%s' must select %s between %g and %g, got %s", l.field, l.path.text, kind, lo, hi, describe(v, ok))
	}
	return n, nil
}
