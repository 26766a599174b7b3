package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDatasetRm (#13 defect 8, second half): `churnops dataset list` shows
// the stored months and `dataset rm` removes one safely: the served month
// falls back to the previous one, the month a Production model was
// trained on and the last month online are kept unless forced, and both
// dataset layouts (one snapshot.parquet; a manifest and parts) go, the
// month's marker first.
func TestDatasetRm(t *testing.T) {
	state, f := newServed(t)
	jan, feb := f.asOfs[0], f.asOfs[1]
	inJan := map[string]bool{}
	for _, u := range f.users[0] {
		inJan[u] = true
	}
	var both, febOnly string
	for _, u := range f.users[1] {
		if inJan[u] && both == "" {
			both = u
		}
		if !inJan[u] && febOnly == "" {
			febOnly = u
		}
	}
	// What an earlier churnops let in (a future month), and a month in the
	// sharded layout.
	snapshot := filepath.Join(state, "blobs", "datasets", "as_of="+jan, "part-00000.parquet")
	plant := func(asOf string, names ...string) {
		t.Helper()
		dir := filepath.Join(state, "blobs", "datasets", "as_of="+asOf)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			copyFile(t, snapshot, filepath.Join(dir, n))
		}
	}
	plant("2999-12-31", "snapshot.parquet")
	plant("2024-03-31", "part-00000.parquet", "part-00001.parquet", "manifest.json")

	var list []struct {
		AsOf   string   `json:"as_of"`
		Layout string   `json:"layout"`
		Keys   []string `json:"keys"`
		Online *struct {
			Served bool `json:"served"`
		} `json:"online"`
		Models []struct {
			Version int    `json:"version"`
			Stage   string `json:"stage"`
		} `json:"models"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "dataset", "list", "--state", state, "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].AsOf != jan || len(list[0].Models) != 1 || list[0].Models[0].Stage != "Production" ||
		list[1].AsOf != feb || list[1].Online == nil || !list[1].Online.Served ||
		list[2].Layout != "sharded" || len(list[2].Keys) != 3 || list[3].AsOf != "2999-12-31" || list[3].Layout != "single" {
		t.Fatalf("dataset list = %+v", list)
	}
	if out := mustRun(t, "dataset", "list", "--state", state); !strings.Contains(out, "SERVED") || !strings.Contains(out, "churn v1 (Production)") {
		t.Errorf("dataset list:\n%s", out)
	}

	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string
		gone     []string // dataset directories that must be gone afterwards
	}{
		{"the served month falls back to the previous one", []string{"dataset", "rm", feb}, 0, "online features served: as_of=" + jan, []string{feb}},
		{"a future month", []string{"dataset", "rm", "2999-12-31"}, 0, "removed as_of=2999-12-31: 1 dataset key", []string{"2999-12-31"}},
		{"a sharded month", []string{"dataset", "rm", "2024-03-31"}, 0, "removed as_of=2024-03-31: 3 dataset key", []string{"2024-03-31"}},
		{"nothing stored", []string{"dataset", "rm", "2024-05-31"}, 1, "nothing is stored for as_of 2024-05-31", nil},
		{"the Production model's month", []string{"dataset", "rm", jan}, 1, "churn v1 (Production) was trained", nil},
		{"no date", []string{"dataset", "rm"}, 2, "which month?", nil},
		{"not a date", []string{"dataset", "rm", "31/01/2024"}, 2, "YYYY-MM-DD", nil},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			code, out, errs := churnops(t, append(s.args, "--state", state)...)
			if code != s.wantCode || !strings.Contains(out+errs, s.want) {
				t.Fatalf("churnops %s: exit %d\n%s%s\nwant exit %d mentioning %q", strings.Join(s.args, " "), code, out, errs, s.wantCode, s.want)
			}
			for _, asOf := range s.gone {
				if _, err := os.Stat(filepath.Join(state, "blobs", "datasets", "as_of="+asOf)); err == nil {
					if keys, _ := filepath.Glob(filepath.Join(state, "blobs", "datasets", "as_of="+asOf, "*")); len(keys) > 0 {
						t.Errorf("left behind: %v", keys)
					}
				}
			}
		})
	}
	// The fall-back serves January whole: February's newcomer is unknown.
	if code, out, _ := churnops(t, "predict", "--state", state, "--user-id", both); code != 0 || !strings.Contains(out, `"as_of": "`+jan+`"`) {
		t.Errorf("predict %s after removing %s: exit %d %s; want January's features", both, feb, code, out)
	}
	if code, out, _ := churnops(t, "predict", "--state", state, "--user-id", febOnly); code != 1 || !strings.Contains(out, "user_not_found") {
		t.Errorf("predict %s (only in %s) after removing it: exit %d %s; want 404", febOnly, feb, code, out)
	}
	// Forced: the last month online, and the Production model's.
	out := mustRun(t, "dataset", "rm", jan, "--force", "--state", state)
	if !strings.Contains(out, "no online features are served now") || !strings.Contains(out, "churn v1 (Production) was trained on it") {
		t.Errorf("forced rm:\n%s", out)
	}
	if code, _, errs := churnops(t, "predict", "--state", state, "--user-id", both); code != 1 || !strings.Contains(errs, "no online features are published") {
		t.Errorf("predict with nothing online: exit %d %s", code, errs)
	}
	if out := mustRun(t, "dataset", "list", "--state", state); !strings.Contains(out, "no month is stored") {
		t.Errorf("dataset list after removing everything:\n%s", out)
	}
}

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
