//go:build integration

package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	sfntypes "github.com/aws/aws-sdk-go-v2/service/sfn/types"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
)

// executionTimeout bounds one execution on the emulator (a full retraining
// run on 3,000 users takes seconds; Train's Lambda timeout is 300 s).
const executionTimeout = 6 * time.Minute

// execution is a finished execution, on the emulator or on the local
// executor, reduced to what the tests compare.
type execution struct {
	Name   string
	Arn    string
	Status string
	Error  string
	Cause  string
	Output json.RawMessage
	Path   []string // names of the states entered, in order
	Wall   time.Duration
}

// state decodes a succeeded execution's output.
func (e *execution) state(t *testing.T) pipeline.ExecutionState {
	t.Helper()
	var s pipeline.ExecutionState
	if err := json.Unmarshal(e.Output, &s); err != nil {
		t.Fatalf("execution %s: output is not the state machine's data: %v\n%s", e.Name, err, e.Output)
	}
	return s
}

// executionInput is the lab's defaults for one pair of months.
func executionInput(model, ref, cur string) pipeline.ExecutionInput {
	return pipeline.ExecutionInput{
		ModelName: model, ReferenceAsOf: ref, CurrentAsOf: cur,
		Threshold: pipeline.DefaultThreshold, Delta: pipeline.DefaultDelta, MinAUC: pipeline.DefaultMinAUC,
		Seed: pipeline.DefaultSeed,
	}
}

// startExecution starts the deployed state machine with in, as StartExecution
// input, and returns the execution ARN.
func (f *fixture) startExecution(t *testing.T, name string, in pipeline.ExecutionInput) string {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.sfn.StartExecution(t.Context(), &sfn.StartExecutionInput{
		StateMachineArn: aws.String(f.stateMachineArn),
		Name:            aws.String(name),
		Input:           aws.String(string(input)),
	})
	if err != nil {
		t.Fatalf("StartExecution %s: %v", name, err)
	}
	return aws.ToString(out.ExecutionArn)
}

// waitExecution polls DescribeExecution until the execution leaves RUNNING,
// then reads its history.
func (f *fixture) waitExecution(t *testing.T, name, arn string) *execution {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), executionTimeout)
	defer cancel()
	for {
		d, err := f.sfn.DescribeExecution(ctx, &sfn.DescribeExecutionInput{ExecutionArn: aws.String(arn)})
		if err != nil {
			t.Fatalf("DescribeExecution %s: %v", name, err)
		}
		if d.Status != sfntypes.ExecutionStatusRunning {
			e := &execution{
				Name: name, Arn: arn, Status: string(d.Status),
				Error: aws.ToString(d.Error), Cause: aws.ToString(d.Cause),
				Output: json.RawMessage(aws.ToString(d.Output)),
			}
			if d.StartDate != nil && d.StopDate != nil {
				e.Wall = d.StopDate.Sub(*d.StartDate)
			}
			e.Path = f.statesEntered(t, arn)
			return e
		}
		select {
		case <-ctx.Done():
			t.Fatalf("execution %s still RUNNING after %v; states entered so far: %v", name, executionTimeout, f.statesEntered(t, arn))
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// runExecution starts an execution and waits for it.
func (f *fixture) runExecution(t *testing.T, name string, in pipeline.ExecutionInput) *execution {
	t.Helper()
	return f.waitExecution(t, name, f.startExecution(t, name, in))
}

// statesEntered reads the execution history: the states entered, in order.
func (f *fixture) statesEntered(t *testing.T, arn string) []string {
	t.Helper()
	var path []string
	in := &sfn.GetExecutionHistoryInput{ExecutionArn: aws.String(arn), MaxResults: 1000}
	for {
		out, err := f.sfn.GetExecutionHistory(context.WithoutCancel(t.Context()), in)
		if err != nil {
			t.Fatalf("GetExecutionHistory: %v", err)
		}
		for _, ev := range out.Events {
			if strings.HasSuffix(string(ev.Type), "StateEntered") && ev.StateEnteredEventDetails != nil {
				path = append(path, aws.ToString(ev.StateEnteredEventDetails.Name))
			}
		}
		if out.NextToken == nil {
			return path
		}
		in.NextToken = out.NextToken
	}
}

// executionName is unique per suite run, so reruns on a live emulator never
// collide.
func (f *fixture) executionName(label string) string {
	return "it-" + f.id + "-" + label
}

// localLoop is the local executor (pipeline.LocalRunner: the same
// definition, embedded) on a fresh embedded store holding the same months:
// the reference every emulator execution is compared with.
type localLoop struct {
	state  *localstore.State
	runner *asl.Runner
}

// The state is in dir (a new one under the test's temporary directory if
// empty), so that a later test can open it again (openLocalLoop).
func newLocalLoop(t *testing.T, months []month, dir string) *localLoop {
	t.Helper()
	if dir == "" {
		dir = filepath.Join(t.TempDir(), "state")
	}
	l := openLocalLoop(t, dir)
	p := &pipeline.Pipeline{Blobs: l.state.Blobs, Registry: l.state.Registry, Features: l.state.Features, LocalDirs: true}
	for _, m := range months {
		if _, err := p.Ingest(t.Context(), pipeline.Incoming{Dir: m.Dir, AsOf: m.AsOf}, pipeline.IngestOptions{}); err != nil {
			t.Fatalf("local ingest %s: %v", m.Dir, err)
		}
	}
	return l
}

// openLocalLoop opens the local executor on the state in dir, until the
// test ends.
func openLocalLoop(t *testing.T, dir string) *localLoop {
	t.Helper()
	st, err := localstore.Open(dir, localstore.Options{})
	if err != nil {
		t.Fatalf("open local state: %v", err)
	}
	t.Cleanup(func() { _ = st.Close() })
	p := &pipeline.Pipeline{Blobs: st.Blobs, Registry: st.Registry, Features: st.Features, LocalDirs: true}
	r, err := p.LocalRunner(nil)
	if err != nil {
		t.Fatalf("local runner: %v", err)
	}
	return &localLoop{state: st, runner: r}
}

// run executes in on the local executor.
func (l *localLoop) run(t *testing.T, name string, in pipeline.ExecutionInput) *execution {
	t.Helper()
	input, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	x, err := l.runner.Run(t.Context(), name, input)
	if err != nil {
		t.Fatalf("local execution %s: %v", name, err)
	}
	e := &execution{Name: name, Status: string(x.Status), Error: x.Error, Cause: x.Cause, Output: x.Output, Wall: x.StopTime.Sub(x.StartTime)}
	for _, ev := range x.History {
		if ev.Type == asl.EventStateEntered && ev.Map == nil { // a Map's items run as child executions on AWS
			e.Path = append(e.Path, ev.State)
		}
	}
	return e
}

// sameFloat reports whether two floats computed by the same code on the same
// data agree (they should be identical; the tolerance only absorbs a JSON
// round trip).
func sameFloat(a, b float64) bool { return math.Abs(a-b) <= 1e-12 }

// describe is a one-line account of an execution for failure messages.
func (e *execution) describe() string {
	s := fmt.Sprintf("%s %s via %s", e.Name, e.Status, strings.Join(e.Path, " → "))
	if e.Error != "" {
		s += fmt.Sprintf(" (%s: %.300s)", e.Error, e.Cause)
	}
	return s
}
