//go:build integration

package integration_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/awsbackend"
	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/s3store"
	"github.com/churnops/churnops/internal/statecheck"
)

// approvalWait bounds the wait for the bootstrap candidate to be trained
// and its approval requested.
const approvalWait = 3 * time.Minute

// TestApproval runs a first execution with require_approval on a model of
// its own (so it shares the months but not the registry with
// TestRetrainLoop): the bootstrap candidate clears the floor, the execution
// pauses at WaitForApproval with the task token recorded on the candidate in
// DynamoDB, and a person's answer (SendTaskSuccess / SendTaskFailure with
// ApprovalRejected, what `churnops registry approve|reject` send) decides.
func TestApproval(t *testing.T) {
	f := shared(t)
	reg := dynamo.NewRegistry(f.ddb, f.registryTable)
	// The answers go through what `churnops registry approve|reject
	// --backend aws` calls.
	sf, err := awsbackend.NewStepFunctions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	const approver = "arn:aws:iam::000000000000:user/integration-reviewer"
	approve := func(ctx context.Context, token string) error {
		_, err := sf.Approve(ctx, token, approver)
		return err
	}
	reject := func(ctx context.Context, token string) error {
		_, err := sf.Reject(ctx, token, approver, "integration test says no")
		return err
	}
	cases := []struct {
		name           string
		model          string
		answer         func(ctx context.Context, token string) error
		wantPath       []string
		wantStage      registry.Stage
		wantOutcome    string
		wantProduction bool
	}{
		{
			name: "approved", model: "churn-it-approved", answer: approve,
			wantPath: []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "BootstrapGate", "Bootstrap", "Train", "Evaluate", "PromotionGate", "ApprovalGate",
				"WaitForApproval", "Promote", "PhaseGate", "Bootstrapped", "Drift", "DriftGate", "NoRetrain", "PlanScoring", "ScoringGate", "ScoreShards", "SummarizeScores", "Report", "Done"},
			wantStage: registry.StageProduction, wantOutcome: registry.OutcomePromoted, wantProduction: true,
		},
		{
			name: "rejected", model: "churn-it-rejected", answer: reject,
			wantPath: []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "BootstrapGate", "Bootstrap", "Train", "Evaluate", "PromotionGate", "ApprovalGate",
				"WaitForApproval", "Reject", "PhaseGate", "Bootstrapped", "Drift", "DriftGate", "NoRetrain", "PlanScoring", "ScoringGate", "Report", "Done"},
			wantStage: registry.StageRejected, wantOutcome: registry.OutcomeRejected, wantProduction: false,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := executionInput(c.model, f.months[0].AsOf, f.months[1].AsOf)
			in.RequireApproval = true
			name := f.executionName("approval-" + c.name)
			arn := f.startExecution(t, name, in)

			token := f.waitForApprovalToken(t, reg, c.model, arn)
			if path := f.statesEntered(t, arn); len(path) == 0 || path[len(path)-1] != "WaitForApproval" {
				t.Fatalf("paused execution's path %v does not end at WaitForApproval", path)
			}
			// The Compare function records the token while Step Functions
			// invokes it; MiniStack starts waiting on the token only once the
			// invocation has returned, so an answer sent in between is refused
			// as unknown: retry it for a few seconds.
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(250 * time.Millisecond) {
				err := c.answer(t.Context(), token)
				if err == nil {
					break
				}
				if !strings.Contains(err.Error(), "no execution waits on token") || time.Now().After(deadline) {
					t.Fatalf("answer the task token: %v", err)
				}
			}
			got := f.waitExecution(t, name, arn)
			t.Logf("emulator: %s", got.describe())
			if got.Status != "SUCCEEDED" {
				t.Fatalf("execution did not succeed after the answer: %s", got.describe())
			}
			if !slices.Equal(got.Path, c.wantPath) {
				t.Errorf("path:\n got %v\nwant %v", got.Path, c.wantPath)
			}
			s := got.state(t)
			if s.Bootstrap == nil || s.Bootstrap.Outcome != c.wantOutcome {
				t.Errorf("bootstrap decision %+v, want outcome %s", s.Bootstrap, c.wantOutcome)
			}

			v, err := reg.Get(t.Context(), c.model, 1)
			if err != nil {
				t.Fatalf("registry Get %s v1: %v", c.model, err)
			}
			if v.Stage != c.wantStage || v.Decision == nil || v.Decision.Outcome != c.wantOutcome {
				t.Errorf("%s v1: stage %s, decision %+v; want %s, %s", c.model, v.Stage, v.Decision, c.wantStage, c.wantOutcome)
			}
			if v.Decision != nil && v.Decision.ApprovalToken != "" {
				t.Errorf("%s v1 still carries an approval token after the decision", c.model)
			}
			if v.Decision != nil && (v.Decision.DecidedBy != approver || v.Decision.Execution != arn) {
				t.Errorf("%s v1 decided by %q in %q, want %q in %s", c.model, v.Decision.DecidedBy, v.Decision.Execution, approver, arn)
			}
			p, err := reg.Production(t.Context(), c.model)
			switch {
			case c.wantProduction && (err != nil || p.Version != 1):
				t.Errorf("Production(%s) = v%d, %v; want v1", c.model, p.Version, err)
			case !c.wantProduction && !errors.Is(err, registry.ErrNoProduction):
				t.Errorf("Production(%s) = v%d, %v; want ErrNoProduction", c.model, p.Version, err)
			}

			// A token is answered once: a second answer is refused.
			if err := c.answer(t.Context(), token); err == nil {
				t.Errorf("answering the same task token twice succeeded; want TaskDoesNotExist or TaskTimedOut")
			}
		})
	}
}

// waitForApprovalToken waits until the Compare function's request_approval
// action has recorded the task token on the bootstrap candidate (v1) while
// the execution waits.
func (f *fixture) waitForApprovalToken(t *testing.T, reg registry.Registry, model, arn string) string {
	t.Helper()
	deadline := time.Now().Add(approvalWait)
	for {
		v, err := reg.Get(t.Context(), model, 1)
		if err == nil && v.Decision != nil && v.Decision.ApprovalToken != "" {
			if v.Decision.Outcome != "pending_approval" || v.Stage != registry.StageNone {
				t.Errorf("%s v1 while waiting: stage %s, outcome %q; want None, pending_approval", model, v.Stage, v.Decision.Outcome)
			}
			return v.Decision.ApprovalToken
		}
		if err != nil && !errors.Is(err, registry.ErrNotFound) {
			t.Fatalf("registry Get %s v1: %v", model, err)
		}
		d, derr := f.sfn.DescribeExecution(t.Context(), &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if derr != nil {
			t.Fatalf("DescribeExecution: %v", derr)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			t.Fatalf("execution ended (%s: %s %s) before asking for approval; path %v", d.Status, aws.ToString(d.Error), aws.ToString(d.Cause), f.statesEntered(t, arn))
		}
		if time.Now().After(deadline) {
			t.Fatalf("no approval token on %s v1 after %v; path %v", model, approvalWait, f.statesEntered(t, arn))
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// TestMissingSnapshot: a reference month that was never ingested fails the
// execution through the first state's Catch on the typed
// SnapshotNotFoundError, before anything is trained or registered.
func TestMissingSnapshot(t *testing.T) {
	f := shared(t)
	const model = "churn-it-missing"
	in := executionInput(model, "2023-12-31", f.months[0].AsOf)
	got := f.runExecution(t, f.executionName("missing-snapshot"), in)
	// The first state resolves and checks the months: nothing runs after.
	wantPath := []string{"Defaults", "ApplyDefaults", "IncomingGate", "CheckProduction", "ReportFailure", "FailGate", "MissingSnapshot"}
	if got.Status != "FAILED" || got.Error != "SnapshotNotFoundError" {
		t.Errorf("execution %s; want FAILED with SnapshotNotFoundError", got.describe())
	}
	if !slices.Equal(got.Path, wantPath) {
		t.Errorf("path:\n got %v\nwant %v", got.Path, wantPath)
	}
	vs, err := dynamo.NewRegistry(f.ddb, f.registryTable).List(t.Context(), model)
	if err != nil || len(vs) != 0 {
		t.Errorf("registry List(%s) = %s, %v; want no versions", model, versionsString(vs), err)
	}
}

// TestScheduleInput (#13 defect 6) runs the monthly schedule's input
// ("previous" vs "latest") on a model with no Production version yet —
// what a new deployment's first scheduled execution does: the first state
// resolves the months, the bootstrap trains on the month before the latest,
// and the drift check compares the latest with it.
func TestScheduleInput(t *testing.T) {
	f := shared(t)
	const model = "churn-it-schedule"
	in := executionInput(model, pipeline.AsOfPrevious, pipeline.AsOfLatest)
	got := f.runExecution(t, f.executionName("schedule"), in)
	t.Logf("emulator: %s", got.describe())
	if got.Status != "SUCCEEDED" {
		t.Fatalf("the schedule's input on a fresh model: %s", got.describe())
	}
	n := len(f.months)
	prev, latest := f.months[n-2].AsOf, f.months[n-1].AsOf
	s := got.state(t)
	if b := s.Baseline; b == nil || b.ReferenceAsOf != prev || b.CurrentAsOf != latest {
		t.Errorf("CheckProduction resolved %+v, want %s and %s", s.Baseline, prev, latest)
	}
	if d := s.Drift; d == nil || d.ReferenceAsOf != prev || d.CurrentAsOf != latest {
		t.Errorf("drift %+v, want %s vs %s", s.Drift, latest, prev)
	}
	v, err := dynamo.NewRegistry(f.ddb, f.registryTable).Get(t.Context(), model, 1)
	if err != nil || v.AsOf != prev {
		t.Errorf("bootstrap v1 trained on %q (%v), want %s", v.AsOf, err, prev)
	}
}

// TestCheck runs `churnops check`'s checks on the emulator's stores after
// the executions above: the registry in DynamoDB against the artifacts
// (and their SHA-256) and datasets in S3 — nothing to report.
func TestCheck(t *testing.T) {
	f := shared(t)
	p := &pipeline.Pipeline{Blobs: s3store.New(f.s3, f.bucket), Registry: dynamo.NewRegistry(f.ddb, f.registryTable)}
	c := &statecheck.Checker{Pipeline: p, Models: []string{"churn-it-approved", "churn-it-rejected", "churn-it-missing", "churn-it-schedule"}}
	findings, err := c.Check(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range findings {
		t.Errorf("[%s] %s: %s", fd.Check, fd.Subject, fd.Problem)
	}
}
