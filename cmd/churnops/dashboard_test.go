package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestRunRecordsAndDashboard runs the loop with approval from one
// directory and answers it from another with the very command the run
// printed: the run says where its drift report and the dashboard are, the
// approval prompt carries the absolute --state, each execution is recorded
// and the static dashboard follows.
func TestRunRecordsAndDashboard(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	mustRun(t, "gen", "--out", "data", "--months", "2", "--users", "1500", "--seed", "3")
	for i, asOf := range []string{"2024-01-31", "2024-02-29"} {
		mustRun(t, "ingest", "--state", "st", "--data", filepath.Join("data", "month_00"+string(rune('0'+i))), "--as-of", asOf)
	}
	out := mustRun(t, "run", "--state", "st", "--reference-as-of", "2024-01-31", "--current-as-of", "2024-02-29", "--require-approval", "--name", "with-approval")
	state := filepath.Join(dir, "st")
	approve := regexp.MustCompile(`approve: (churnops registry approve \S+ --state (\S+))`).FindStringSubmatch(out)
	if approve == nil || approve[2] != state {
		t.Fatalf("the approval prompt does not repeat the absolute --state %s:\n%s", state, out)
	}
	dashboard := filepath.Join(state, "blobs", "reports", "index.html")
	if !strings.Contains(out, "dashboard:    "+dashboard) {
		t.Errorf("run does not say where the dashboard is:\n%s", out)
	}
	page := readFile(t, dashboard)
	if !strings.Contains(page, "with-approval") || !strings.Contains(page, strings.Fields(approve[1])[3]) {
		t.Errorf("the dashboard does not show the paused execution and its token")
	}
	records, _ := filepath.Glob(filepath.Join(state, "blobs", "reports", "executions", "*_with-approval.paused.json"))
	if len(records) != 1 {
		t.Errorf("paused execution records: %v, want one", records)
	}

	// Answer from elsewhere with the printed command.
	t.Chdir(t.TempDir())
	args := strings.Fields(approve[1])[1:]
	out = mustRun(t, args...)
	m := regexp.MustCompile(`drift report: (\S+)`).FindStringSubmatch(out)
	if m == nil || !strings.HasPrefix(m[1], filepath.Join(state, "blobs", "reports", "drift")+string(filepath.Separator)) {
		t.Fatalf("the resumed run does not say where its drift report is:\n%s", out)
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Errorf("the drift report it names: %v", err)
	}
	records, _ = filepath.Glob(filepath.Join(state, "blobs", "reports", "executions", "*_with-approval.json"))
	if len(records) != 1 || !strings.Contains(readFile(t, records[0]), `"status": "SUCCEEDED"`) {
		t.Errorf("ended execution records: %v, want one that succeeded", records)
	}
	page = readFile(t, dashboard)
	if strings.Contains(page, "waiting for approval</span>") || !strings.Contains(page, `data-stage="Production"`) {
		t.Errorf("the dashboard was not rendered again after the approval")
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
