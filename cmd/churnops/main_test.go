package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/snapshot/snapshottest"
)

// churnops runs the CLI in process and returns exit code, stdout, stderr.
func churnops(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errs := churnops(t, args...)
	if code != 0 {
		t.Fatalf("churnops %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out, errs)
	}
	return out
}

func sampleDir(t *testing.T) string { t.Helper(); return snapshottest.SampleDir(t) }

// TestLoop drives the whole local loop through the CLI on generated data.
func TestLoop(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "3", "--users", "1500", "--seed", "11", "--drift", "2:label")
	for i, asOf := range []string{"2024-01-31", "2024-02-29", "2024-03-31"} {
		mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, "month_00"+string(rune('0'+i))), "--as-of", asOf)
	}
	out := mustRun(t, "run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29")
	for _, want := range []string{"[BOOTSTRAP] v1", "[DECISION] no_drift", "[SUMMARY] as_of=2024-02-29"} {
		if !strings.Contains(out, want) {
			t.Errorf("first run output lacks %q:\n%s", want, out)
		}
	}
	out = mustRun(t, "run", "--state", state, "--reference-as-of", "previous", "--current-as-of", "latest")
	for _, want := range []string{"[COMPARE] candidate_auc=", "[DECISION] promoted", "cand_v=2", "prod_v=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("second run output lacks %q:\n%s", want, out)
		}
	}
	var versions []struct {
		Version int    `json:"version"`
		Stage   string `json:"stage"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "registry", "list", "--state", state, "--json")), &versions); err != nil {
		t.Fatal(err)
	}
	if len(versions) != 2 || versions[0].Stage != "Archived" || versions[1].Stage != "Production" {
		t.Errorf("registry %+v, want v1 Archived, v2 Production", versions)
	}
	// Each trained version records what it relies on: run prints it,
	// registry show lists every feature with its share.
	if !strings.Contains(out, "[RELIES ON] v2: ") {
		t.Errorf("second run output lacks what v2 relies on:\n%s", out)
	}
	show := mustRun(t, "registry", "show", "v2", "--state", state)
	if !regexp.MustCompile(`importance: .*\n\s+\w+\s+\d+\.\d{4}\s+\d+\.\d%`).MatchString(show) {
		t.Errorf("registry show lacks the importance:\n%s", show)
	}
	// predict answers with the new Production version.
	users := readColumn(t, filepath.Join(data, "month_002", "users.csv"), 0)
	var pred struct {
		UserID   string          `json:"user_id"`
		Prob     float64         `json:"churn_probability"`
		Version  int             `json:"model_version"`
		Features *map[string]any `json:"features_used"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "predict", "--state", state, "--user-id", users[0])), &pred); err != nil {
		t.Fatal(err)
	}
	if pred.UserID != users[0] || pred.Version != 2 || pred.Prob <= 0 || pred.Prob >= 1 || pred.Features != nil {
		t.Errorf("predict = %+v, want user %s scored by v2, no features_used", pred, users[0])
	}
	// --include features asks for the per-customer values too.
	if err := json.Unmarshal([]byte(mustRun(t, "predict", "--state", state, "--user-id", users[0], "--include", "features")), &pred); err != nil {
		t.Fatal(err)
	}
	if pred.Features == nil || len(*pred.Features) != 14 {
		t.Errorf("predict --include features: features_used %v, want the model's 14", pred.Features)
	}
	// --include reasons: the top contributions, as many as --reasons-k.
	var why struct {
		Prob    float64 `json:"churn_probability"`
		Reasons struct {
			Bias    float64 `json:"bias"`
			LogOdds float64 `json:"log_odds"`
			Top     []struct {
				Feature      string  `json:"feature"`
				Contribution float64 `json:"contribution"`
				Direction    string  `json:"direction"`
			} `json:"top"`
		} `json:"reasons"`
	}
	if err := json.Unmarshal([]byte(mustRun(t, "predict", "--state", state, "--user-id", users[0], "--include", "reasons", "--reasons-k", "4")), &why); err != nil {
		t.Fatal(err)
	}
	if r := why.Reasons; len(r.Top) != 4 || r.Top[0].Feature == "" || math.Abs(1/(1+math.Exp(-r.LogOdds))-why.Prob) > 1e-9 {
		t.Errorf("predict --include reasons --reasons-k 4: %+v", why)
	}
	// Rollback archives v2 and brings back v1.
	mustRun(t, "registry", "rollback", "--state", state)
	if err := json.Unmarshal([]byte(mustRun(t, "registry", "list", "--state", state, "--json")), &versions); err != nil {
		t.Fatal(err)
	}
	if versions[0].Stage != "Production" || versions[1].Stage != "Archived" {
		t.Errorf("after rollback %+v, want v1 Production, v2 Archived", versions)
	}
}

func readColumn(t *testing.T, path string, col int) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[col])
	}
	return out
}

// TestDriftOnSampleMonths checks the drift command's files on the lab's
// months: the JSON contract and a self-contained HTML page.
func TestDriftOnSampleMonths(t *testing.T) {
	src := sampleDir(t)
	out := t.TempDir()
	mustRun(t, "drift", "--reference", filepath.Join(src, "month_000"), "--current", filepath.Join(src, "month_001"), "--out", out, "--threshold", "0.02")
	raw, err := os.ReadFile(filepath.Join(out, "drift.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep map[string]any
	if err := json.Unmarshal(raw, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"reference", "current", "drift_share", "drifted_columns", "threshold", "retrain", "columns"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("drift.json lacks %q", k)
		}
	}
	cols, _ := rep["columns"].([]any)
	if len(cols) != 15 {
		t.Fatalf("%d columns, want the 14 features and churn_label", len(cols))
	}
	for _, c := range cols {
		m := c.(map[string]any)
		for _, k := range []string{"column", "type", "test", "score", "stat_threshold", "drifted"} {
			if _, ok := m[k]; !ok {
				t.Errorf("column %v lacks %q", m["column"], k)
			}
		}
	}
	if rep["retrain"] != true {
		t.Errorf("retrain %v: rebuffer_events_7d drifts between the lab's months", rep["retrain"])
	}
	html, err := os.ReadFile(filepath.Join(out, "drift.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, banned := range []string{"<script src", "<link ", "http://", "https://"} {
		if bytes.Contains(html, []byte(banned)) {
			t.Errorf("drift.html is not self-contained: contains %q", banned)
		}
	}
	if !bytes.Contains(html, []byte("<svg")) || !bytes.Contains(html, []byte("rebuffer_events_7d")) {
		t.Error("drift.html lacks the charts or the column names")
	}
}

// TestTrainEvaluate checks the files and metric keys of train and evaluate.
func TestTrainEvaluate(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "1", "--users", "2000", "--seed", "4")
	month := filepath.Join(data, "month_000")
	out := filepath.Join(dir, "train")
	mustRun(t, "train", "--data", month, "--as-of", "2024-01-31", "--out", out)
	keys := []string{"val_auc", "val_f1", "val_acc", "val_precision", "val_recall", "val_logloss", "train_time_s", "train_rows", "val_rows"}
	metrics := readMetrics(t, filepath.Join(out, "metrics.json"), keys)
	if metrics["val_auc"] < 0.75 {
		t.Errorf("val_auc %.4f on a generated month, want >= 0.75", metrics["val_auc"])
	}
	preds := readColumn(t, filepath.Join(out, "val_predictions.csv"), 0)
	if len(preds) != int(metrics["val_rows"]) {
		t.Errorf("%d prediction rows, metrics say %v", len(preds), metrics["val_rows"])
	}
	eval := filepath.Join(dir, "eval")
	mustRun(t, "evaluate", "--model", filepath.Join(out, "model.json"), "--data", month, "--as-of", "2024-01-31", "--out", eval)
	em := readMetrics(t, filepath.Join(eval, "metrics.json"), keys[:6])
	if em["val_auc"] != metrics["val_auc"] {
		t.Errorf("evaluate on the same month gives AUC %v, train said %v", em["val_auc"], metrics["val_auc"])
	}
}

func readMetrics(t *testing.T, path string, keys []string) map[string]float64 {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]float64
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q", path, k)
		}
	}
	return m
}

func TestUsageAndErrors(t *testing.T) {
	state := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"missing flag", []string{"ingest", "--state", state, "--data", "x"}, 2, "--as-of is required"},
		{"bad date", []string{"ingest", "--state", state, "--data", "x", "--as-of", "31/01/2024"}, 2, "YYYY-MM-DD"},
		{"missing month dir", []string{"ingest", "--state", state, "--data", filepath.Join(state, "nope"), "--as-of", "2024-01-31"}, 1, "no such file"},
		{"run on nothing ingested", []string{"run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29"}, 1, "SnapshotNotFoundError"},
		{"unknown version", []string{"registry", "show", "v9", "--state", state}, 1, "not found"},
		{"bad drift spec", []string{"gen", "--out", state, "--drift", "2=feature"}, 2, "MONTH:KIND"},
		{"predict without a model", []string{"predict", "--state", state, "--user-id", "x"}, 1, "HTTP 503"},
		{"unknown approval token", []string{"registry", "approve", "abc", "--state", state}, 1, "no paused execution"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := churnops(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errs+out, tc.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errs, tc.wantCode, tc.wantErr)
			}
		})
	}
}

// TestApprovalThroughTheCLI: run --require-approval pauses with a token;
// `registry approve` resumes it as the OS user, who is recorded with the
// decision and shown by `registry show`; the token is then consumed.
func TestApprovalThroughTheCLI(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "800", "--seed", "5")
	for i, asOf := range []string{"2024-01-31", "2024-02-29"} {
		mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, fmt.Sprintf("month_%03d", i)), "--as-of", asOf)
	}
	out := mustRun(t, "run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29", "--threshold", "1", "--require-approval")
	_, after, ok := strings.Cut(out, "approve: churnops registry approve ")
	if !ok {
		t.Fatalf("run printed no approval token:\n%s", out)
	}
	token := strings.Fields(after)[0]
	out = mustRun(t, "registry", "approve", token, "--state", state)
	me, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "approving as "+me.Username) {
		t.Errorf("approve output lacks the approver %q:\n%s", me.Username, out)
	}
	show := mustRun(t, "registry", "show", "1", "--state", state)
	for _, want := range []string{"stage=Production", "decided by:  " + me.Username} {
		if !strings.Contains(show, want) {
			t.Errorf("registry show lacks %q:\n%s", want, show)
		}
	}
	if code, _, errs := churnops(t, "registry", "approve", token, "--state", state); code != 1 || !strings.Contains(errs, "no paused execution") {
		t.Errorf("second approve: exit %d, %s", code, errs)
	}
}

// TestStateProblems (#13 defects 3, 4 and the mistyped --state): a damaged,
// empty or missing state is a clear error naming the file, exit 1 — no
// panic, no new empty store in its place.
func TestStateProblems(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "1", "--users", "600", "--seed", "5")
	good := filepath.Join(dir, "good")
	mustRun(t, "ingest", "--state", good, "--data", filepath.Join(data, "month_000"), "--as-of", "2024-01-31")
	state := func(name string, damage func(dir string) error) string {
		t.Helper()
		d := filepath.Join(dir, name)
		if err := os.CopyFS(d, os.DirFS(good)); err != nil {
			t.Fatal(err)
		}
		if err := damage(d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	garbled := state("garbled", func(d string) error {
		f, err := os.OpenFile(filepath.Join(d, "registry.db"), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteAt(bytes.Repeat([]byte{0xff}, 4*4096), 2*4096)
		return err
	})
	empty := state("empty", func(d string) error { return os.Truncate(filepath.Join(d, "registry.db"), 0) })
	typo := filepath.Join(dir, "goood")
	cases := []struct {
		name    string
		args    []string
		wantErr []string
	}{
		{"garbled registry.db: list", []string{"registry", "list", "--state", garbled}, []string{"registry.db is damaged", "backup"}},
		{"garbled registry.db: run", []string{"run", "--state", garbled, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29"}, []string{"registry.db is damaged"}},
		{"empty registry.db: list", []string{"registry", "list", "--state", empty}, []string{"registry.db is damaged", "empty (0 bytes)"}},
		{"empty registry.db: ingest does not start over", []string{"ingest", "--state", empty, "--data", filepath.Join(data, "month_000"), "--as-of", "2024-01-31"}, []string{"registry.db is damaged"}},
		{"mistyped --state: list", []string{"registry", "list", "--state", typo}, []string{"no churnops state", "check --state"}},
		{"mistyped --state: predict", []string{"predict", "--state", typo, "--user-id", "x"}, []string{"no churnops state"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := churnops(t, tc.args...)
			if code != 1 {
				t.Errorf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errs)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(errs, want) {
					t.Errorf("stderr lacks %q: %s", want, errs)
				}
			}
		})
	}
	if _, err := os.Stat(typo); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a command on a mistyped --state created it: %v", err)
	}
	if info, err := os.Stat(filepath.Join(empty, "registry.db")); err != nil || info.Size() != 0 {
		t.Errorf("the empty registry.db was re-initialised: %v", err)
	}
}

// TestSmallDefects (#13 defect 13): mistakes on the command line are
// refused up front with a message that says what is wrong, before anything
// is trained or announced.
func TestSmallDefects(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	state := filepath.Join(dir, "state")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "600", "--seed", "5")
	for i, asOf := range []string{"2024-01-31", "2024-02-29"} {
		mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, fmt.Sprintf("month_%03d", i)), "--as-of", asOf)
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	run := []string{"run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29"}
	cases := []struct {
		name     string
		args     []string
		wantCode int
		want     string
		notWant  string
	}{
		{"reference month after the current", []string{"run", "--state", state, "--reference-as-of", "2024-02-29", "--current-as-of", "2024-01-31"}, 2, "must be before", ""},
		{"NaN threshold", append(run, "--threshold", "NaN"), 2, "threshold NaN is not a number", "json"},
		{"NaN delta", append(run, "--delta", "NaN"), 2, "delta NaN is not a number", "json"},
		{"model name with a path", append(run, "--model-name", "../x"), 2, `model name "../x"`, ""},
		{"promote a word", []string{"registry", "promote", "abc", "--state", state}, 2, `version "abc": want a version number`, "v0"},
		{"show a negative version", []string{"registry", "show", "-1", "--state", state}, 2, `version "-1": want a version number`, "flag provided but not defined"},
		{"serve on a taken port", []string{"serve", "--state", state, "--addr", taken.Addr().String()}, 1, "address already in use", "listening"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := churnops(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(errs, tc.want) || tc.notWant != "" && strings.Contains(errs+out, tc.notWant) {
				t.Errorf("exit %d, stderr %q; want exit %d with %q and without %q", code, errs, tc.wantCode, tc.want, tc.notWant)
			}
		})
	}
	if out := mustRun(t, "registry", "list", "--state", state, "--json"); strings.TrimSpace(out) != "null" && strings.TrimSpace(out) != "[]" {
		t.Errorf("the refused commands registered versions: %s", out)
	}
}

// TestCheckCommand: `churnops check` exits 0 on a sound state and 1 on a
// damaged one, saying what is wrong; --repair fixes what is safe and then
// exits 0.
func TestCheckCommand(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "800", "--seed", "5")
	for i, asOf := range []string{"2024-01-31", "2024-02-29"} {
		mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, fmt.Sprintf("month_%03d", i)), "--as-of", asOf)
	}
	mustRun(t, "run", "--state", state, "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29", "--threshold", "0")
	if out := mustRun(t, "check", "--state", state); !strings.Contains(out, "no problems found") {
		t.Errorf("check on a sound state: %s", out)
	}
	// A version registered without its files (its run died): --repair
	// marks it orphaned, and the state is sound again.
	t.Setenv("CHURNOPS_ORPHAN_GRACE", "0")
	st, err := localstore.Open(state, localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	orphan, err := st.Registry.Register(t.Context(), registry.Version{Model: "churn", AsOf: "2024-02-29"})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, _ := churnops(t, "check", "--state", state)
	if code != 1 || !strings.Contains(out, fmt.Sprintf("churn v%d (None)", orphan.Version)) || !strings.Contains(out, "--repair would mark it Rejected") {
		t.Errorf("check with an orphan: exit %d\n%s", code, out)
	}
	if out := mustRun(t, "check", "--repair", "--state", state); !strings.Contains(out, "all repaired") {
		t.Errorf("check --repair: %s", out)
	}
	mustRun(t, "check", "--state", state)
	// A promoted version loses its artifact: not repairable.
	if err := os.Remove(filepath.Join(state, "blobs", "models", "churn", "v1", "model.json")); err != nil {
		t.Fatal(err)
	}
	code, out, errs := churnops(t, "check", "--state", state)
	if code != 1 || !strings.Contains(out, "[artifacts] churn v1") || !strings.Contains(out, "artifact models/churn/v1/model.json is missing") || !strings.Contains(errs, "problems found") {
		t.Errorf("check on a damaged state: exit %d\n%s%s", code, out, errs)
	}
	// Repair cannot restore a promoted version's artifact: it stays a
	// problem, with what to do.
	code, out, _ = churnops(t, "check", "--repair", "--state", state)
	if code != 1 || !strings.Contains(out, "to do: ") {
		t.Errorf("check --repair of an unrepairable problem: exit %d\n%s", code, out)
	}
}
