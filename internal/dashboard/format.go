package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The page spells every figure with one of these, as the drift report
// does, so that a number reads the same wherever it appears:
//
//	AUC, F1, …   score4     0.8545 (four decimals)
//	shares       pct        46.7% (one decimal)
//	counts       count      7,043
//	durations    duration   185µs, 81ms, 1.09s, 2m05s, 3h04m
//	times        when       2024-05-01 06:12 UTC

func score4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func pct(v float64) string { return strconv.FormatFloat(100*v, 'f', 1, 64) + "%" }

func count(n int) string {
	s := strconv.Itoa(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func duration(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	}
	return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
}

func when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// month is an as_of date's month ("2024-03-31" -> "2024-03").
func month(asOf string) string {
	if len(asOf) >= 7 {
		return asOf[:7]
	}
	return asOf
}

// scoreText is a drift test's score: four decimals, or scientific
// notation when that would show only zeros (p-values).
func scoreText(v float64) string {
	if v != 0 && math.Abs(v) < 1e-4 {
		return strconv.FormatFloat(v, 'e', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 4, 64)
}

// outcomeText is how an outcome reads on the page.
func outcomeText(o string) string {
	switch o {
	case "no_drift":
		return "no drift"
	case "pending_approval":
		return "waiting for approval"
	case "rolled_back":
		return "rolled back"
	case "timed_out":
		return "timed out"
	case "":
		return "–"
	}
	return o
}

// outcomeClass is an outcome's badge colour.
func outcomeClass(o string) string {
	switch o {
	case "promoted":
		return "ok"
	case "no_drift":
		return "info"
	case "pending_approval":
		return "wait"
	case "rejected", "failed", "timed_out", "aborted":
		return "bad"
	}
	return "neutral"
}

// stageClass is a stage's badge colour.
func stageClass(s string) string {
	switch s {
	case "Production":
		return "ok"
	case "Rejected":
		return "bad"
	case "None":
		return "neutral"
	}
	return "muted"
}
