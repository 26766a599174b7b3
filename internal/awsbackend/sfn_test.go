package awsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/pipeline"
)

// fakeSFN plays a Step Functions execution: RUNNING for a few polls with
// the history given, then the final status (unless it stays waiting).
type fakeSFN struct {
	polls    int // DescribeExecution calls answered RUNNING before final
	final    sfntypes.ExecutionStatus
	history  []sfntypes.HistoryEvent
	started  *sfn.StartExecutionInput
	success  *sfn.SendTaskSuccessInput
	failure  *sfn.SendTaskFailureInput
	startErr error
	taskErr  error
}

func (f *fakeSFN) StartExecution(_ context.Context, in *sfn.StartExecutionInput, _ ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error) {
	f.started = in
	if f.startErr != nil {
		return nil, f.startErr
	}
	return &sfn.StartExecutionOutput{ExecutionArn: aws.String("arn:aws:states:us-east-1:1:execution:sm:" + aws.ToString(in.Name))}, nil
}

func (f *fakeSFN) DescribeExecution(_ context.Context, in *sfn.DescribeExecutionInput, _ ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error) {
	out := &sfn.DescribeExecutionOutput{ExecutionArn: in.ExecutionArn, Name: aws.String("n"), Status: sfntypes.ExecutionStatusRunning}
	if f.polls > 0 || f.final == "" {
		f.polls--
		return out, nil
	}
	out.Status = f.final
	if f.final == sfntypes.ExecutionStatusSucceeded {
		out.Output = aws.String(`{"result":{"outcome":"no_drift"}}`)
	} else {
		out.Error, out.Cause = aws.String("SnapshotNotFoundError"), aws.String("no snapshot")
	}
	return out, nil
}

func (f *fakeSFN) GetExecutionHistory(context.Context, *sfn.GetExecutionHistoryInput, ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error) {
	return &sfn.GetExecutionHistoryOutput{Events: f.history}, nil
}

func (f *fakeSFN) SendTaskSuccess(_ context.Context, in *sfn.SendTaskSuccessInput, _ ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error) {
	f.success = in
	return &sfn.SendTaskSuccessOutput{}, f.taskErr
}

func (f *fakeSFN) SendTaskFailure(_ context.Context, in *sfn.SendTaskFailureInput, _ ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error) {
	f.failure = in
	return &sfn.SendTaskFailureOutput{}, f.taskErr
}

func entered(name string) sfntypes.HistoryEvent {
	return sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeTaskStateEntered, StateEnteredEventDetails: &sfntypes.StateEnteredEventDetails{Name: aws.String(name)}}
}

func exited() sfntypes.HistoryEvent {
	return sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeTaskStateExited}
}

func scheduled(payload string) sfntypes.HistoryEvent {
	return sfntypes.HistoryEvent{Type: sfntypes.HistoryEventTypeTaskScheduled, TaskScheduledEventDetails: &sfntypes.TaskScheduledEventDetails{
		Parameters: aws.String(`{"FunctionName":"arn:compare","Payload":` + payload + `}`)}}
}

func TestStepFunctionsStart(t *testing.T) {
	in := pipeline.ExecutionInput{ModelName: "churn", ReferenceAsOf: "previous", CurrentAsOf: "latest", Threshold: 0.02}
	cases := []struct {
		name        string
		fake        *fakeSFN
		wantStatus  string
		wantPending *pipeline.Pending
		wantErr     string
	}{
		{"succeeds after polling", &fakeSFN{polls: 2, final: sfntypes.ExecutionStatusSucceeded,
			history: []sfntypes.HistoryEvent{entered("CheckProduction"), exited(), entered("Drift")}}, "SUCCEEDED", nil, ""},
		{"fails", &fakeSFN{final: sfntypes.ExecutionStatusFailed}, "FAILED", nil, ""},
		{"waits for approval: paused, with the token from the history", &fakeSFN{
			history: []sfntypes.HistoryEvent{entered("Evaluate"), exited(), entered("WaitForApproval"),
				scheduled(`{"action":"request_approval","task_token":"TOKEN","model_name":"churn","candidate_version":3,"candidate_auc":0.81,"production_auc":0.7,"bar":0.71}`)}},
			"PAUSED", &pipeline.Pending{Token: "TOKEN", Bar: 0.71}, ""},
		{"a reused name is refused", &fakeSFN{startErr: &sfntypes.ExecutionAlreadyExists{Message: aws.String("exists")}}, "", nil, "was used before"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := &StepFunctions{client: tc.fake, arn: "arn:sm", poll: time.Millisecond}
			exec, err := s.Start(t.Context(), "monthly", in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Start: %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var sent pipeline.ExecutionInput
			if err := json.Unmarshal([]byte(aws.ToString(tc.fake.started.Input)), &sent); err != nil || sent != in || aws.ToString(tc.fake.started.Name) != "monthly" {
				t.Errorf("started %q with %+v (%v), want monthly with %+v", aws.ToString(tc.fake.started.Name), sent, err, in)
			}
			if exec.Status != tc.wantStatus || !strings.HasSuffix(exec.ID, ":monthly") {
				t.Errorf("execution %s %s, want %s", exec.ID, exec.Status, tc.wantStatus)
			}
			switch p := exec.Pending; {
			case tc.wantPending == nil && p != nil:
				t.Errorf("pending %+v, want none", p)
			case tc.wantPending != nil && (p == nil || p.Token != tc.wantPending.Token || p.Bar != tc.wantPending.Bar || p.Version != 3 || p.Execution != exec.ID):
				t.Errorf("pending %+v, want token %s, v3 of %s", p, tc.wantPending.Token, exec.ID)
			}
		})
	}
}

// TestStepFunctionsAnswers: approve and reject send who answered, in the
// forms Compare reads (the task output, the failure cause).
func TestStepFunctionsAnswers(t *testing.T) {
	f := &fakeSFN{}
	s := &StepFunctions{client: f}
	if _, err := s.Approve(t.Context(), "TOK", "arn:aws:iam::1:user/jane"); err != nil {
		t.Fatal(err)
	}
	var a pipeline.ApprovalAnswer
	if err := json.Unmarshal([]byte(aws.ToString(f.success.Output)), &a); err != nil || !a.Approved || a.ApprovedBy != "arn:aws:iam::1:user/jane" || aws.ToString(f.success.TaskToken) != "TOK" {
		t.Errorf("SendTaskSuccess %+v: %+v %v", f.success, a, err)
	}
	if _, err := s.Reject(t.Context(), "TOK", "arn:aws:iam::1:user/joe", "noise"); err != nil {
		t.Fatal(err)
	}
	var r pipeline.Rejection
	if err := json.Unmarshal([]byte(aws.ToString(f.failure.Cause)), &r); err != nil || r.DecidedBy != "arn:aws:iam::1:user/joe" || r.Reason != "noise" || aws.ToString(f.failure.Error) != "ApprovalRejected" {
		t.Errorf("SendTaskFailure %+v: %+v %v", f.failure, r, err)
	}
	f.taskErr = &sfntypes.TaskDoesNotExist{Message: aws.String("gone")}
	if _, err := s.Approve(t.Context(), "TOK", "x"); err == nil || !strings.Contains(err.Error(), "already answered") {
		t.Errorf("Approve of an answered token: %v", err)
	}
	f.taskErr = errors.New("throttled")
	if _, err := s.Reject(t.Context(), "TOK", "x", "y"); err == nil || !strings.Contains(err.Error(), "throttled") {
		t.Errorf("Reject failing: %v", err)
	}
}
