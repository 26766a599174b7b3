package awsbackend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"
)

// EnvStateMachineArn names the retraining state machine for the CLI.
const EnvStateMachineArn = "CHURNOPS_STATE_MACHINE_ARN"

// StepFunctions starts and answers executions of the deployed state machine.
type StepFunctions struct {
	client *sfn.Client
	arn    string
}

// NewStepFunctions connects to Step Functions; the state machine ARN comes
// from CHURNOPS_STATE_MACHINE_ARN (needed to start executions, not to answer
// approvals).
func NewStepFunctions(ctx context.Context) (*StepFunctions, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("load AWS config: %w", err)
	}
	return &StepFunctions{client: sfn.NewFromConfig(cfg), arn: os.Getenv(EnvStateMachineArn)}, nil
}

// Execution is a finished (or still running, on timeout) execution.
type Execution struct {
	Arn    string
	Status string
	Output json.RawMessage
	Error  string
	Cause  string
}

// Run starts an execution and polls until it leaves RUNNING or ctx ends.
func (s *StepFunctions) Run(ctx context.Context, name string, input []byte, poll time.Duration) (*Execution, error) {
	if s.arn == "" {
		return nil, fmt.Errorf("environment variable %s is not set", EnvStateMachineArn)
	}
	in := &sfn.StartExecutionInput{StateMachineArn: aws.String(s.arn), Input: aws.String(string(input))}
	if name != "" {
		in.Name = aws.String(name)
	}
	out, err := s.client.StartExecution(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("start execution: %w", err)
	}
	for {
		d, err := s.client.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: out.ExecutionArn})
		if err != nil {
			return nil, fmt.Errorf("describe execution: %w", err)
		}
		e := &Execution{Arn: aws.ToString(out.ExecutionArn), Status: string(d.Status), Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause)}
		if d.Output != nil {
			e.Output = json.RawMessage(*d.Output)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return e, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// Approve answers a WaitForApproval task token with success.
func (s *StepFunctions) Approve(ctx context.Context, token string) error {
	_, err := s.client.SendTaskSuccess(ctx, &sfn.SendTaskSuccessInput{TaskToken: aws.String(token), Output: aws.String(`{"approved": true}`)})
	return taskErr(err, token)
}

// Reject answers a WaitForApproval task token with the ApprovalRejected
// error the state machine catches.
func (s *StepFunctions) Reject(ctx context.Context, token, reason string) error {
	_, err := s.client.SendTaskFailure(ctx, &sfn.SendTaskFailureInput{TaskToken: aws.String(token), Error: aws.String("ApprovalRejected"), Cause: aws.String(reason)})
	return taskErr(err, token)
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
