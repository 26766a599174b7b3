package asl

import (
	"slices"
)

// catcher is one Catch entry.
type catcher struct {
	errorEquals []string
	next        string
	resultPath  *dataPath
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
