package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/registry"
)

// Pending approvals that no command can answer: a local execution killed
// between recording its approval request on the candidate (Compare) and
// storing its pause (LocalExecutions.settle), or one whose checkpoint can
// no longer be resumed. They are found (StalePending), marked abandoned
// (AbandonPending) by the next run or by `churnops check --repair`, and a
// token whose pause of the same execution is stored stands for that pause
// (storedPauseFor).

// storedPauseFor finds, for a token a candidate waits on that is not
// stored, the stored pause of the same execution, or "".
func (l *LocalExecutions) storedPauseFor(ctx context.Context, token string) (string, error) {
	aps, err := l.Approvals.List(ctx)
	if err != nil {
		return "", err
	}
	models := map[string]bool{}
	for _, ap := range aps {
		models[ap.Info.Model] = true
	}
	for model := range models {
		vs, err := l.Pipeline.Registry.List(ctx, model)
		if err != nil {
			return "", fmt.Errorf("list %s: %w", model, err)
		}
		for _, v := range vs {
			if d := v.Decision; d != nil && d.ApprovalToken == token && d.Execution != "" {
				for _, ap := range aps {
					if ap.Info.Execution == d.Execution {
						return ap.Token, nil
					}
				}
			}
		}
	}
	return "", nil
}

// AbandonStalePending marks the model's pending approvals that no command
// can answer — their execution was killed between recording the request on
// the candidate and storing its pause — as abandoned, once older than the
// orphan grace (a live execution stores its pause right after). It returns
// nothing else; `churnops check` reports them before.
func (l *LocalExecutions) AbandonStalePending(ctx context.Context, model string) error {
	stale, err := StalePending(ctx, l.Pipeline, l.Approvals, model)
	if err != nil {
		return err
	}
	for _, v := range stale {
		if l.Pipeline.Young(v.Decision.DecidedAt) {
			continue
		}
		if err := l.Pipeline.AbandonPending(ctx, model, v.Version, v.Decision.ApprovalToken, "its execution stopped before storing its pause"); err != nil {
			return err
		}
	}
	return nil
}

// StalePending lists the model's versions waiting on an approval token
// that no command can answer: approvals holds neither it nor another pause
// of its execution.
func StalePending(ctx context.Context, p *Pipeline, approvals registry.Approvals, model string) ([]registry.Version, error) {
	vs, err := p.Registry.List(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", model, err)
	}
	aps, err := approvals.List(ctx)
	if err != nil {
		return nil, err
	}
	stored, paused := map[string]bool{}, map[string]bool{}
	for _, ap := range aps {
		stored[ap.Token], paused[ap.Info.Execution] = true, true
	}
	var out []registry.Version
	for _, v := range vs {
		d := v.Decision
		if v.Stage == registry.StageNone && d != nil && d.ApprovalToken != "" && !stored[d.ApprovalToken] && (d.Execution == "" || !paused[d.Execution]) {
			out = append(out, v)
		}
	}
	return out, nil
}

// AbandonPending replaces version's pending decision on token, if it is
// still that one, by an abandoned one: no command can answer the token any
// more. A version decided meanwhile is left as it is.
func (p *Pipeline) AbandonPending(ctx context.Context, model string, version int, token, why string) error {
	v, err := p.Registry.Get(ctx, model, version)
	if err != nil {
		return err
	}
	d := v.Decision
	if v.Stage != registry.StageNone || d == nil || d.ApprovalToken != token {
		return nil // decided meanwhile
	}
	nd := *d
	nd.Outcome, nd.ApprovalToken, nd.DecidedAt = registry.OutcomeAbandoned, "", p.now()
	nd.Reason = fmt.Sprintf("approval %.12s… abandoned: %s", token, why)
	err = p.Registry.Decide(ctx, model, version, registry.StageNone, nd)
	if err != nil && !errors.Is(err, registry.ErrConflict) {
		return fmt.Errorf("abandon the approval of %s v%d: %w", model, version, err)
	}
	return nil
}
