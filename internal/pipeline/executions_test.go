package pipeline_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/synth"
)

func never(registry.ApprovalClaim) bool { return false }

// paused starts an execution that bootstraps a candidate and pauses for its
// approval, on two generated months.
func paused(t *testing.T) (*pipeline.LocalExecutions, *localstore.State, *pipeline.Execution) {
	t.Helper()
	p, st := newPipeline(t)
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 2, Seed: 5})
	l := &pipeline.LocalExecutions{Pipeline: p, Approvals: st.Approvals, Owner: "test:1:a", Stale: never}
	in := input(asOfs[0], asOfs[1])
	in.RequireApproval = true
	exec, err := l.Start(t.Context(), "", in)
	if err != nil {
		t.Fatal(err)
	}
	if exec.Status != string(asl.StatusPaused) || exec.Pending == nil || exec.Pending.Token == "" || exec.Pending.Version != 1 {
		t.Fatalf("execution %s, pending %+v; want paused on v1", exec.Status, exec.Pending)
	}
	return l, st, exec
}

// cancelAt returns a context cancelled when the execution reaches the
// event of type typ in state, as Ctrl-C would there.
func cancelAt(l *pipeline.LocalExecutions, typ asl.EventType, state string) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	l.Observer = func(ev asl.Event) {
		if ev.Type == typ && ev.State == state {
			cancel()
		}
	}
	return ctx
}

// TestInterruptedApprovalCanBeRepeated (#13 defect 1): an approval
// interrupted before or after the resumed run promoted is still stored and
// answerable; answering again promotes the candidate exactly once and
// records who approved; only then is the approval consumed.
func TestInterruptedApprovalCanBeRepeated(t *testing.T) {
	for _, at := range []struct {
		typ   asl.EventType
		state string
	}{
		{asl.EventStateEntered, "Promote"}, // before the promotion commits
		{asl.EventStateExited, "Promote"},  // after it
	} {
		t.Run(string(at.typ)+" "+at.state, func(t *testing.T) {
			l, st, exec := paused(t)
			token := exec.Pending.Token
			if _, err := l.Approve(cancelAt(l, at.typ, at.state), token, "alice"); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Approve: %v, want context.Canceled", err)
			}
			ap, err := st.Approvals.Get(t.Context(), token)
			if err != nil {
				t.Fatalf("after the interruption the approval is gone: %v", err)
			}
			if ap.Claim != nil {
				t.Errorf("the interrupted answer left its claim %+v", ap.Claim)
			}
			l.Observer = nil
			exec, err = l.Approve(t.Context(), token, "alice")
			if err != nil || exec.Status != string(asl.StatusSucceeded) {
				t.Fatalf("Approve again: %v, %s %s", err, exec.Status, exec.Cause)
			}
			v, err := st.Registry.Production(t.Context(), model)
			if err != nil || v.Version != 1 || v.Decision == nil || v.Decision.DecidedBy != "alice" || v.Decision.Execution != exec.ID {
				t.Errorf("Production %+v (%v); want v1 approved by alice in %s", v, err, exec.ID)
			}
			if aps, _ := st.Approvals.List(t.Context()); len(aps) != 0 {
				t.Errorf("%d approvals left after the run ended", len(aps))
			}
			if _, err := l.Approve(t.Context(), token, "alice"); !errors.Is(err, registry.ErrApprovalNotFound) {
				t.Errorf("a third answer: %v, want ErrApprovalNotFound", err)
			}
		})
	}
}

// TestOneAnswerAtATime: of two people answering the same approval at once,
// one resumes the run and the other is told someone is answering; a claim
// left by a killed process is taken over.
func TestOneAnswerAtATime(t *testing.T) {
	l, st, exec := paused(t)
	token := exec.Pending.Token
	if _, err := st.Approvals.Claim(t.Context(), token, "killed:99:x", never); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Approve(t.Context(), token, "alice"); !errors.Is(err, registry.ErrConflict) || !strings.Contains(err.Error(), "another churnops process") {
		t.Fatalf("Approve while claimed: %v, want ErrConflict", err)
	}
	l.Stale = func(c registry.ApprovalClaim) bool { return c.Owner == "killed:99:x" }
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, who := range []string{"alice", "bob"} {
		other := *l
		other.Owner = "test:2:" + who
		wg.Go(func() { _, errs[i] = other.Approve(t.Context(), token, who) })
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, registry.ErrConflict) && !errors.Is(err, registry.ErrApprovalNotFound):
			t.Errorf("concurrent Approve: %v", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d answers resumed the run, want 1 (%v)", ok, errs)
	}
	vs, _ := st.Registry.List(t.Context(), model)
	runs := map[string]int{}
	for _, v := range vs {
		if runs[v.RunID]++; runs[v.RunID] > 1 {
			t.Errorf("run %s registered two versions: a second resume trained again", v.RunID)
		}
	}
}

// TestRejectRecordsWhoAndWhy (#14): a refusal records the person and the
// reason on the candidate.
func TestRejectRecordsWhoAndWhy(t *testing.T) {
	l, st, exec := paused(t)
	exec, err := l.Reject(t.Context(), exec.Pending.Token, "bob", "gain within noise")
	if err != nil {
		t.Fatalf("Reject: %v", err)
	}
	// The refused bootstrap leaves no Production: the run goes on, and
	// its retrained candidate may wait for approval in turn.
	if exec.Status != string(asl.StatusSucceeded) && exec.Status != string(asl.StatusPaused) {
		t.Fatalf("after Reject: %s %s %s", exec.Status, exec.Error, exec.Cause)
	}
	v, err := st.Registry.Get(t.Context(), model, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Decision; v.Stage != registry.StageRejected || d == nil || d.DecidedBy != "bob" || !strings.Contains(d.Reason, "gain within noise") || d.ApprovalToken != "" {
		t.Errorf("v1 after the refusal: %s %+v; want Rejected by bob with the reason", v.Stage, v.Decision)
	}
}

// TestExecutionNameIdentifiesOneExecution (#13 defect 12): a name that an
// earlier execution used is refused before anything runs, instead of
// adopting that execution's candidate, trained on another month.
func TestExecutionNameIdentifiesOneExecution(t *testing.T) {
	p, st := newPipeline(t)
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 3, Seed: 5})
	l := &pipeline.LocalExecutions{Pipeline: p, Approvals: st.Approvals, Owner: "test:1:a", Stale: never}
	in := input(asOfs[0], asOfs[1])
	in.Threshold = 0
	if exec, err := l.Start(t.Context(), "monthly", in); err != nil || exec.Status != string(asl.StatusSucceeded) {
		t.Fatalf("first run: %v", err)
	}
	before, _ := st.Registry.List(t.Context(), model)
	_, err := l.Start(t.Context(), "monthly", input(asOfs[1], asOfs[2]))
	var invalid *pipeline.InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), `"monthly" was used before`) {
		t.Fatalf("second run named monthly: %v, want an InvalidInputError", err)
	}
	if after, _ := st.Registry.List(t.Context(), model); len(after) != len(before) {
		t.Errorf("the refused run registered %d versions", len(after)-len(before))
	}
	if exec, err := l.Start(t.Context(), "monthly-2", input(asOfs[1], asOfs[2])); err != nil || exec.Status != string(asl.StatusSucceeded) {
		t.Errorf("another name: %v", err)
	}
}

// TestUnanswerablePendingIsAbandoned: an execution killed between
// recording its approval request on the candidate and storing its pause
// leaves a token no command can answer; the next run marks it abandoned.
func TestUnanswerablePendingIsAbandoned(t *testing.T) {
	p, st := newPipeline(t)
	p.OrphanGrace = -1
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 2, Seed: 5})
	tr, err := p.Train(t.Context(), pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Compare(t.Context(), pipeline.CompareInput{Action: pipeline.ActionRequestApproval, ModelName: model, CandidateVersion: tr.Version,
		TaskToken: "lost-token", Execution: "arn:killed"}); err != nil {
		t.Fatal(err)
	}
	l := &pipeline.LocalExecutions{Pipeline: p, Approvals: st.Approvals, Owner: "test:1:a", Stale: never}
	if stale, err := pipeline.StalePending(t.Context(), p, st.Approvals, model); err != nil || len(stale) != 1 {
		t.Fatalf("StalePending: %d, %v; want v%d", len(stale), err, tr.Version)
	}
	if _, err := l.Start(t.Context(), "", input(asOfs[0], asOfs[1])); err != nil {
		t.Fatal(err)
	}
	v, err := st.Registry.Get(t.Context(), model, tr.Version)
	if err != nil {
		t.Fatal(err)
	}
	if d := v.Decision; d == nil || d.Outcome != registry.OutcomeAbandoned || d.ApprovalToken != "" {
		t.Errorf("v%d after the next run: %+v, want abandoned, without the token", tr.Version, v.Decision)
	}
}

// TestRejectCause: Compare reads who refused from the JSON cause an
// approver sends, and keeps a plain cause (a timeout's) as the reason.
func TestRejectCause(t *testing.T) {
	for _, tc := range []struct {
		name, errName, cause string
		wantBy, wantReason   string
	}{
		{"a person", "ApprovalRejected", `{"reason":"noise","decided_by":"arn:aws:iam::1:user/jane"}`, "arn:aws:iam::1:user/jane", "noise"},
		{"a timeout", "States.Timeout", "the task was not answered within TimeoutSeconds", "", "not answered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, st := newPipeline(t)
			asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 1, Seed: 5})
			tr, err := p.Train(t.Context(), pipeline.TrainInput{ModelName: model, AsOf: asOfs[0], Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			in := pipeline.CompareInput{Action: pipeline.ActionReject, ModelName: model, CandidateVersion: tr.Version, Execution: "arn:e",
				ApprovalError: &pipeline.ApprovalError{Error: tc.errName, Cause: tc.cause}}
			for range 2 { // a retried Compare finds its own decision
				if _, err := p.Compare(t.Context(), in); err != nil {
					t.Fatal(err)
				}
			}
			v, _ := st.Registry.Get(t.Context(), model, tr.Version)
			if d := v.Decision; d == nil || d.DecidedBy != tc.wantBy || !strings.Contains(d.Reason, tc.wantReason) || d.Execution != "arn:e" {
				t.Errorf("decision %+v, want by %q with %q", v.Decision, tc.wantBy, tc.wantReason)
			}
		})
	}
}

// TestScheduleInputOnAFreshState (#13 defect 6): the monthly schedule's
// input on a state with no Production model — the first thing a deployment
// runs — bootstraps on the month before the latest and then compares the
// latest with it. A reference month after the current one is refused by
// the first state, before anything is trained.
func TestScheduleInputOnAFreshState(t *testing.T) {
	p, st := newPipeline(t)
	asOfs := ingestGenerated(t, p, synth.Config{Users: 800, Months: 3, Seed: 5})
	l := &pipeline.LocalExecutions{Pipeline: p, Approvals: st.Approvals, Owner: "test:1:a", Stale: never}

	_, err := l.Start(t.Context(), "", input(asOfs[2], asOfs[1]))
	var invalid *pipeline.InvalidInputError
	if !errors.As(err, &invalid) || !strings.Contains(err.Error(), "must be before") {
		t.Errorf("reference after current: %v, want an InvalidInputError", err)
	}
	// "previous" resolved to a date later than a given current month.
	exec, err := l.Start(t.Context(), "", input(asOfs[2], pipeline.AsOfLatest))
	if err != nil || exec.Status != string(asl.StatusFailed) || exec.Error != "InvalidInputError" {
		t.Errorf("reference = latest: %v, %s %s; want the execution failed with InvalidInputError", err, exec.Status, exec.Error)
	}
	if vs, _ := st.Registry.List(t.Context(), model); len(vs) != 0 {
		t.Fatalf("refused runs registered %d versions", len(vs))
	}

	exec, err = l.Start(t.Context(), "", input(pipeline.AsOfPrevious, pipeline.AsOfLatest))
	if err != nil || exec.Status != string(asl.StatusSucceeded) {
		t.Fatalf("schedule input: %v, %s %s %s", err, exec.Status, exec.Error, exec.Cause)
	}
	var out pipeline.ExecutionState
	if err := json.Unmarshal(exec.Output, &out); err != nil {
		t.Fatal(err)
	}
	if b := out.Baseline; b == nil || b.ReferenceAsOf != asOfs[1] || b.CurrentAsOf != asOfs[2] {
		t.Errorf("CheckProduction resolved %+v, want %s and %s", out.Baseline, asOfs[1], asOfs[2])
	}
	v1, err := st.Registry.Get(t.Context(), model, 1)
	if err != nil || v1.AsOf != asOfs[1] {
		t.Errorf("bootstrap v1 trained on %q (%v), want the previous month %s", v1.AsOf, err, asOfs[1])
	}
	if d := out.Drift; d == nil || d.ReferenceAsOf != asOfs[1] || d.CurrentAsOf != asOfs[2] {
		t.Errorf("drift %+v, want %s vs %s", out.Drift, asOfs[2], asOfs[1])
	}
}
