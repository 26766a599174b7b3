package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

func cmdRegistry(ctx context.Context, a *app, args []string) error {
	fs := a.flags("registry")
	reason := fs.String("reason", "rejected by a reviewer", "reject: why (recorded on the version)")
	if err := parse(fs, args, 2); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usagef("missing subcommand: list, show V, promote V, rollback, approvals, approve TOKEN or reject TOKEN")
	}
	sub, arg := fs.Arg(0), fs.Arg(1)
	needArg := map[string]string{"show": "V", "promote": "V", "approve": "TOKEN", "reject": "TOKEN"}
	if what, ok := needArg[sub]; ok && arg == "" {
		return usagef("registry %s needs %s", sub, what)
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	reg := st.Registry
	switch sub {
	case "list":
		return printRegistry(ctx, a, reg)
	case "show":
		n, err := parseVersion(arg)
		if err != nil {
			return err
		}
		v, err := reg.Get(ctx, a.model, n)
		if err != nil {
			return err
		}
		if a.json {
			return a.emit(v)
		}
		a.printf("%s v%d  stage=%s  as_of=%s\n  artifact:    %s\n  fingerprint: %s\n  created:     %s\n  updated:     %s\n",
			v.Model, v.Version, v.Stage, v.AsOf, v.ArtifactKey, v.DataFingerprint, v.CreatedAt.Format(time.RFC3339), v.UpdatedAt.Format(time.RFC3339))
		keys := make([]string, 0, len(v.Metrics))
		for k := range v.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		a.printf("  metrics:\n")
		for _, k := range keys {
			a.printf("    %-14s %.6g\n", k, v.Metrics[k])
		}
		printImportance(a, v)
		a.printf("  decision:    %s\n", decisionText(v.Decision))
		if d := v.Decision; d != nil {
			a.printf("  decided by:  %s\n  decided at:  %s\n", cmp.Or(d.DecidedBy, "the pipeline"), d.DecidedAt.Format(time.RFC3339))
			if d.Reason != "" {
				a.printf("  reason:      %s\n", d.Reason)
			}
		}
		return nil
	case "promote":
		n, err := parseVersion(arg)
		if err != nil {
			return err
		}
		if err := manualPromote(ctx, a, st, n, "manual promotion"); err != nil {
			return err
		}
		a.refreshDashboard(ctx, st)
		return nil
	case "rollback":
		// Back to the most recent Archived version: the one Production replaced.
		vs, err := reg.List(ctx, a.model)
		if err != nil {
			return err
		}
		for i := len(vs) - 1; i >= 0; i-- {
			if vs[i].Stage == registry.StageArchived {
				if err := manualPromote(ctx, a, st, vs[i].Version, "rollback"); err != nil {
					return err
				}
				a.refreshDashboard(ctx, st)
				return nil
			}
		}
		return fmt.Errorf("nothing to roll back to: model %q has no Archived version", a.model)
	case "approvals":
		if st.Approvals == nil {
			return errors.New("on AWS, pending approvals are the versions whose decision is pending_approval: see `churnops registry list --backend aws`")
		}
		aps, err := st.Approvals.List(ctx)
		if err != nil {
			return err
		}
		if a.json {
			return a.emit(aps)
		}
		if len(aps) == 0 {
			a.printf("no execution waits for approval\n")
		}
		for _, ap := range aps {
			a.printf("%s  %s v%d candidate_auc=%.4f production_auc=%.4f  since %s\n", ap.Token, ap.Info.Model, ap.Info.Version, ap.Info.CandidateAUC, ap.Info.ProductionAUC, ap.Info.CreatedAt.Local().Format(time.DateTime))
		}
		return nil
	case "approve":
		return answerApproval(ctx, a, st, arg, true, "")
	case "reject":
		return answerApproval(ctx, a, st, arg, false, *reason)
	}
	return usagef("unknown registry subcommand %q", sub)
}

// printImportance prints a version's feature importance, largest first,
// with each feature's share.
func printImportance(a *app, v registry.Version) {
	ranked := registry.RankImportance(v.Importance)
	if len(ranked) == 0 {
		a.printf("  importance:  - (trained before it was recorded)\n")
		return
	}
	a.printf("  importance:  mean |contribution| to the log-odds on its validation users, and share\n")
	for _, f := range ranked {
		a.printf("    %-30s %.4f %6.1f%%\n", f.Feature, f.MeanAbs, 100*f.Share)
	}
}

// reliesOn is a version's three most important features with their
// shares, "" when it has no importance.
func reliesOn(v registry.Version) string {
	var parts []string
	for i, f := range registry.RankImportance(v.Importance) {
		if i == 3 {
			break
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", f.Feature, 100*f.Share))
	}
	return strings.Join(parts, ", ")
}

// parseVersion accepts "3" or "v3".
func parseVersion(s string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(s), "v"))
	if err != nil || n < 1 {
		return 0, usagef("version %q: want a version number, like 3 or v3", s)
	}
	return n, nil
}

// manualPromote promotes version v over the current Production, with the
// same checked, atomic, conditioned promotion the pipeline uses.
func manualPromote(ctx context.Context, a *app, st *stores, v int, why string) error {
	reg := st.Registry
	target, err := reg.Get(ctx, a.model, v)
	if err != nil {
		return err
	}
	prod, err := reg.Production(ctx, a.model)
	expected := 0
	switch {
	case err == nil:
		expected = prod.Version
	case !errors.Is(err, registry.ErrNoProduction):
		return err
	}
	if expected == v {
		return fmt.Errorf("%s v%d is already Production", a.model, v)
	}
	outcome := registry.OutcomePromoted
	if why == "rollback" {
		outcome = registry.OutcomeRolledBack
	}
	by, err := a.identity(ctx, st)
	if err != nil {
		return err
	}
	d := registry.Decision{Outcome: outcome, CandidateAUC: target.Metrics["val_auc"], ProductionVersion: expected, ProductionAUC: prod.Metrics["val_auc"], Reason: why, DecidedBy: by, DecidedAt: time.Now().UTC()}
	if err := a.pipeline(st).PromoteVersion(ctx, a.model, v, expected, d); err != nil {
		return err
	}
	a.printf("%s: %s v%d is Production", why, a.model, v)
	if expected > 0 {
		a.printf(" (v%d archived)", expected)
	}
	a.printf("\n")
	return a.emit(d)
}

func decisionText(d *registry.Decision) string {
	if d == nil {
		return "-"
	}
	s := d.Outcome
	if d.ProductionVersion > 0 {
		s += fmt.Sprintf(" (cand %.4f vs prod v%d %.4f, delta %.3f)", d.CandidateAUC, d.ProductionVersion, d.ProductionAUC, d.Delta)
	} else if d.Bar > 0 {
		s += fmt.Sprintf(" (cand %.4f vs floor %.4f)", d.CandidateAUC, d.Bar)
	}
	if d.DecidedBy != "" {
		s += " by " + d.DecidedBy
	}
	if d.ApprovalToken != "" {
		s += " token=" + d.ApprovalToken
	}
	return s
}

// printRegistry lists the model's versions.
func printRegistry(ctx context.Context, a *app, reg registry.Registry) error {
	vs, err := reg.List(ctx, a.model)
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(vs)
	}
	if len(vs) == 0 {
		a.printf("no versions of model %q yet (run `churnops run` or `churnops demo`)\n", a.model)
		return nil
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTAGE\tAS_OF\tVAL_AUC\tVAL_F1\tCREATED\tDECISION")
	for _, v := range vs {
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%.4f\t%.4f\t%s\t%s\n", v.Version, v.Stage, v.AsOf, v.Metrics["val_auc"], v.Metrics["val_f1"], v.CreatedAt.Local().Format("2006-01-02 15:04:05"), decisionText(v.Decision))
	}
	return tw.Flush()
}
