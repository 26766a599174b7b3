package dataset_test

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/shard"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// ingested generates months of users customers and ingests each with k
// shards into one store.
func ingested(t *testing.T, users, months, k int) (blob.Store, []*dataset.Manifest) {
	t.Helper()
	dir := t.TempDir()
	if _, err := synth.GenerateToDir(dir, synth.Config{Users: users, Months: months, Seed: 21}, synth.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	store := blobtest.NewMemory()
	var out []*dataset.Manifest
	for i := range months {
		res, err := ingest.Run(context.Background(), ingest.Dir(filepath.Join(dir, synth.MonthDir(i))), store, synth.AsOf(i),
			ingest.Options{PlanOptions: ingest.PlanOptions{Shards: k}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, res.Commit.Manifest)
	}
	return store, out
}

func sample(t *testing.T, store blob.Store, m *dataset.Manifest, budget int) []snapshot.Customer {
	t.Helper()
	s, err := dataset.Sample(context.Background(), store, m, budget)
	if err != nil {
		t.Fatal(err)
	}
	return s.Customers
}

// TestSample checks the sample's definition against a brute force: the
// budget users of smallest SampleKey, in stored order, exactly budget of
// them; the whole month in stored order when it fits.
func TestSample(t *testing.T) {
	const k = 4
	store, ms := ingested(t, 3000, 1, k)
	m := ms[0]
	var all []snapshot.Customer
	var where []int // shard of each
	err := dataset.Each(context.Background(), store, m, func(s int, sh *snapshot.Month) error {
		all = append(all, sh.Customers...)
		for range sh.Customers {
			where = append(where, s)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, budget := range []int{1, 10, 1000, 2999, 3000, 5000} {
		got := sample(t, store, m, budget)
		idx := make([]int, len(all))
		for i := range idx {
			idx[i] = i
		}
		slices.SortFunc(idx, func(a, b int) int {
			return cmp.Compare(dataset.SampleKey(all[a].UserID), dataset.SampleKey(all[b].UserID))
		})
		idx = idx[:min(budget, len(all))]
		slices.Sort(idx) // stored order
		if len(got) != len(idx) {
			t.Fatalf("budget %d: %d customers, want %d", budget, len(got), len(idx))
		}
		for i, j := range idx {
			if got[i].UserID != all[j].UserID || got[i] != all[j] {
				t.Fatalf("budget %d: customer %d is %s, want %s (shard %d)", budget, i, got[i].UserID, all[j].UserID, where[j])
			}
		}
	}
}

// TestSampleStableAcrossMonths: a user sampled one month and still a
// customer the next is sampled again (the population turns over by ~5% a
// month, which moves the budget's cut-off only a little).
func TestSampleStableAcrossMonths(t *testing.T) {
	store, ms := ingested(t, 6000, 3, 3)
	const budget = 2000
	var prev map[string]bool
	for i, m := range ms {
		got := sample(t, store, m, budget)
		if len(got) != budget {
			t.Fatalf("month %d: %d sampled, want %d", i, len(got), budget)
		}
		cur := map[string]bool{}
		for _, c := range got {
			cur[c.UserID] = true
		}
		if prev != nil {
			present := map[string]bool{}
			if err := dataset.Each(context.Background(), store, m, func(_ int, s *snapshot.Month) error {
				for _, c := range s.Customers {
					present[c.UserID] = true
				}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			stayed, kept := 0, 0
			for id := range prev {
				if present[id] {
					stayed++
					if cur[id] {
						kept++
					}
				}
			}
			if float64(kept) < 0.97*float64(stayed) {
				t.Errorf("month %d: %d of the %d sampled users still present were sampled again", i, kept, stayed)
			}
		}
		prev = cur
	}
}

// TestSampleIndependence: whether a user is sampled tells nothing about
// its validation side or its shard (chi-square tests at p = 0.001, on a
// fixed population: deterministic).
func TestSampleIndependence(t *testing.T) {
	const k, budget = 5, 4000
	store, ms := ingested(t, 20000, 1, k)
	got := sample(t, store, ms[0], budget)
	sampled := map[string]bool{}
	for _, c := range got {
		sampled[c.UserID] = true
	}
	var valid [2][2]float64 // [sampled][validation]
	perShard := make([][2]float64, k)
	n := 0.0
	err := dataset.Each(context.Background(), store, ms[0], func(s int, sh *snapshot.Month) error {
		for _, c := range sh.Customers {
			in := b2i(sampled[c.UserID])
			valid[in][b2i(snapshot.IsValidation(c.UserID))]++
			perShard[shard.Of(c.UserID, k)][in]++
			n++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if chi := chiSquare(valid[:]); chi > 10.83 { // 1 degree of freedom
		t.Errorf("sampled × validation: chi² = %.2f > 10.83 (%v)", chi, valid)
	}
	if chi := chiSquare(perShard); chi > 18.47 { // 4 degrees of freedom
		t.Errorf("sampled × shard: chi² = %.2f > 18.47 (%v)", chi, perShard)
	}
	// And the test has power: a sample that were the validation users
	// would fail it.
	var leak [2][2]float64
	leak[0][0] = valid[0][0] + valid[1][0] // not sampled, train
	leak[1][1] = valid[0][1] + valid[1][1] // sampled, validation
	if chi := chiSquare(leak[:]); chi < 1000 {
		t.Errorf("a sample equal to the validation split gives chi² = %.2f only", chi)
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// chiSquare is Pearson's statistic of a contingency table.
func chiSquare(t [][2]float64) float64 {
	var rows []float64
	var cols [2]float64
	total := 0.0
	for _, r := range t {
		rows = append(rows, r[0]+r[1])
		cols[0] += r[0]
		cols[1] += r[1]
		total += r[0] + r[1]
	}
	chi := 0.0
	for i, r := range t {
		for j := range r {
			e := rows[i] * cols[j] / total
			if e > 0 {
				chi += (r[j] - e) * (r[j] - e) / e
			}
		}
	}
	return chi
}

// TestSampleBound: the keys below SampleBound(rows, budget) number at least
// budget in a month of rows customers (with a margin of many standard
// deviations: the stored sample is then exact), and not many more (the
// candidates a commit reads stay close to the budget); a month within the
// budget makes every customer a candidate.
func TestSampleBound(t *testing.T) {
	for _, tc := range []struct{ rows, budget int }{{2000, 1000}, {50000, 1000}, {200000, 100000}, {200000, 199000}} {
		bound := dataset.SampleBound(tc.rows, tc.budget)
		below := 0
		for i := range tc.rows {
			if dataset.SampleKey(fmt.Sprintf("%04d-ABCDE%d", i%10000, i)) < bound {
				below++
			}
		}
		if below < tc.budget || float64(below) > float64(tc.budget)*1.01+16*math.Sqrt(float64(tc.budget))+10 {
			t.Errorf("rows %d budget %d: %d keys below the bound", tc.rows, tc.budget, below)
		}
	}
	if dataset.SampleBound(1000, 1000) != math.MaxUint64 || dataset.SampleBound(10, 1000) != math.MaxUint64 {
		t.Error("a month within the budget does not make every customer a candidate")
	}
}

// TestCandidates keeps a shard's customers below the bound, in order.
func TestCandidates(t *testing.T) {
	store, ms := ingested(t, 500, 1, 1)
	sh, err := dataset.ReadShard(context.Background(), store, ms[0], 0)
	if err != nil {
		t.Fatal(err)
	}
	bound := dataset.SampleBound(500, 100)
	c := dataset.Candidates(sh, bound)
	var want []string
	for _, cu := range sh.Customers {
		if dataset.SampleKey(cu.UserID) < bound {
			want = append(want, cu.UserID)
		}
	}
	var got []string
	for _, cu := range c.Customers {
		got = append(got, cu.UserID)
	}
	if !slices.Equal(got, want) || len(got) < 100 || !c.AsOf.Equal(sh.AsOf) {
		t.Errorf("%d candidates, want %d in order", len(got), len(want))
	}
}
