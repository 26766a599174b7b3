package drift_test

import (
	"strconv"
	"strings"
)

func itoa(i int) string     { return strconv.Itoa(i) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
func itoas(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = itoa(x)
	}
	return strings.Join(s, "-")
}

func sum(v []int) int {
	var s int
	for _, x := range v {
		s += x
	}
	return s
}

// atOrAbove is the lab's retraining rule, as the state machine's DriftGate
// applies it in production: tests pass it as Options.Gate.
func atOrAbove(share, threshold float64) (bool, error) { return share >= threshold, nil }
