package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/statecheck"
)

// checkHooks are the checks `churnops check` runs for the parts of the
// state that other components own: the datasets' manifests against their
// files, and the online feature store against the newest month.
func checkHooks(st *stores) statecheck.Hooks {
	return statecheck.Hooks{
		DatasetManifests: func(ctx context.Context, asOfs []string) ([]statecheck.Finding, error) {
			return checkManifests(ctx, st, asOfs)
		},
		OnlineStore: func(ctx context.Context, newest string) ([]statecheck.Finding, error) {
			return checkOnline(ctx, st, newest)
		},
	}
}

// checkManifests verifies every stored month against its manifest
// (dataset.Verify): nothing it finds is safe to repair — a month's files
// are its data — so each finding says what a person can do.
func checkManifests(ctx context.Context, st *stores, asOfs []string) ([]statecheck.Finding, error) {
	var out []statecheck.Finding
	for _, asOf := range asOfs {
		m, err := dataset.Open(ctx, st.Blobs, asOf)
		if err != nil {
			out = append(out, statecheck.NewFinding("datasets", dataset.ManifestKey(asOf), fmt.Sprintf("the manifest cannot be read: %v", err), "",
				"restore the month's files from the bucket's versions, or remove the month (churnops dataset rm "+asOf+" --force) and ingest it again", nil))
			continue
		}
		problems, err := dataset.Verify(ctx, st.Blobs, m)
		if err != nil {
			return out, err
		}
		for _, p := range problems {
			out = append(out, statecheck.NewFinding("datasets", "as_of "+asOf, p, "",
				"restore the file from the bucket's versions, or remove the month (churnops dataset rm "+asOf+" --force) and ingest it again", nil))
		}
	}
	return out, nil
}

// checkOnline checks that the online store serves the newest month whose
// features are complete, and that the newest stored month's are (an
// ingest interrupted between its commit and its publish leaves them
// unserved). Publishing the newest complete version is safe to repair:
// Publish never rolls back.
func checkOnline(ctx context.Context, st *stores, newestDataset string) ([]statecheck.Finding, error) {
	versions, err := st.Features.Versions(ctx)
	if err != nil {
		return []statecheck.Finding{statecheck.NewFinding("online", "online features", fmt.Sprintf("cannot be read: %v", err), "",
			"ingest the newest month again (churnops ingest): it rewrites and publishes its features", nil)}, nil
	}
	served, complete := "", ""
	for _, v := range versions {
		if v.Served {
			served = v.AsOf
		}
		if v.Complete && v.AsOf > complete {
			complete = v.AsOf
		}
	}
	var out []statecheck.Finding
	publish := func(asOf string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, _, err := st.Features.Publish(ctx, asOf)
			return err
		}
	}
	if complete != "" && complete > served {
		problem := fmt.Sprintf("the newest complete month of online features is %s, but %s is served", complete, orNone(served))
		out = append(out, statecheck.NewFinding("online", "as_of "+complete, problem, "publish "+complete+" (never a rollback)", "", publish(complete)))
	}
	if newestDataset != "" && newestDataset > max(served, complete) {
		has := false
		for _, v := range versions {
			has = has || v.AsOf == newestDataset
		}
		why := "has no online features"
		if has {
			why = "has incomplete online features"
		}
		out = append(out, statecheck.NewFinding("online", "as_of "+newestDataset,
			fmt.Sprintf("the newest stored month %s (an ingest stopped after its commit?), so /predict serves %s", why, orNone(served)), "",
			"ingest that month again (churnops ingest --as-of "+newestDataset+"): the same data rewrites and publishes its features", nil))
	}
	if served != "" {
		if _, err := st.Features.Current(ctx); err != nil && !errors.Is(err, featurestore.ErrNoVersion) {
			out = append(out, statecheck.NewFinding("online", "as_of "+served, fmt.Sprintf("the served month's features cannot be read: %v", err), "",
				"ingest "+served+" again: it rewrites its features", nil))
		}
	}
	return out, nil
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}
