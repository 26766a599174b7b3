package crash_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/snapshot"
)

// The online-store checks (all on since the versioned feature store
// landed; a switch stays so that one can be turned off while investigating):
//
//   - "online-atomic": an ingest killed between any two durable steps leaves
//     the online store wholly on one month, never a mix (#13, defect 7; the
//     check ingests a month above the 20,000 records the old embedded store
//     wrote per transaction);
//   - "concurrent-ingest": two ingests of different months at once leave
//     the online store on the newer month (#13, defect 2);
//   - "online-expiry": customers absent from the newest month are no longer
//     served (#13, defect 9): what is served is from the newest month only.
//
// CHURNOPS_CRASH_CHECKS=name,… turns one on for a run when it is off here.
var onlineChecks = map[string]bool{
	"online-atomic":     true,
	"concurrent-ingest": true,
	"online-expiry":     true,
}

// onlineCheck reports whether the named online-store check is on.
func onlineCheck(name string) bool {
	return onlineChecks[name] || slices.Contains(strings.Split(os.Getenv("CHURNOPS_CRASH_CHECKS"), ","), name)
}

// newestUsersOnline counts the customers of the month stored for asOf by
// the as_of of the online record /predict would serve them ("" for none).
func newestUsersOnline(t *testing.T, st *localstore.State, asOf string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, id := range customers(t, st, asOf) {
		r, err := st.Features.Get(t.Context(), id)
		switch {
		case errors.Is(err, featurestore.ErrNotFound), errors.Is(err, featurestore.ErrNoVersion):
			out[""]++
		case err != nil:
			t.Fatalf("online features of %s: %v", id, err)
		default:
			out[r.AsOf]++
		}
	}
	return out
}

// datasetUsers caches the customers of each stored month, by as_of and
// fingerprint: datasets are never rewritten, and every kill point reads the
// same ones.
var (
	datasetMu    sync.Mutex
	datasetUsers = map[string][]string{}
)

// customers returns the user ids of the month stored for asOf, whatever
// its layout (a legacy snapshot or a manifest of shards).
func customers(t *testing.T, st *localstore.State, asOf string) []string {
	t.Helper()
	m, err := dataset.Open(t.Context(), st.Blobs, asOf)
	if err != nil {
		t.Fatalf("dataset %s: %v", asOf, err)
	}
	key := asOf + " " + m.Fingerprint
	if m.Legacy { // no fingerprint stored: the snapshot's bytes tell months apart
		data, err := st.Blobs.Get(t.Context(), m.Shards[0].Key)
		if err != nil {
			t.Fatalf("dataset %s: %v", asOf, err)
		}
		key = fmt.Sprintf("%s %x", asOf, sha256.Sum256(data))
	}
	datasetMu.Lock()
	defer datasetMu.Unlock()
	if ids, ok := datasetUsers[key]; ok {
		return ids
	}
	var ids []string
	err = dataset.Each(t.Context(), st.Blobs, m, func(_ int, shard *snapshot.Month) error {
		for i := range shard.Customers {
			ids = append(ids, shard.Customers[i].UserID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("dataset %s: %v", asOf, err)
	}
	datasetUsers[key] = ids
	return ids
}

// onlineAsOfs counts the online feature records /predict would serve, per
// as_of: those of the served version (kept older versions are not served).
func onlineAsOfs(t *testing.T, st *localstore.State) map[string]int {
	t.Helper()
	vs, err := st.Features.Versions(t.Context())
	if err != nil {
		t.Fatalf("online feature versions: %v", err)
	}
	out := map[string]int{}
	for _, v := range vs {
		if v.Served {
			out[v.AsOf] += v.Records
		}
	}
	return out
}

// oneMonth is the "online-atomic" invariant: the newest month's customers
// are all served from one month (the old one before the switch, the new one
// after), never a mix.
var oneMonth = invariant{"the online store is wholly on one month", func(v *view) []string {
	var out []string
	for asOf, n := range v.newestUsersOnline {
		if asOf != "" {
			out = append(out, asOf+": "+strconv.Itoa(n))
		}
	}
	if len(out) <= 1 {
		return nil
	}
	slices.Sort(out)
	return []string{"the newest month's customers are served from several months: " + strings.Join(out, ", ")}
}}

// onlyNewest is the "online-expiry" invariant: no record is from a month
// older than the newest.
var onlyNewest = invariant{"every online record is from the newest month", func(v *view) []string {
	if len(v.datasets) == 0 {
		return nil
	}
	newest := v.datasets[len(v.datasets)-1]
	var out []string
	for asOf, n := range v.online {
		if asOf != newest {
			out = append(out, fmt.Sprintf("%d online records are from %s, the newest month is %s", n, asOf, newest))
		}
	}
	return out
}}

// bigUsers is above the embedded store's 20,000 feature records per
// transaction, so an ingest writes the online store in more than one.
const bigUsers = "20500"

// TestIngestKilledBetweenFeatureWrites ("online-atomic") kills an ingest of
// a month of bigUsers customers after each durable step: the online store
// must be wholly on the old month or wholly on the new one.
func TestIngestKilledBetweenFeatureWrites(t *testing.T) {
	if !onlineCheck("online-atomic") {
		t.Skip("online-atomic is off until the versioned feature store lands (see onlineChecks)")
	}
	crashEveryStep(t, scenario{
		name: "ingest of a big month", base: "one big month", rerun: true,
		args: func(_ *testing.T, base string) []string {
			return []string{"ingest", "--data", bigMonth(base, 1), "--as-of", asOfs[1]}
		},
	}, []invariant{oneMonth})
}

// bigMonth is the i-th generated month of bigUsers customers beside the
// "one big month" base state.
func bigMonth(base string, i int) string {
	return filepath.Join(filepath.Dir(base), "big", fmt.Sprintf("month_%03d", i))
}

func init() {
	bases["one big month"] = func(t *testing.T, dir string) {
		out := filepath.Dir(bigMonth(dir, 0))
		if r := cli(t, dir, nil, "gen", "--out", out, "--months", "2", "--users", bigUsers, "--seed", "6"); r.code != 0 {
			t.Fatalf("gen: %s", r)
		}
		mustCLI(t, dir, "ingest", "--data", bigMonth(dir, 0), "--as-of", asOfs[0])
	}
}

// TestConcurrentIngests ("concurrent-ingest") ingests two months at once,
// several times: the online store must end on the newer month whichever
// ingest finishes first. The race is narrow (the check of the newest month
// against the other ingest's writes): on today's store about one round in
// twenty or thirty loses it, so the test runs rounds until one fails.
func TestConcurrentIngests(t *testing.T) {
	if !onlineCheck("concurrent-ingest") {
		t.Skip("concurrent-ingest is off until the versioned feature store lands (see onlineChecks)")
	}
	const rounds = 60
	for round := range rounds {
		dir := copyState(t, baseState(t, "one month"))
		var wg sync.WaitGroup
		res := make([]result, 2)
		for i := range res {
			wg.Go(func() { res[i] = cli(t, dir, nil, "ingest", "--data", months[i+1], "--as-of", asOfs[i+1]) })
		}
		wg.Wait()
		for i, r := range res {
			if r.code != 0 {
				t.Fatalf("round %d: ingest %s: %s", round, asOfs[i+1], r)
			}
		}
		checkAll(t, fmt.Sprintf("round %d", round), inspect(t, dir), always, settled, settledOnline())
		if t.Failed() {
			return
		}
	}
}
