package registry_test

import (
	"math"
	"testing"

	"github.com/churnops/churnops/internal/registry"
)

func TestRankImportance(t *testing.T) {
	tests := []struct {
		name string
		imp  map[string]float64
		want []registry.FeatureImportance
	}{
		{"none", nil, nil},
		{"all zero", map[string]float64{"a": 0}, nil},
		{"largest first, ties by name, zeros left out", map[string]float64{"b": 1, "a": 1, "c": 2, "z": 0}, []registry.FeatureImportance{
			{Feature: "c", MeanAbs: 2, Share: 0.5}, {Feature: "a", MeanAbs: 1, Share: 0.25}, {Feature: "b", MeanAbs: 1, Share: 0.25}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := registry.RankImportance(tt.imp)
			if len(got) != len(tt.want) {
				t.Fatalf("%v, want %v", got, tt.want)
			}
			for i := range got {
				if got[i].Feature != tt.want[i].Feature || got[i].MeanAbs != tt.want[i].MeanAbs || math.Abs(got[i].Share-tt.want[i].Share) > 1e-15 {
					t.Errorf("%d: %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}
