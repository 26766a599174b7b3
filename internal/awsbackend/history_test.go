package awsbackend_test

import (
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/execlog"
)

// TestHistoryToRecord turns a Step Functions history, as GetExecutionHistory
// returns it while the final Report step runs, into the execution record
// the local run would write: the path, a retry, a caught error, an inline
// Map's iterations left out, and the end FinishAt adds.
func TestHistoryToRecord(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 6, 0, 0, 0, time.UTC)
	id := int64(0)
	ev := func(ms int, typ sfntypes.HistoryEventType, set func(*sfntypes.HistoryEvent)) sfntypes.HistoryEvent {
		id++
		h := sfntypes.HistoryEvent{Id: id, Type: typ, Timestamp: aws.Time(t0.Add(time.Duration(ms) * time.Millisecond))}
		if set != nil {
			set(&h)
		}
		return h
	}
	entered := func(name, input string) func(*sfntypes.HistoryEvent) {
		return func(h *sfntypes.HistoryEvent) {
			h.StateEnteredEventDetails = &sfntypes.StateEnteredEventDetails{Name: aws.String(name), Input: aws.String(input)}
		}
	}
	exited := func(name, output string) func(*sfntypes.HistoryEvent) {
		return func(h *sfntypes.HistoryEvent) {
			h.StateExitedEventDetails = &sfntypes.StateExitedEventDetails{Name: aws.String(name), Output: aws.String(output)}
		}
	}
	failed := func(e string) func(*sfntypes.HistoryEvent) {
		return func(h *sfntypes.HistoryEvent) {
			h.TaskFailedEventDetails = &sfntypes.TaskFailedEventDetails{Error: aws.String(e)}
		}
	}
	input := `{"model_name":"churn","reference_as_of":"2024-03-31","current_as_of":"2024-04-30","threshold":0.02}`
	state := `{"model_name":"churn","threshold":0.02,"drift":{"reference_as_of":"2024-03-31","current_as_of":"2024-04-30","drift_share":0,"threshold":0.02},"result":{"outcome":"no_drift"}}`
	hist := []sfntypes.HistoryEvent{
		ev(0, sfntypes.HistoryEventTypeExecutionStarted, func(h *sfntypes.HistoryEvent) {
			h.ExecutionStartedEventDetails = &sfntypes.ExecutionStartedEventDetails{Input: aws.String(input)}
		}),
		ev(10, sfntypes.HistoryEventTypeTaskStateEntered, entered("CheckProduction", input)),
		ev(11, sfntypes.HistoryEventTypeTaskScheduled, nil),
		ev(50, sfntypes.HistoryEventTypeTaskFailed, failed("Lambda.ServiceException")),
		ev(2050, sfntypes.HistoryEventTypeTaskScheduled, nil),
		ev(2090, sfntypes.HistoryEventTypeTaskSucceeded, nil),
		ev(2100, sfntypes.HistoryEventTypeTaskStateExited, exited("CheckProduction", input)),
		ev(2100, sfntypes.HistoryEventTypeMapStateEntered, entered("Shards", input)),
		ev(2101, sfntypes.HistoryEventTypeMapIterationStarted, nil),
		ev(2102, sfntypes.HistoryEventTypeTaskStateEntered, entered("Inner", "{}")),
		ev(2150, sfntypes.HistoryEventTypeTaskStateExited, exited("Inner", "{}")),
		ev(2151, sfntypes.HistoryEventTypeMapIterationSucceeded, nil),
		ev(2200, sfntypes.HistoryEventTypeMapStateExited, exited("Shards", input)),
		ev(2200, sfntypes.HistoryEventTypeTaskStateEntered, entered("Drift", input)),
		ev(2201, sfntypes.HistoryEventTypeTaskScheduled, nil),
		ev(2300, sfntypes.HistoryEventTypeTaskFailed, failed("SnapshotNotFoundError")),
		ev(2301, sfntypes.HistoryEventTypeTaskStateExited, exited("Drift", state)),
		ev(2301, sfntypes.HistoryEventTypeChoiceStateEntered, entered("DriftGate", state)),
		ev(2302, sfntypes.HistoryEventTypeChoiceStateExited, exited("DriftGate", state)),
		ev(2302, sfntypes.HistoryEventTypeTaskStateEntered, entered("Report", state)),
	}
	events := awsbackend.HistoryEvents(hist)
	if _, err := execlog.FromHistory("arn", "x", events); err == nil {
		t.Fatal("a running execution's history made a record")
	}
	end := t0.Add(2400 * time.Millisecond)
	r, err := execlog.FromHistory("arn:aws:states:eu-west-1:1:execution:retrain:x", "x", execlog.FinishAt(events, end, []byte(state), "", ""))
	if err != nil {
		t.Fatal(err)
	}
	var path []string
	for _, v := range r.States {
		path = append(path, v.Name+":"+v.Type)
	}
	if want := []string{"CheckProduction:Task", "Shards:Map", "Drift:Task", "DriftGate:Choice", "Report:Task"}; !slices.Equal(path, want) {
		t.Errorf("path %v, want %v", path, want)
	}
	if r.States[0].Retries != 1 || r.States[0].Error != "" || r.States[0].Duration != 2090*time.Millisecond {
		t.Errorf("CheckProduction %+v: one retry, no error, 2.09s", r.States[0])
	}
	if r.States[2].Error != "SnapshotNotFoundError" {
		t.Errorf("Drift %+v: the caught error", r.States[2])
	}
	if r.Status != "SUCCEEDED" || r.Outcome != "no_drift" || !r.Stop.Equal(end) || r.CurrentAsOf != "2024-04-30" || r.States[4].Duration != 98*time.Millisecond {
		t.Errorf("record %+v", r)
	}
	f, err := execlog.FromHistory("arn", "x", execlog.FinishAt(events, end, nil, "PipelineFailed", "boom"))
	if err != nil || f.Status != "FAILED" || f.Error != "PipelineFailed" || f.Outcome != "failed" {
		t.Errorf("failed record %+v, %v", f, err)
	}
}
