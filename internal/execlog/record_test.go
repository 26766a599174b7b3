package execlog_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/execlog"
)

var update = flag.Bool("update", false, "rewrite the golden records in testdata/")

// execution is what `churnops run --json` printed (and `registry approve
// --json` for the resumed one): testdata/*.history.json are real local
// executions of statemachine/retrain.asl.json on generated months.
type execution struct {
	ARN     string      `json:"executionArn"`
	Name    string      `json:"name"`
	Status  string      `json:"status"`
	History []asl.Event `json:"history"`
}

func loadHistory(t *testing.T, name string) execution {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name+".history.json"))
	if err != nil {
		t.Fatal(err)
	}
	var e execution
	if err := json.Unmarshal(raw, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

func path(r execlog.Record) []string {
	var p []string
	for _, v := range r.States {
		p = append(p, v.Name)
	}
	return p
}

// TestFromHistoryOfRealExecutions builds the record of each kind of end
// the retraining loop has and checks it against what the execution did,
// then against a golden record (go test -update rewrites them).
func TestFromHistoryOfRealExecutions(t *testing.T) {
	tests := []struct {
		name              string
		status, outcome   string
		ref, cur, errName string
		path              []string
		waiting           string // the state a paused execution waits in
	}{
		{name: "bootstrap_no_drift", status: "SUCCEEDED", outcome: "no_drift", ref: "2024-01-31", cur: "2024-02-29",
			path: []string{"CheckProduction", "BootstrapGate", "Bootstrap", "Train", "Evaluate", "PromotionGate", "ApprovalGate", "Promote", "PhaseGate", "Bootstrapped", "Drift", "DriftGate", "NoRetrain", "Done"}},
		{name: "retrain_promoted", status: "SUCCEEDED", outcome: "promoted", ref: "2024-02-29", cur: "2024-03-31",
			path: []string{"CheckProduction", "BootstrapGate", "Drift", "DriftGate", "Retrain", "Train", "Evaluate", "PromotionGate", "ApprovalGate", "Promote", "PhaseGate", "Done"}},
		{name: "missing_snapshot", status: "FAILED", outcome: "failed", ref: "2024-03-31", cur: "2024-05-31", errName: "SnapshotNotFoundError",
			path: []string{"CheckProduction", "BootstrapGate", "Drift", "MissingSnapshot"}},
		{name: "paused", status: "PAUSED", outcome: "pending_approval", ref: "2024-03-31", cur: "2024-04-30", waiting: "WaitForApproval",
			path: []string{"CheckProduction", "BootstrapGate", "Drift", "DriftGate", "Retrain", "Train", "Evaluate", "PromotionGate", "ApprovalGate", "WaitForApproval"}},
		{name: "approved", status: "SUCCEEDED", outcome: "promoted", ref: "2024-03-31", cur: "2024-04-30",
			path: []string{"CheckProduction", "BootstrapGate", "Drift", "DriftGate", "Retrain", "Train", "Evaluate", "PromotionGate", "ApprovalGate", "WaitForApproval", "Promote", "PhaseGate", "Done"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := loadHistory(t, tt.name)
			r, err := execlog.FromHistory(e.ARN, e.Name, e.History)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != tt.status || r.Status != e.Status || r.Outcome != tt.outcome {
				t.Errorf("status %s outcome %s, want %s (the executor said %s) and %s", r.Status, r.Outcome, tt.status, e.Status, tt.outcome)
			}
			if r.ReferenceAsOf != tt.ref || r.CurrentAsOf != tt.cur {
				t.Errorf("months %s vs %s, want %s vs %s", r.CurrentAsOf, r.ReferenceAsOf, tt.cur, tt.ref)
			}
			if r.Error != tt.errName {
				t.Errorf("error %q, want %q", r.Error, tt.errName)
			}
			if got := path(r); !slices.Equal(got, tt.path) {
				t.Errorf("path %v\nwant %v", got, tt.path)
			}
			if first, last := e.History[0].Timestamp, e.History[len(e.History)-1].Timestamp; !r.Start.Equal(first) || !r.Stop.Equal(last) {
				t.Errorf("start..stop %v..%v, want %v..%v", r.Start, r.Stop, first, last)
			}
			// Each visit's duration is the executor's, and visits follow
			// one another in time.
			exits := map[string][]time.Duration{}
			for _, ev := range e.History {
				if ev.Type == asl.EventStateExited {
					exits[ev.State] = append(exits[ev.State], ev.Duration)
				}
			}
			for i, v := range r.States {
				if d := exits[v.Name]; len(d) > 0 {
					if v.Duration != d[0] {
						t.Errorf("%s: duration %v, the executor measured %v", v.Name, v.Duration, d[0])
					}
					exits[v.Name] = d[1:]
				}
				if i > 0 && v.Entered.Before(r.States[i-1].Entered) {
					t.Errorf("%s entered before %s", v.Name, r.States[i-1].Name)
				}
				if i < len(r.States)-1 && v.Next != r.States[i+1].Name {
					t.Errorf("%s: next %q, but the execution went to %s", v.Name, v.Next, r.States[i+1].Name)
				}
				if v.Waiting != (v.Name == tt.waiting) {
					t.Errorf("%s: waiting=%v", v.Name, v.Waiting)
				}
			}
			if tt.errName != "" {
				if last := r.States[len(r.States)-1]; last.Error != tt.errName {
					t.Errorf("last state %s: error %q, want %q", last.Name, last.Error, tt.errName)
				}
				if !strings.Contains(r.Cause, "2024-05-31") {
					t.Errorf("cause %q does not name the missing month", r.Cause)
				}
			}
			if s, err := r.State(); err != nil || s.ModelName != "churn" {
				t.Errorf("state data: model %q, err %v", s.ModelName, err)
			}
			golden(t, filepath.Join("testdata", tt.name+".record.json"), &r)
		})
	}
}

func golden(t *testing.T, file string, r *execlog.Record) {
	t.Helper()
	got, err := execlog.Encode(r)
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("record differs from %s (go test -update rewrites it):\n%s", file, got)
	}
	back, err := execlog.Decode(file, want)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := execlog.Encode(&back); !bytes.Equal(again, want) {
		t.Errorf("%s does not round-trip", file)
	}
}

// TestFromHistoryEvents covers what the retraining loop's local runs do
// not show: Step Functions' histories (no Duration: timestamps only),
// retries, Map iterations, aborts and incomplete histories.
func TestFromHistoryEvents(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 6, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	inner := &asl.MapEvent{State: "Score", Index: 0, Items: 2}
	tests := []struct {
		name    string
		events  []asl.Event
		err     error
		status  string
		outcome string
		want    []execlog.Visit
	}{
		{
			name: "step functions history: durations from timestamps, a retried task, a Map's iterations left out",
			events: []asl.Event{
				{Type: asl.EventExecutionStarted, Timestamp: at(0), Input: json.RawMessage(`{"reference_as_of":"2024-03-31","current_as_of":"2024-04-30"}`)},
				{Type: asl.EventStateEntered, State: "Drift", StateType: "Task", Timestamp: at(10)},
				{Type: asl.EventStateRetried, State: "Drift", Timestamp: at(500), Error: "Lambda.ServiceException", Attempt: 1},
				{Type: asl.EventStateExited, State: "Drift", Timestamp: at(1510), Next: "Score", Output: json.RawMessage(`{"drift":{"reference_as_of":"2024-03-31","current_as_of":"2024-04-30","drift_share":0.5}}`)},
				{Type: asl.EventStateEntered, State: "Score", StateType: "Map", Timestamp: at(1510)},
				{Type: asl.EventMapRunStarted, State: "Score", Timestamp: at(1511), Map: inner},
				{Type: asl.EventStateEntered, State: "ScoreShard", StateType: "Task", Timestamp: at(1512), Map: inner},
				{Type: asl.EventStateExited, State: "ScoreShard", Timestamp: at(1600), Map: inner},
				{Type: asl.EventStateExited, State: "Score", Timestamp: at(2010), Next: "NoRetrain"},
				{Type: asl.EventStateEntered, State: "NoRetrain", StateType: "Pass", Timestamp: at(2010)},
				{Type: asl.EventStateExited, State: "NoRetrain", Timestamp: at(2011), Output: json.RawMessage(`{"result":{"outcome":"no_drift"}}`)},
				{Type: asl.EventExecutionSucceeded, Timestamp: at(2012), Output: json.RawMessage(`{"result":{"outcome":"no_drift"}}`)},
			},
			status: "SUCCEEDED", outcome: "no_drift",
			want: []execlog.Visit{
				{Name: "Drift", Type: "Task", Entered: at(10), Duration: 1500 * time.Millisecond, Next: "Score", Retries: 1},
				{Name: "Score", Type: "Map", Entered: at(1510), Duration: 500 * time.Millisecond, Next: "NoRetrain"},
				{Name: "NoRetrain", Type: "Pass", Entered: at(2010), Duration: time.Millisecond},
			},
		},
		{
			name: "aborted in a task: the task lasts until the abort",
			events: []asl.Event{
				{Type: asl.EventExecutionStarted, Timestamp: at(0)},
				{Type: asl.EventStateEntered, State: "Train", StateType: "Task", Timestamp: at(5)},
				{Type: asl.EventExecutionAborted, Timestamp: at(905), Cause: "context canceled"},
			},
			status: "ABORTED", outcome: "aborted",
			want: []execlog.Visit{{Name: "Train", Type: "Task", Entered: at(5), Duration: 900 * time.Millisecond}},
		},
		{
			name: "no end: incomplete",
			events: []asl.Event{
				{Type: asl.EventExecutionStarted, Timestamp: at(0)},
				{Type: asl.EventStateEntered, State: "Train", StateType: "Task", Timestamp: at(5)},
			},
			err: execlog.ErrIncomplete,
		},
		{
			name:   "no start: incomplete",
			events: []asl.Event{{Type: asl.EventExecutionSucceeded, Timestamp: at(0)}},
			err:    execlog.ErrIncomplete,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := execlog.FromHistory("arn:aws:states:eu-west-1:1:execution:retrain:x", "x", tt.events)
			if !errors.Is(err, tt.err) {
				t.Fatalf("err %v, want %v", err, tt.err)
			}
			if tt.err != nil {
				return
			}
			if r.Status != tt.status || r.Outcome != tt.outcome {
				t.Errorf("status %s outcome %s, want %s %s", r.Status, r.Outcome, tt.status, tt.outcome)
			}
			if !slices.EqualFunc(r.States, tt.want, func(a, b execlog.Visit) bool {
				return a.Name == b.Name && a.Type == b.Type && a.Entered.Equal(b.Entered) && a.Duration == b.Duration && a.Next == b.Next && a.Retries == b.Retries && a.Error == b.Error
			}) {
				t.Errorf("visits\n%+v\nwant\n%+v", r.States, tt.want)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	tests := []struct{ name, doc, want string }{
		{"newer schema", `{"schema": 99, "name": "x", "start": "2024-05-01T00:00:00Z"}`, "newer"},
		{"not a record", `{"drift_share": 0.2}`, "not an execution record"},
		{"not JSON", `<html>`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := execlog.Decode("k", []byte(tt.doc)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err %v, want one saying %q", err, tt.want)
			}
		})
	}
}
