package gbdt_test

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

func TestEncode(t *testing.T) {
	spec := []gbdt.Feature{
		{Name: "months"}, {Name: "paperless"},
		{Name: "net", Categorical: true, Categories: []string{"DSL", "Fiber optic", "No"}},
	}
	nan := math.NaN()
	tests := []struct {
		name    string
		raw     map[string]any
		want    []float64
		errFeat string // feature named by the error, "" = no error
	}{
		{"float64 and bool", map[string]any{"months": 12.0, "paperless": true, "net": "Fiber optic"}, []float64{12, 1, 1}, ""},
		{"ints and false", map[string]any{"months": 3, "paperless": false, "net": "DSL"}, []float64{3, 0, 0}, ""},
		{"int64 and uint8", map[string]any{"months": int64(70), "paperless": uint8(1), "net": "No"}, []float64{70, 1, 2}, ""},
		{"json.Number", map[string]any{"months": json.Number("29.85"), "paperless": json.Number("0"), "net": "No"}, []float64{29.85, 0, 2}, ""},
		{"absent and nil are missing", map[string]any{"paperless": nil}, []float64{nan, nan, nan}, ""},
		{"unknown category is missing", map[string]any{"months": 1.0, "net": "Satellite"}, []float64{1, nan, nan}, ""},
		{"extra keys ignored", map[string]any{"months": 1.0, "user_id": "7590-VHVEG"}, []float64{1, nan, nan}, ""},
		{"string for a number", map[string]any{"months": "12"}, nil, "months"},
		{"bad json.Number", map[string]any{"months": json.Number("x")}, nil, "months"},
		{"number for a category", map[string]any{"net": 1.0}, nil, "net"},
		{"bool for a category", map[string]any{"net": true}, nil, "net"},
		{"object for a number", map[string]any{"paperless": map[string]any{}}, nil, "paperless"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := make([]float64, len(spec))
			err := gbdt.Encode(spec, tt.raw, dst)
			if tt.errFeat != "" {
				var fe *gbdt.FeatureValueError
				if !errors.As(err, &fe) || !errors.Is(err, gbdt.ErrFeatureValue) || fe.Feature != tt.errFeat {
					t.Fatalf("Encode error = %v, want a *FeatureValueError for %q", err, tt.errFeat)
				}
				if !strings.Contains(err.Error(), tt.errFeat) {
					t.Errorf("message %q does not name the feature", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			for i := range tt.want {
				if !(dst[i] == tt.want[i] || math.IsNaN(dst[i]) && math.IsNaN(tt.want[i])) {
					t.Fatalf("Encode = %v, want %v", dst, tt.want)
				}
			}
		})
	}
	if err := gbdt.Encode(spec, nil, make([]float64, 2)); err == nil {
		t.Error("Encode accepted a short destination")
	}
}

// TestEncodeThenPredict: a JSON record decoded the way a handler decodes it
// predicts exactly as the dataset row it came from.
func TestEncodeThenPredict(t *testing.T) {
	d := logisticData(t, 1500, 8)
	m := train(t, d, quickParams())
	plans := m.Features()[5].Categories
	for i := range 50 {
		rec := map[string]any{}
		for j, f := range m.Features() {
			v := d.Cols[j][i]
			switch {
			case math.IsNaN(v):
				rec[f.Name] = nil
			case f.Categorical:
				rec[f.Name] = plans[int(v)]
			default:
				rec[f.Name] = v
			}
		}
		js, err := json.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(js, &raw); err != nil {
			t.Fatal(err)
		}
		x := make([]float64, m.NumFeatures())
		if err := m.Encode(raw, x); err != nil {
			t.Fatal(err)
		}
		if got, want := m.PredictProba(x), m.PredictProba(row(d, i)); got != want {
			t.Fatalf("row %d: %v from JSON, %v from the dataset", i, got, want)
		}
	}
}
