package scores

import "fmt"

// Bins is the number of histogram bins over [0, 1]: tenths.
const Bins = 10

// Histogram counts churn probabilities in Bins equal bins over [0, 1]:
// bin i is [i/Bins, (i+1)/Bins), the last one closed. Shards count their
// own and the summary adds them (Merge).
type Histogram struct {
	Edges  []float64 `json:"edges"`
	Counts []int     `json:"counts"`
}

// NewHistogram returns an empty histogram.
func NewHistogram() Histogram {
	h := Histogram{Edges: make([]float64, Bins+1), Counts: make([]int, Bins)}
	for i := range h.Edges {
		h.Edges[i] = float64(i) / Bins
	}
	return h
}

// Add counts one probability.
func (h *Histogram) Add(p float64) {
	i := int(p * Bins)
	i = max(0, min(i, Bins-1))
	h.Counts[i]++
}

// Merge adds o's counts to h's: both must have the same bins.
func (h *Histogram) Merge(o Histogram) error {
	if len(o.Counts) != len(h.Counts) || len(o.Edges) != len(h.Edges) {
		return fmt.Errorf("scores: merge a histogram of %d bins into one of %d", len(o.Counts), len(h.Counts))
	}
	for i, e := range o.Edges {
		if e != h.Edges[i] {
			return fmt.Errorf("scores: merge histograms with other edges (%v, %v)", o.Edges, h.Edges)
		}
	}
	for i, c := range o.Counts {
		h.Counts[i] += c
	}
	return nil
}

// Total is the number of probabilities counted.
func (h Histogram) Total() int {
	n := 0
	for _, c := range h.Counts {
		n += c
	}
	return n
}
