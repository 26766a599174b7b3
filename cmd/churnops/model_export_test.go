package main

import (
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestModelExportExplain: a bootstrapped version exports to XGBoost JSON and
// explains a month (bias + contributions = log-odds for every customer);
// the commands' errors are clear.
func TestModelExportExplain(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "1200", "--seed", "3")
	mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, "month_000"), "--as-of", "2024-01-31")
	mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, "month_001"), "--as-of", "2024-02-29")
	mustRun(t, "run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29", "--threshold", "1")

	out := filepath.Join(dir, "model.xgb.json")
	mustRun(t, "model", "export", "--state", state, "--version", "1", "--format", "xgboost-json", "--out", out)
	var xm struct {
		Learner struct {
			FeatureNames []string `json:"feature_names"`
			Objective    struct {
				Name string `json:"name"`
			} `json:"objective"`
		} `json:"learner"`
	}
	raw, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	// XGBoost's JSON writes an infinite split condition as Infinity (Python's
	// json reads it, Go's does not).
	if err := json.Unmarshal([]byte(strings.ReplaceAll(string(raw), "Infinity", "1e999999")), &xm); err != nil {
		t.Fatalf("export is not JSON: %v", err)
	}
	if xm.Learner.Objective.Name != "binary:logistic" || len(xm.Learner.FeatureNames) != 14 || xm.Learner.FeatureNames[0] != "months_active" {
		t.Errorf("export: objective %q, features %v", xm.Learner.Objective.Name, xm.Learner.FeatureNames)
	}

	csvPath := filepath.Join(dir, "explain.csv")
	mustRun(t, "model", "explain", "--state", state, "--version", "production", "--data", filepath.Join(data, "month_001"), "--as-of", "2024-02-29", "--out", csvPath)
	f, err := os.Open(csvPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	header := recs[0]
	if len(recs) != 1201 || header[0] != "user_id" || header[1] != "churn_probability" || header[2] != "log_odds" || header[len(header)-1] != "bias" || len(header) != 18 {
		t.Fatalf("explain wrote %d rows, header %v", len(recs), header)
	}
	for _, r := range recs[1:] {
		p, _ := strconv.ParseFloat(r[1], 64)
		raw, _ := strconv.ParseFloat(r[2], 64)
		var s float64
		for _, c := range r[3:] {
			v, err := strconv.ParseFloat(c, 64)
			if err != nil {
				t.Fatal(err)
			}
			s += v
		}
		if math.Abs(s-raw) > 1e-9 || math.Abs(p-1/(1+math.Exp(-raw))) > 1e-12 {
			t.Fatalf("%s: contributions sum to %v, log-odds %v, probability %v", r[0], s, raw, p)
		}
	}

	// An artifact written before covers existed: strip them from v1's file.
	var v1 struct {
		ArtifactKey string `json:"artifact_key"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "registry", "show", "1", "--state", state, "--json")), &v1); err != nil {
		t.Fatal(err)
	}
	stripCovers(t, filepath.Join(state, "blobs", filepath.FromSlash(v1.ArtifactKey)))

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"existing --out", []string{"model", "export", "--version", "1", "--out", out}, 1, "exists: remove it or pass --force"},
		{"unknown version", []string{"model", "export", "--version", "7", "--out", filepath.Join(dir, "x.json")}, 1, "version 7"},
		{"bad version", []string{"model", "export", "--version", "latest", "--out", filepath.Join(dir, "x.json")}, 2, "want N, vN or production"},
		{"unknown format", []string{"model", "export", "--version", "1", "--format", "onnx", "--out", filepath.Join(dir, "x.onnx")}, 2, `--format "onnx"`},
		{"no subcommand", []string{"model"}, 2, "missing subcommand"},
		{"model without covers", []string{"model", "export", "--version", "1", "--out", out, "--force"}, 1, "trained before exports and reasons were supported"},
		{"explain without covers", []string{"model", "explain", "--version", "1", "--data", filepath.Join(data, "month_001"), "--as-of", "2024-02-29", "--out", filepath.Join(dir, "e.csv")}, 1, "trained before reasons were supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := churnops(t, append(tt.args, "--state", state)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr, tt.code, tt.want)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.json")); err == nil {
		t.Error("a failed export left a file behind")
	}
}

// stripCovers rewrites the artifact at path without node covers, as
// churnops wrote artifacts before covers were recorded.
func stripCovers(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var env map[string]json.RawMessage
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatal(err)
	}
	var model map[string]json.RawMessage
	if err := json.Unmarshal(env["model"], &model); err != nil {
		t.Fatal(err)
	}
	var trees []map[string]json.RawMessage
	if err := json.Unmarshal(model["trees"], &trees); err != nil {
		t.Fatal(err)
	}
	for _, tr := range trees {
		delete(tr, "cover")
	}
	enc := func(v any) json.RawMessage {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	model["trees"] = enc(trees)
	env["model"] = enc(model)
	sum := sha256.Sum256(env["model"])
	env["sha256"] = enc(hex.EncodeToString(sum[:]))
	if err := os.WriteFile(path, enc(env), 0o644); err != nil {
		t.Fatal(err)
	}
}
