package gbdt_test

import (
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// TestGoldenV1 loads schema-v1 artifacts written by an earlier version of
// the trainer (testdata/golden_v1, see its README) and checks that they load,
// score every recorded row exactly as they did when written (lookup tables,
// walk and probability, bit for bit) and marshal back to the same bytes. A
// change to the artifact format or to inference that breaks models already
// in a registry fails here.
func TestGoldenV1(t *testing.T) {
	for _, name := range []string{"churn", "deep"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", "golden_v1")
			art, err := os.ReadFile(filepath.Join(dir, name+".model.json"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := gbdt.Unmarshal(art)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			again, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, art) {
				t.Error("the loaded model marshals to other bytes")
			}
			cases := readGoldenCases(t, filepath.Join(dir, name+".cases.json"))
			if len(cases) < 100 {
				t.Fatalf("%d cases", len(cases))
			}
			for i, c := range cases {
				x := make([]float64, len(c.Row))
				for j, s := range c.Row {
					x[j] = parseF(t, s)
				}
				for _, got := range []struct {
					what      string
					got, want float64
				}{
					{"PredictRaw", m.PredictRaw(x), parseF(t, c.Raw)},
					{"WalkRaw", m.WalkRaw(x), parseF(t, c.Walk)},
					{"PredictProba", m.PredictProba(x), parseF(t, c.Proba)},
				} {
					if math.Float64bits(got.got) != math.Float64bits(got.want) {
						t.Fatalf("case %d %v: %s = %v, written as %v", i, c.Row, got.what, got.got, got.want)
					}
				}
			}
		})
	}
}

// goldenCase is a row and what the model of its golden file answered for
// it when the file was written: PredictRaw, WalkRaw and PredictProba.
// Values are strconv strings, so NaN, ±Inf and -0 survive.
type goldenCase struct {
	Row   []string `json:"row"`
	Raw   string   `json:"raw"`
	Walk  string   `json:"walk"`
	Proba string   `json:"proba"`
}

func readGoldenCases(t *testing.T, path string) []goldenCase {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []goldenCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cases
}

func parseF(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
