package gbdt_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

func trainedModel(t *testing.T) (*gbdt.Model, gbdt.Dataset) {
	t.Helper()
	d := logisticData(t, 2000, 21)
	m := train(t, d, quickParams())
	m.Meta.AsOf = "2024-01-31"
	m.Metrics = map[string]float64{"val_auc": 0.8}
	return m, d
}

func TestArtifactRoundTrip(t *testing.T) {
	m, d := trainedModel(t)
	var buf bytes.Buffer
	if err := m.Save(&buf); err != nil {
		t.Fatal(err)
	}
	first := bytes.Clone(buf.Bytes())
	m2, err := gbdt.Load(&buf)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want, got := predict(t, m, d), predict(t, m2, d)
	for i := range want {
		if want[i] != got[i] {
			t.Fatalf("row %d: %v before, %v after the round trip", i, want[i], got[i])
		}
	}
	again, err := m2.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again) {
		t.Error("re-marshalled artifact differs from the original")
	}
	if m2.Meta.AsOf != "2024-01-31" || m2.Metrics["val_auc"] != 0.8 || m2.Params != m.Params || m2.Threshold != 0.5 {
		t.Errorf("metadata lost: meta %+v metrics %v", m2.Meta, m2.Metrics)
	}
	if err := m2.CheckFeatures(d.Features); err != nil {
		t.Errorf("CheckFeatures on the training spec: %v", err)
	}
}

// edit decodes an artifact, applies f to its generic JSON and re-encodes it,
// recomputing the checksum when fixSum is set (so only f's change is wrong).
func edit(t *testing.T, art []byte, fixSum bool, f func(env, model map[string]any)) []byte {
	t.Helper()
	var env map[string]any
	if err := json.Unmarshal(art, &env); err != nil {
		t.Fatal(err)
	}
	var model map[string]any
	dec := json.NewDecoder(bytes.NewReader(mustJSON(t, env["model"])))
	dec.UseNumber()
	if err := dec.Decode(&model); err != nil {
		t.Fatal(err)
	}
	f(env, model)
	body := mustJSON(t, model)
	env["model"] = json.RawMessage(body)
	if fixSum {
		sum := sha256.Sum256(body)
		env["sha256"] = hex.EncodeToString(sum[:])
	}
	return mustJSON(t, env)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func firstTree(model map[string]any) map[string]any {
	return model["trees"].([]any)[0].(map[string]any)
}

func TestUnmarshalRejects(t *testing.T) {
	m, _ := trainedModel(t)
	art, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Flip one digit inside the model body without breaking the JSON syntax.
	i := bytes.Index(art, []byte(`"base_score":`)) + len(`"base_score":`) + 3
	flipped := bytes.Clone(art)
	if flipped[i] == '7' {
		flipped[i] = '3'
	} else {
		flipped[i] = '7'
	}
	tests := []struct {
		name string
		art  []byte
		want error
	}{
		{"empty", nil, gbdt.ErrCorrupt},
		{"truncated", art[:len(art)/2], gbdt.ErrCorrupt},
		{"last byte missing", art[:len(art)-1], gbdt.ErrCorrupt},
		{"trailing garbage", append(bytes.Clone(art), "{}"...), gbdt.ErrCorrupt},
		{"flipped digit", flipped, gbdt.ErrCorrupt},
		{"not an artifact", []byte(`{"hello":"world"}`), gbdt.ErrCorrupt},
		{"schema version 2", edit(t, art, true, func(env, _ map[string]any) { env["schema_version"] = 2 }), gbdt.ErrSchemaVersion},
		{"other kind", edit(t, art, true, func(env, _ map[string]any) { env["kind"] = "random-forest" }), gbdt.ErrKind},
		{"checksum of other content", edit(t, art, false, func(_, model map[string]any) { model["threshold"] = 0.3 }), gbdt.ErrCorrupt},
		{"child out of range", edit(t, art, true, func(_, model map[string]any) {
			firstTree(model)["left"].([]any)[0] = 9999
		}), gbdt.ErrCorrupt},
		{"feature out of range", edit(t, art, true, func(_, model map[string]any) {
			firstTree(model)["feature"].([]any)[0] = 99
		}), gbdt.ErrCorrupt},
		{"node arrays differ", edit(t, art, true, func(_, model map[string]any) {
			tr := firstTree(model)
			tr["value"] = tr["value"].([]any)[1:]
		}), gbdt.ErrCorrupt},
		{"no trees", edit(t, art, true, func(_, model map[string]any) { model["trees"] = []any{} }), gbdt.ErrCorrupt},
		{"threshold above 1", edit(t, art, true, func(_, model map[string]any) { model["threshold"] = 1.5 }), gbdt.ErrCorrupt},
		{"covers in some trees only", edit(t, art, true, func(_, model map[string]any) { delete(firstTree(model), "cover") }), gbdt.ErrCorrupt},
		{"one cover short", edit(t, art, true, func(_, model map[string]any) {
			tr := firstTree(model)
			tr["cover"] = tr["cover"].([]any)[1:]
		}), gbdt.ErrCorrupt},
		{"negative cover", edit(t, art, true, func(_, model map[string]any) {
			firstTree(model)["cover"].([]any)[0] = -1
		}), gbdt.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gbdt.Unmarshal(tt.art)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal error = %v, want %v", err, tt.want)
			}
		})
	}
	var sv *gbdt.SchemaVersionError
	_, err = gbdt.Unmarshal(edit(t, art, true, func(env, _ map[string]any) { env["schema_version"] = 2 }))
	if !errors.As(err, &sv) || sv.Got != 2 || sv.Want != gbdt.SchemaVersion {
		t.Errorf("want *SchemaVersionError{Got: 2}, got %v", err)
	}
}

func TestMarshalRejectsNaNMetric(t *testing.T) {
	m, _ := trainedModel(t)
	m.Metrics = map[string]float64{"val_auc": math.NaN()}
	if _, err := m.Marshal(); err == nil {
		t.Fatal("Marshal wrote a NaN metric")
	}
}

func TestCheckFeatures(t *testing.T) {
	m, d := trainedModel(t)
	clone := func(f func([]gbdt.Feature) []gbdt.Feature) []gbdt.Feature {
		s := make([]gbdt.Feature, len(d.Features))
		for i, x := range d.Features {
			s[i] = gbdt.Feature{Name: x.Name, Categorical: x.Categorical, Categories: append([]string(nil), x.Categories...)}
		}
		return f(s)
	}
	tests := []struct {
		name  string
		spec  []gbdt.Feature
		index int
	}{
		{"one feature fewer", clone(func(s []gbdt.Feature) []gbdt.Feature { return s[:len(s)-1] }), -1},
		{"renamed", clone(func(s []gbdt.Feature) []gbdt.Feature { s[1].Name = "price"; return s }), 1},
		{"swapped", clone(func(s []gbdt.Feature) []gbdt.Feature { s[0], s[1] = s[1], s[0]; return s }), 0},
		{"kind changed", clone(func(s []gbdt.Feature) []gbdt.Feature { s[6].Categorical = true; return s }), 6},
		{"categories reordered", clone(func(s []gbdt.Feature) []gbdt.Feature { s[5].Categories[0], s[5].Categories[1] = "b", "a"; return s }), 5},
		{"category added", clone(func(s []gbdt.Feature) []gbdt.Feature { s[5].Categories = append(s[5].Categories, "z"); return s }), 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := m.CheckFeatures(tt.spec)
			var fm *gbdt.FeatureMismatchError
			if !errors.As(err, &fm) || !errors.Is(err, gbdt.ErrFeatureMismatch) {
				t.Fatalf("CheckFeatures = %v, want a *FeatureMismatchError", err)
			}
			if fm.Index != tt.index {
				t.Errorf("mismatch at %d, want %d (%v)", fm.Index, tt.index, err)
			}
		})
	}
}

func TestArtifactIsSelfDescribing(t *testing.T) {
	m, _ := trainedModel(t)
	art, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		SchemaVersion int    `json:"schema_version"`
		Kind          string `json:"kind"`
		Layout        string `json:"layout"`
		Model         struct {
			Features []gbdt.Feature `json:"features"`
			Params   gbdt.Params    `json:"params"`
			Meta     gbdt.Meta      `json:"meta"`
		} `json:"model"`
	}
	if err := json.Unmarshal(art, &env); err != nil {
		t.Fatal(err)
	}
	if env.SchemaVersion != gbdt.SchemaVersion || env.Kind != gbdt.Kind || !strings.Contains(env.Layout, "default_left") {
		t.Errorf("envelope %d %q %q", env.SchemaVersion, env.Kind, env.Layout)
	}
	if len(env.Model.Features) != 7 || env.Model.Features[5].Categories[3] != "d" {
		t.Errorf("feature spec not in artifact: %+v", env.Model.Features)
	}
	if env.Model.Meta.Rows != 2000 || env.Model.Meta.DataSHA256 == "" || env.Model.Params.Rounds != 150 {
		t.Errorf("metadata not in artifact: %+v %+v", env.Model.Meta, env.Model.Params)
	}
}
