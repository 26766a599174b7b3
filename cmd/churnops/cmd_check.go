package main

import (
	"context"
	"fmt"
	"slices"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/statecheck"
)

func cmdCheck(ctx context.Context, a *app, args []string) error {
	fs := a.flags("check")
	repair := fs.Bool("repair", false, "fix what is safe to fix: mark orphaned versions and unanswerable approvals, release dead claims, drop unresumable pauses")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	c := &statecheck.Checker{Pipeline: a.pipeline(st), Models: []string{a.model}, Approvals: st.Approvals, Hooks: checkHooks(st)}
	if st.Local != nil {
		models, err := st.Local.Registry.Models(ctx)
		if err != nil {
			return err
		}
		c.Models = slices.Compact(slices.Sorted(slices.Values(append(models, a.model))))
		c.Stale = localstore.OwnerGone
	}
	findings, err := c.Check(ctx)
	if err != nil {
		return err
	}
	var repairErr error
	if *repair {
		repairErr = statecheck.Repair(ctx, findings)
	}
	left := 0
	for _, f := range findings {
		if !f.Repaired {
			left++
		}
		a.printf("[%s] %s: %s\n", f.Check, f.Subject, f.Problem)
		switch {
		case f.Repaired:
			a.printf("    repaired: %s\n", f.Repair)
		case f.Repair != "":
			a.printf("    --repair would %s\n", f.Repair)
		case f.Advice != "":
			a.printf("    to do: %s\n", f.Advice)
		}
	}
	if err := a.emit(findings); err != nil {
		return err
	}
	switch {
	case repairErr != nil:
		return fmt.Errorf("repair: %w", repairErr)
	case len(findings) == 0:
		a.printf("no problems found in %s\n", a.where())
	case left == 0:
		a.printf("%d problems found, all repaired\n", len(findings))
	default:
		return fmt.Errorf("%d problems found (%d repaired)", len(findings), len(findings)-left)
	}
	return nil
}

// where names the state being checked.
func (a *app) where() string {
	if a.backend == backendAWS {
		return "the AWS stores"
	}
	return a.state
}
