package crash_test

import (
	"fmt"
	"testing"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/localstore"
)

// shardRows makes the generated months (600 customers) three shards.
const shardRows = "200"

// TestShardedIngestCrash kills a sharded ingest (K=3: every file
// partitioned, every shard built with its Parquet file, drift summary and
// online features, the commit) right after each of its durable steps in
// turn: the month is then either absent — nothing of it visible, none of
// its online features served — or whole — its manifest naming every
// shard's file with the rows it records, its drift summary, the online
// store wholly on it — never a mix; running the ingest again finishes it
// and `churnops check` finds nothing.
func TestShardedIngestCrash(t *testing.T) {
	crashEveryStep(t, scenario{
		name: "ingest in 3 shards", base: "one month", rerun: true,
		args: fixed("ingest", "--data", "MONTH1", "--as-of", asOfs[1], "--shard-rows", shardRows),
	}, []invariant{oneMonth, oldOrNew(asOfs[1])})
}

// oldOrNew: the month asOf is invisible and unserved, or stored whole and
// served.
func oldOrNew(asOf string) invariant {
	return invariant{"the month is absent or whole, never a mix", func(v *view) []string {
		m, ok := v.months[asOf]
		if !ok {
			if v.online[asOf] > 0 {
				return []string{fmt.Sprintf("%d online records of %s are served, but the month is not stored", v.online[asOf], asOf)}
			}
			return nil
		}
		out := m.problems
		if m.k != 3 {
			out = append(out, fmt.Sprintf("%s is stored in %d shards, want 3", asOf, m.k))
		}
		if !m.summary {
			out = append(out, asOf+" is stored without its drift summary")
		}
		return out
	}}
}

// storedMonth is what inspect found of a visible month.
type storedMonth struct {
	k        int
	summary  bool     // its manifest names a drift summary
	problems []string // dataset.Verify's
}

// inspectMonths verifies every visible month against its manifest.
func inspectMonths(t *testing.T, st *localstore.State, asOfs []string) map[string]storedMonth {
	t.Helper()
	out := map[string]storedMonth{}
	for _, asOf := range asOfs {
		m, err := dataset.Open(t.Context(), st.Blobs, asOf)
		if err != nil {
			out[asOf] = storedMonth{problems: []string{err.Error()}}
			continue
		}
		problems, err := dataset.Verify(t.Context(), st.Blobs, m)
		if err != nil {
			t.Fatalf("verify %s: %v", asOf, err)
		}
		out[asOf] = storedMonth{k: m.K, summary: m.DriftSummary != "" || m.Legacy, problems: problems}
	}
	return out
}
