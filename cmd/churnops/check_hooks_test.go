package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/localstore"
)

// TestCheckHooks: `churnops check` verifies each stored month against its
// manifest (a shard's file missing or truncated is found, by file) and the
// online store against the newest months (a month whose publish never
// happened is found, and --repair publishes the newest complete one).
func TestCheckHooks(t *testing.T) {
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	data := filepath.Join(dir, "data")
	mustRun(t, "gen", "--out", data, "--months", "2", "--users", "900", "--seed", "5")
	for i, asOf := range []string{"2024-01-31", "2024-02-29"} {
		mustRun(t, "ingest", "--state", state, "--data", filepath.Join(data, fmt.Sprintf("month_%03d", i)), "--as-of", asOf, "--shard-rows", "300")
	}
	if out := mustRun(t, "check", "--state", state); !strings.Contains(out, "no problems found") {
		t.Fatalf("check on a sound state: %s", out)
	}

	t.Run("a month's file", func(t *testing.T) {
		damaged := filepath.Join(t.TempDir(), "state")
		copyTree(t, state, damaged)
		part := filepath.Join(damaged, "blobs", filepath.FromSlash(dataset.PartKey("2024-01-31", 1)))
		b, err := os.ReadFile(part)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(part, b[:len(b)/2], 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(damaged, "blobs", filepath.FromSlash(dataset.PartKey("2024-02-29", 2)))); err != nil {
			t.Fatal(err)
		}
		code, out, _ := churnops(t, "check", "--state", damaged)
		if code != 1 || !strings.Contains(out, "[datasets] as_of 2024-01-31: shard 1's file datasets/as_of=2024-01-31/part-00001.parquet holds") ||
			!strings.Contains(out, "shard 2's file datasets/as_of=2024-02-29/part-00002.parquet is missing") || !strings.Contains(out, "to do: ") {
			t.Errorf("check of damaged months: exit %d\n%s", code, out)
		}
	})

	t.Run("an unpublished month", func(t *testing.T) {
		stopped := filepath.Join(t.TempDir(), "state")
		copyTree(t, state, stopped)
		// February's features are written but January is served: an ingest
		// killed between its commit and its publish (Remove serves the
		// previous month; the features are written again below).
		st, err := localstore.Open(stopped, localstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.Features.Remove(t.Context(), "2024-02-29", false); err != nil {
			t.Fatal(err)
		}
		st.Close()
		code, out, _ := churnops(t, "check", "--state", stopped)
		if code != 1 || !strings.Contains(out, "[online] as_of 2024-02-29: the newest stored month has no online features") {
			t.Fatalf("check with the newest month unpublished: exit %d\n%s", code, out)
		}
		// Written whole but never published: --repair publishes them.
		fake := filepath.Join(t.TempDir(), "state")
		copyTree(t, stopped, fake)
		st, err = localstore.Open(fake, localstore.Options{})
		if err != nil {
			t.Fatal(err)
		}
		rec := featurestore.Record{UserID: "0001-AAAAA", Features: map[string]any{"monthly_fee": 20.0}}
		err = st.Features.Write(t.Context(), "2024-02-29", 0, 1, []featurestore.Record{rec})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		code, out, _ = churnops(t, "check", "--state", fake)
		if code != 1 || !strings.Contains(out, "the newest complete month of online features is 2024-02-29, but 2024-01-31 is served") || !strings.Contains(out, "--repair would publish 2024-02-29") {
			t.Fatalf("check with a complete month unpublished: exit %d\n%s", code, out)
		}
		if out := mustRun(t, "check", "--repair", "--state", fake); !strings.Contains(out, "all repaired") {
			t.Errorf("check --repair: %s", out)
		}
		// The same data again rewrites and publishes them, as the advice says.
		mustRun(t, "ingest", "--state", stopped, "--data", filepath.Join(data, "month_001"), "--as-of", "2024-02-29", "--shard-rows", "300")
		if out := mustRun(t, "check", "--state", stopped); !strings.Contains(out, "no problems found") {
			t.Errorf("check after the re-ingest: %s", out)
		}
	})
}
