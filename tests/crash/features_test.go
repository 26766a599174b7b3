package crash_test

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/snapshot"
)

// The online-store checks are pluggable: the feature store is being
// redesigned (versioned per as_of, switched atomically) on another branch,
// and two of its defects can only be checked once that lands:
//
//   - "online-atomic": an ingest killed between two feature writes leaves
//     the online store wholly on one month, never a mix (#13, defect 7; the
//     embedded store writes 20,000 records per transaction, so the check
//     ingests a month above that);
//   - "concurrent-ingest": two ingests of different months at once leave
//     the online store on the newer month (#13, defect 2);
//   - "online-expiry": customers absent from the newest month are no longer
//     served (#13, defect 9): every online record is from the newest month.
//
// Turn one on here when the redesign merges, or for one run with
// CHURNOPS_CRASH_CHECKS=online-atomic,concurrent-ingest. onlineAsOfs is the
// one function that reads the online store: adapt it to the new layout.
var onlineChecks = map[string]bool{
	"online-atomic":     false,
	"concurrent-ingest": false,
	"online-expiry":     false,
}

// onlineCheck reports whether the named online-store check is on.
func onlineCheck(name string) bool {
	return onlineChecks[name] || slices.Contains(strings.Split(os.Getenv("CHURNOPS_CRASH_CHECKS"), ","), name)
}

// newestUsersOnline counts the customers of the month stored for asOf by
// the as_of of the online record /predict would serve them ("" for none).
func newestUsersOnline(t *testing.T, st *localstore.State, asOf string) map[string]int {
	t.Helper()
	data, err := st.Blobs.Get(t.Context(), "datasets/as_of="+asOf+"/snapshot.parquet")
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.Features.All(t.Context())
	if err != nil {
		t.Fatalf("online features: %v", err)
	}
	served := make(map[string]string, len(recs))
	for _, r := range recs {
		served[r.UserID] = r.AsOf
	}
	out := map[string]int{}
	for _, id := range customers(t, data) {
		out[served[id]]++
	}
	return out
}

// datasetUsers caches the customers of each stored dataset, by its bytes:
// datasets are never rewritten, and every kill point reads the same ones.
var (
	datasetMu    sync.Mutex
	datasetUsers = map[[32]byte][]string{}
)

// customers returns the user ids of a stored dataset.
func customers(t *testing.T, data []byte) []string {
	t.Helper()
	sum := sha256.Sum256(data)
	datasetMu.Lock()
	defer datasetMu.Unlock()
	if ids, ok := datasetUsers[sum]; ok {
		return ids
	}
	m, err := snapshot.UnmarshalParquet(data)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(m.Customers))
	for i := range m.Customers {
		ids[i] = m.Customers[i].UserID
	}
	datasetUsers[sum] = ids
	return ids
}

// onlineAsOfs counts the online feature records per as_of: what /predict
// would serve.
func onlineAsOfs(t *testing.T, st *localstore.State) map[string]int {
	t.Helper()
	recs, err := st.Features.All(t.Context())
	if err != nil {
		t.Fatalf("online features: %v", err)
	}
	out := map[string]int{}
	for _, r := range recs {
		out[r.AsOf]++
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
