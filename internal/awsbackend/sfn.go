package awsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
)

// EnvStateMachineArn names the retraining state machine for the CLI.
const EnvStateMachineArn = "CHURNOPS_STATE_MACHINE_ARN"

// approvalState is the state machine's callback task (statemachine/retrain.asl.json).
const approvalState = "WaitForApproval"

// sfnClient is the part of *sfn.Client StepFunctions calls.
type sfnClient interface {
	StartExecution(ctx context.Context, in *sfn.StartExecutionInput, optFns ...func(*sfn.Options)) (*sfn.StartExecutionOutput, error)
	DescribeExecution(ctx context.Context, in *sfn.DescribeExecutionInput, optFns ...func(*sfn.Options)) (*sfn.DescribeExecutionOutput, error)
	GetExecutionHistory(ctx context.Context, in *sfn.GetExecutionHistoryInput, optFns ...func(*sfn.Options)) (*sfn.GetExecutionHistoryOutput, error)
	SendTaskSuccess(ctx context.Context, in *sfn.SendTaskSuccessInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskSuccessOutput, error)
	SendTaskFailure(ctx context.Context, in *sfn.SendTaskFailureInput, optFns ...func(*sfn.Options)) (*sfn.SendTaskFailureOutput, error)
}

var _ sfnClient = (*sfn.Client)(nil)

// StepFunctions starts and answers executions of the deployed state machine:
// the CLI's executions on --backend aws.
type StepFunctions struct {
	client sfnClient
	arn    string
	poll   time.Duration
}

// NewStepFunctions connects to Step Functions; the state machine ARN comes
// from CHURNOPS_STATE_MACHINE_ARN (needed to start executions, not to answer
// approvals).
func NewStepFunctions(ctx context.Context) (*StepFunctions, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return &StepFunctions{client: sfn.NewFromConfig(cfg), arn: os.Getenv(EnvStateMachineArn), poll: 2 * time.Second}, nil
}

// Start starts an execution and waits until it ends or pauses for
// approval (it then stays RUNNING on Step Functions; the Execution says
// PAUSED, with the token when the history shows it), or ctx ends.
func (s *StepFunctions) Start(ctx context.Context, name string, in pipeline.ExecutionInput) (*pipeline.Execution, error) {
	if s.arn == "" {
		return nil, fmt.Errorf("environment variable %s is not set", EnvStateMachineArn)
	}
	input, err := json.Marshal(in)
	if err != nil {
		return nil, err
	}
	start := &sfn.StartExecutionInput{StateMachineArn: aws.String(s.arn), Input: aws.String(string(input))}
	if name != "" {
		start.Name = aws.String(name)
	}
	out, err := s.client.StartExecution(ctx, start)
	var exists *sfntypes.ExecutionAlreadyExists
	if errors.As(err, &exists) {
		return nil, &pipeline.InvalidInputError{Msg: fmt.Sprintf("execution name %q was used before; a name identifies one execution (pick another, or leave it out)", name)}
	}
	if err != nil {
		return nil, fmt.Errorf("start execution: %w", err)
	}
	for {
		d, err := s.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			return nil, fmt.Errorf("describe execution: %w", err)
		}
		e := &pipeline.Execution{ID: aws.ToString(out.ExecutionArn), Name: aws.ToString(d.Name), Status: string(d.Status),
			Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause)}
		if d.Output != nil {
			e.Output = json.RawMessage(*d.Output)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return e, nil
		}
		pending, waiting, err := s.waitingForApproval(ctx, e.ID)
		if err != nil {
			return nil, err
		}
		if waiting {
			e.Status, e.Pending = "PAUSED", pending
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(s.poll):
		}
	}
}

// waitingForApproval reads the execution's history: it waits for approval
// when the last state entered is WaitForApproval and has not exited. The
// token and the candidate come from the task's scheduled parameters, when
// the history carries them.
func (s *StepFunctions) waitingForApproval(ctx context.Context, arn string) (*pipeline.Pending, bool, error) {
	var (
		last    string
		exited  bool
		payload string
	)
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
	for {
		out, err := s.client.GetExecutionHistory(ctx, in)
		if err != nil {
			return nil, false, fmt.Errorf("execution history: %w", err)
		}
		for _, ev := range out.Events {
			switch {
			case strings.HasSuffix(string(ev.Type), "StateEntered") && ev.StateEnteredEventDetails != nil:
				last, exited, payload = aws.ToString(ev.StateEnteredEventDetails.Name), false, ""
			case strings.HasSuffix(string(ev.Type), "StateExited"):
				exited = true
			case ev.TaskScheduledEventDetails != nil:
				payload = aws.ToString(ev.TaskScheduledEventDetails.Parameters)
			}
		}
		if out.NextToken == nil {
			break
		}
		in.NextToken = out.NextToken
	}
	if last != approvalState || exited {
		return nil, false, nil
	}
	var params struct {
		Payload pipeline.CompareInput `json:"Payload"`
	}
	if json.Unmarshal([]byte(payload), &params) != nil || params.Payload.TaskToken == "" {
		return nil, true, nil
	}
	p := params.Payload
	return &pipeline.Pending{Token: p.TaskToken, Bar: p.Bar, ApprovalInfo: registry.ApprovalInfo{
		Model: p.ModelName, Version: p.CandidateVersion, CandidateAUC: p.CandidateAUC, ProductionAUC: p.ProductionAUC, Execution: arn,
	}}, true, nil
}

// Approve answers a WaitForApproval task token with success, saying who
// approved. The execution goes on on Step Functions (Status RUNNING).
func (s *StepFunctions) Approve(ctx context.Context, token, by string) (*pipeline.Execution, error) {
	out, err := json.Marshal(pipeline.ApprovalAnswer{Approved: true, ApprovedBy: by})
	if err != nil {
		return nil, err
	}
	_, err = s.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(string(out))})
	if err != nil {
		return nil, taskErr(err, token)
	}
	return &pipeline.Execution{Status: pipeline.StatusRunning}, nil
}

// Reject answers a WaitForApproval task token with the ApprovalRejected
// error the state machine catches; the cause carries who refused and why.
func (s *StepFunctions) Reject(ctx context.Context, token, by, reason string) (*pipeline.Execution, error) {
	cause, err := json.Marshal(pipeline.Rejection{Reason: reason, DecidedBy: by})
	if err != nil {
		return nil, err
	}
	_, err = s.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("ApprovalRejected"), Cause: aws.String(string(cause))})
	if err != nil {
		return nil, taskErr(err, token)
	}
	return &pipeline.Execution{Status: pipeline.StatusRunning}, nil
}

func taskErr(err error, token string) error {
	var gone *sfntypes.TaskDoesNotExist
	var timedOut *sfntypes.TaskTimedOut
	switch {
	case err == nil:
		return nil
	case errors.As(err, &gone), errors.As(err, &timedOut):
		return fmt.Errorf("no execution waits on token %.16s…: already answered or timed out", token)
	}
	return fmt.Errorf("answer task token: %w", err)
}
