package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/asl/aslblob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/statemachine"
)

// Local function names: what the state machine's ${...Arn} substitutions
// become when the definition runs on the local executor.
const (
	LocalDrift    = "churnops-drift"
	LocalTrain    = "churnops-train"
	LocalEvaluate = "churnops-evaluate"
	LocalCompare  = "churnops-compare"
	LocalIngest   = "churnops-ingest"
	LocalScore    = "churnops-score"
	LocalReport   = "churnops-report"
)

// LocalBucket is the bucket name the local executor's object store
// answers to (a Map state's ItemReader or ResultWriter names a bucket;
// locally every key is in the state's blob store).
const LocalBucket = "churnops-local"

// localSubstitutions map the definition's ${...Arn} to the local names.
func localSubstitutions() map[string]string {
	return map[string]string{
		statemachine.DriftFunction:    LocalDrift,
		statemachine.TrainFunction:    LocalTrain,
		statemachine.EvaluateFunction: LocalEvaluate,
		statemachine.CompareFunction:  LocalCompare,
		statemachine.IngestFunction:   LocalIngest,
		statemachine.ScoreFunction:    LocalScore,
		statemachine.ReportFunction:   LocalReport,
	}
}

// LocalRunner returns an executor for statemachine.Retrain — the very
// definition SAM deploys — whose Task states call this pipeline's steps in
// process, through the same JSON events the Lambda functions receive. Its
// Map states run their items on the machine's cores (asl.Runner's
// MapWorkers), and a Map reading from or writing to S3 reads this
// pipeline's blob store (bucket LocalBucket). The Report task does nothing
// locally: the CLI records each execution and renders the dashboard.
func (p *Pipeline) LocalRunner(obs asl.Observer) (*asl.Runner, error) {
	m, err := asl.Parse(statemachine.Retrain, localSubstitutions())
	if err != nil {
		return nil, fmt.Errorf("load state machine: %w", err)
	}
	r := &asl.Runner{
		Machine: m,
		Handlers: asl.Handlers{
			LocalDrift:    asl.NewHandler(p.Drift),
			LocalTrain:    asl.NewHandler(p.Train),
			LocalEvaluate: asl.NewHandler(p.Evaluate),
			LocalCompare:  asl.NewHandler(p.Compare),
			LocalIngest:   asl.NewHandler(p.IngestStep),
			LocalScore:    asl.NewHandler(p.ScoreStep),
			LocalReport:   localReport,
		},
		Observer:         obs,
		StateMachineName: LocalStateMachine,
		ObjectStore:      aslblob.New(p.Blobs, LocalBucket),
	}
	if err := m.CheckHandlers(r.Handlers); err != nil {
		return nil, err
	}
	return r, nil
}

// Validate fills defaults and checks an execution input before a run
// starts, so that a typo fails fast instead of after training.
func (in *ExecutionInput) Validate() error { return in.ValidateAt(time.Now()) }

// ValidateAt is Validate with today's date taken from now: a date after
// it (plus FutureTolerance) is refused.
func (in *ExecutionInput) ValidateAt(now time.Time) error {
	if in.ModelName == "" {
		in.ModelName = DefaultModelName
	}
	if err := registry.CheckModelName(in.ModelName); err != nil {
		return &InvalidInputError{Msg: err.Error()}
	}
	if in.RowBudget < 0 || in.ShardRows < 0 {
		return &InvalidInputError{Msg: fmt.Sprintf("row_budget %d and shard_rows %d must be positive", in.RowBudget, in.ShardRows)}
	}
	if in.RowBudget == 0 {
		in.RowBudget = dataset.DefaultSampleRows
	}
	if in.Incoming != nil {
		// The month ingested is the current one, compared with the month
		// before it unless a reference is given.
		asOf, err := incomingAsOf(in.Incoming)
		if err != nil {
			return err
		}
		if in.CurrentAsOf != "" && in.CurrentAsOf != asOf {
			return &InvalidInputError{Msg: fmt.Sprintf("current_as_of %s: the execution ingests %s, its current month", in.CurrentAsOf, asOf)}
		}
		in.CurrentAsOf = asOf
		if in.ReferenceAsOf == "" {
			in.ReferenceAsOf = AsOfPrevious
		}
	}
	for _, f := range []struct{ name, v string }{{"reference_as_of", in.ReferenceAsOf}, {"current_as_of", in.CurrentAsOf}} {
		if f.v == AsOfLatest || f.v == AsOfPrevious {
			continue
		}
		t, err := parseAsOf(f.name, f.v)
		if err != nil {
			return err
		}
		if err := checkNotFuture(f.name, t, now); err != nil {
			return err
		}
	}
	if in.ReferenceAsOf != AsOfPrevious && in.CurrentAsOf != AsOfLatest {
		if err := checkOrder(in.ReferenceAsOf, in.CurrentAsOf); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"threshold", in.Threshold}, {"delta", in.Delta}, {"min_auc", in.MinAUC}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return &InvalidInputError{Msg: fmt.Sprintf("%s %v is not a number", f.name, f.v)}
		}
	}
	switch {
	case in.Threshold < 0 || in.Threshold > 1:
		return &InvalidInputError{Msg: fmt.Sprintf("threshold %v must be within [0, 1]", in.Threshold)}
	case in.Delta < 0 || in.Delta >= 1:
		return &InvalidInputError{Msg: fmt.Sprintf("delta %v must be within [0, 1)", in.Delta)}
	case in.MinAUC < 0 || in.MinAUC >= 1:
		return &InvalidInputError{Msg: fmt.Sprintf("min_auc %v must be within [0, 1)", in.MinAUC)}
	case in.Seed < 0:
		return &InvalidInputError{Msg: fmt.Sprintf("seed %d must be >= 0", in.Seed)}
	}
	return nil
}

// gateMachine is the embedded definition, parsed once for DriftGate.
var gateMachine = sync.OnceValues(func() (*asl.Machine, error) {
	return asl.Parse(statemachine.Retrain, localSubstitutions())
})

// incomingAsOf is the as_of of an incoming month: given, or read from its
// key or prefix.
func incomingAsOf(in *Incoming) (string, error) {
	asOf := in.AsOf
	if asOf == "" {
		p := in.Prefix
		switch {
		case in.Key != "":
			p = path.Dir(in.Key)
		case in.Dir != "":
			p = filepath.ToSlash(in.Dir)
		}
		asOf = asOfSegment(p)
	}
	if asOf == "" {
		return "", &InvalidInputError{Msg: "incoming: as_of is required (no as_of=YYYY-MM-DD segment in its key or prefix)"}
	}
	return asOf, nil
}

// localReport is the Report task locally: the CLI records the execution
// (reports/executions/) and renders the dashboard once it ends or pauses,
// from the executor's own history.
func localReport(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

// DriftGate applies the state machine's DriftGate Choice state to a drift
// share and a threshold: true when it leads to retraining. The rule lives in
// statemachine/retrain.asl.json only; reports that show a retrain verdict
// (drift.Options.Gate) ask the definition through this function.
func DriftGate(driftShare, threshold float64) (bool, error) {
	m, err := gateMachine()
	if err != nil {
		return false, fmt.Errorf("load state machine: %w", err)
	}
	in, err := json.Marshal(map[string]any{"drift": map[string]any{"drift_share": driftShare}, "threshold": threshold})
	if err != nil {
		return false, err
	}
	next, err := m.Choose("DriftGate", in)
	if err != nil {
		return false, err
	}
	return next != "NoRetrain", nil
}
