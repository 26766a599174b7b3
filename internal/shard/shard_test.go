package shard_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/churnops/churnops/internal/shard"
)

// TestOfIsStable pins the assignment: it is part of every stored month's
// layout, so a change would silently move users between shards. The
// expected shards were computed independently, in Python:
//
//	h = 0xcbf29ce484222325
//	for c in uid.encode(): h = ((h ^ c) * 0x100000001b3) % 2**64
//	shard = (h * k) >> 64
func TestOfIsStable(t *testing.T) {
	cases := []struct {
		user string
		k    int
		want int
	}{
		{"7590-VHVEG", 1, 0},
		{"7590-VHVEG", 0, 0},
		{"7590-VHVEG", 2, 0},
		{"7590-VHVEG", 20, 2},
		{"5575-GNVDE", 20, 8},
		{"", 20, 15},
		{"ü-0001", 40, 31},
	}
	for _, tc := range cases {
		if got := shard.Of(tc.user, tc.k); got != tc.want {
			t.Errorf("Of(%q, %d) = %d, want %d", tc.user, tc.k, got, tc.want)
		}
	}
}

// TestOfIsUniform checks that 200,000 synthetic ids spread over k shards
// within a few standard deviations of the mean.
func TestOfIsUniform(t *testing.T) {
	const n = 200_000
	for _, k := range []int{2, 7, 20, 64} {
		counts := make([]int, k)
		for i := range n {
			s := shard.Of(fmt.Sprintf("%04d-%05X", i%10000, i), k)
			if s < 0 || s >= k {
				t.Fatalf("Of(…, %d) = %d, out of range", k, s)
			}
			counts[s]++
		}
		mean := float64(n) / float64(k)
		sd := math.Sqrt(mean * (1 - 1/float64(k)))
		for s, c := range counts {
			if math.Abs(float64(c)-mean) > 5*sd {
				t.Errorf("k=%d: shard %d holds %d users, want %.0f ± %.0f", k, s, c, mean, 5*sd)
			}
		}
	}
}

func TestCount(t *testing.T) {
	cases := []struct{ rows, budget, want int }{
		{0, 500_000, 1},
		{7043, 500_000, 1},
		{500_000, 500_000, 1},
		{500_001, 500_000, 2},
		{10_000_000, 500_000, 20},
		{10_000_000, 0, 1},
	}
	for _, tc := range cases {
		if got := shard.Count(tc.rows, tc.budget); got != tc.want {
			t.Errorf("Count(%d, %d) = %d, want %d", tc.rows, tc.budget, got, tc.want)
		}
	}
}
