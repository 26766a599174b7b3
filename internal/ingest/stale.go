package ingest

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
)

// StaleAge is how old an attempt must be for RemoveStale to take it for a
// crashed one: no ingest runs that long (a 10M-customer month takes
// minutes), the same rule the embedded blob store applies to its
// temporary files.
const StaleAge = 24 * time.Hour

// RemoveStale deletes what crashed ingest attempts left behind and no
// later attempt cleaned (Commit cleans older attempts of the month it
// commits): the staging of attempts that started more than maxAge before
// now (their start time is in their id; ids without one are left alone),
// then the part files (and drift summaries and samples) of months that have
// no manifest and no attempt left (written by an attempt that never
// committed: no reader sees them).
// It returns how many keys it deleted. Run calls it with StaleAge before
// planning; a state machine's plan step should too.
func RemoveStale(ctx context.Context, store blob.Store, now time.Time, maxAge time.Duration) (int, error) {
	keys, err := store.List(ctx, StagingPrefix+"as_of=")
	if err != nil {
		return 0, fmt.Errorf("ingest: remove stale: %w", err)
	}
	live := map[string]bool{} // as_of -> has an attempt left
	type attempt struct{ asOf, id string }
	var stale []attempt
	seen := map[attempt]bool{}
	for _, k := range keys {
		rest := strings.TrimPrefix(k, StagingPrefix+"as_of=")
		asOf, rest, ok1 := strings.Cut(rest, "/attempt=")
		id, _, ok2 := strings.Cut(rest, "/")
		a := attempt{asOf, id}
		if !ok1 || !ok2 || seen[a] {
			continue
		}
		seen[a] = true
		if t, ok := attemptTime(id); ok && now.Sub(t) > maxAge {
			stale = append(stale, a)
			continue
		}
		live[asOf] = true
	}
	n := 0
	for _, a := range stale {
		d, err := deletePrefix(ctx, store, attemptDir(a.asOf, a.id))
		n += d
		if err != nil {
			return n, err
		}
	}

	keys, err = store.List(ctx, dataset.Prefix+"as_of=")
	if err != nil {
		return n, fmt.Errorf("ingest: remove stale: %w", err)
	}
	parts := map[string][]string{}
	visible := map[string]bool{}
	for _, k := range keys {
		asOf, file, ok := strings.Cut(strings.TrimPrefix(k, dataset.Prefix+"as_of="), "/")
		switch {
		case !ok:
		case file == dataset.ManifestFile || file == dataset.LegacyFile:
			visible[asOf] = true
		case dataFile(file):
			parts[asOf] = append(parts[asOf], k)
		}
	}
	for asOf, ks := range parts {
		if visible[asOf] || live[asOf] {
			continue
		}
		for _, k := range ks {
			if err := store.Delete(ctx, k); err != nil {
				return n, fmt.Errorf("ingest: remove stale %s: %w", k, err)
			}
			n++
		}
	}
	return n, nil
}
