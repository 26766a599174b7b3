package registry

import (
	"cmp"
	"slices"
)

// FeatureImportance is one feature's part of a version's importance.
type FeatureImportance struct {
	Feature string  `json:"feature"`
	MeanAbs float64 `json:"mean_abs"` // mean |contribution| to the log-odds
	Share   float64 `json:"share"`    // MeanAbs over the sum of all features' (0..1)
}

// RankImportance orders a version's Importance, the largest first (ties by
// name), each with its share of the total. Features that never contribute
// (0) are left out; an empty or all-zero importance gives nil.
func RankImportance(imp map[string]float64) []FeatureImportance {
	var out []FeatureImportance
	for f, v := range imp {
		if v > 0 {
			out = append(out, FeatureImportance{Feature: f, MeanAbs: v})
		}
	}
	slices.SortFunc(out, func(a, b FeatureImportance) int {
		return cmp.Or(cmp.Compare(b.MeanAbs, a.MeanAbs), cmp.Compare(a.Feature, b.Feature))
	})
	total := 0.0 // in that order, not the map's: the same bits every time
	for _, f := range out {
		total += f.MeanAbs
	}
	for i := range out {
		out[i].Share = out[i].MeanAbs / total
	}
	return out
}
