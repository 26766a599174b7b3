package drift_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/synth"
)

// months generates a reference and a current month of n customers, the
// current one with a feature shift so that some columns drift.
func months(tb testing.TB, n int) (ref, cur *snapshot.Month) {
	tb.Helper()
	ms, err := synth.Generate(synth.Config{Users: n, Months: 2, Seed: int64(n), Drift: map[int]synth.Drift{1: synth.FeatureShift}, Strength: 0.3})
	if err != nil {
		tb.Fatal(err)
	}
	return ms[0], ms[1]
}

// shards splits a month's customers into k shards, by a hash of user_id
// mod k as the sharded ingest does, or at random (any partition must do).
func shards(m *snapshot.Month, k int, r *rand.Rand) []*snapshot.Month {
	out := make([]*snapshot.Month, k)
	for i := range out {
		out[i] = &snapshot.Month{AsOf: m.AsOf}
	}
	for _, c := range m.Customers {
		var i int
		if r == nil {
			h := fnv.New64a()
			h.Write([]byte(c.UserID))
			i = int(h.Sum64() % uint64(k))
		} else {
			i = r.IntN(k)
		}
		out[i].Customers = append(out[i].Customers, c)
	}
	return out
}

// shardedSummary summarizes each shard, stores it (MarshalBinary) and
// merges the decoded parts in a random order and grouping, as a reduce
// step over shard summaries would.
func shardedSummary(tb testing.TB, parts []*snapshot.Month, maxDistinct int, r *rand.Rand) *drift.Summary {
	tb.Helper()
	var sums []*drift.Summary
	for _, p := range parts {
		s, err := drift.SummarizeCapped(p.DriftColumns(), maxDistinct)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := s.MarshalBinary()
		if err != nil {
			tb.Fatal(err)
		}
		back, err := drift.UnmarshalSummary(b)
		if err != nil {
			tb.Fatal(err)
		}
		sums = append(sums, back)
	}
	r.Shuffle(len(sums), func(i, j int) { sums[i], sums[j] = sums[j], sums[i] })
	for len(sums) > 1 { // merge random neighbours: a random reduce tree
		i := r.IntN(len(sums) - 1)
		m, err := drift.Merge(sums[i], sums[i+1])
		if err != nil {
			tb.Fatal(err)
		}
		sums = slices.Replace(sums, i, i+2, m)
	}
	return sums[0]
}

func reportJSON(tb testing.TB, rep *drift.Report, err error) []byte {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := rep.WriteJSON(&buf); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func marshal(tb testing.TB, s *drift.Summary) []byte {
	tb.Helper()
	b, err := s.MarshalBinary()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestShardedEqualsUnsharded proves that a month summarized in shards and
// merged gives the report of the whole month, byte for byte, on generated
// months of 1k (n <= 1000: K-S, chi-square, Z-test), 20k (Wasserstein,
// Jensen–Shannon, all exact) and 200k customers (watch hours and session
// length past MaxDistinct distinct values: approximate; and 20k with a cap
// of 4096 for the same path in less time), each split into several shard
// counts by user hash and at random; it covers every column type of the
// lab's months (integer-like and continuous numbers, booleans with missing
// values, strings, the label).
func TestShardedEqualsUnsharded(t *testing.T) {
	continuous := []string{"watch_hours_30d", "avg_session_mins_7d"}
	sizes := []struct {
		n           int
		maxDistinct int
		tests       []string // the tests the month must exercise
		approx      []string // the columns that must be approximate
		shardCount  []int
	}{
		{1000, drift.MaxDistinct, []string{drift.TestKS, drift.TestChiSquare, drift.TestZ}, nil, []int{2, 3, 7, 16}},
		{20000, drift.MaxDistinct, []string{drift.TestWasserstein, drift.TestJS}, nil, []int{2, 5, 11}},
		{20000, 4096, []string{drift.TestWasserstein, drift.TestJS}, continuous, []int{3, 8}},
		{200000, drift.MaxDistinct, []string{drift.TestWasserstein, drift.TestJS}, continuous, []int{3, 8}},
	}
	for _, size := range sizes {
		t.Run(itoa(size.n)+"/cap="+itoa(size.maxDistinct), func(t *testing.T) {
			if size.n > 20000 && (testing.Short() || raceEnabled) {
				t.Skip("200k customers take minutes with -race (the 4096 cap covers the path); run go test ./internal/drift")
			}
			ref, cur := months(t, size.n)
			opts := drift.Options{Threshold: drift.DefaultThreshold, Reference: "ref", Current: "cur", Gate: atOrAbove}
			wholeRef, err := drift.SummarizeCapped(ref.DriftColumns(), size.maxDistinct)
			if err != nil {
				t.Fatal(err)
			}
			wholeCur, err := drift.SummarizeCapped(cur.DriftColumns(), size.maxDistinct)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := drift.CompareSummaries(wholeRef, wholeCur, opts)
			want := reportJSON(t, rep, err)
			checkCoverage(t, rep, size.tests, size.approx)
			if size.maxDistinct == drift.MaxDistinct {
				rep, err := drift.Compare(ref.DriftColumns(), cur.DriftColumns(), opts)
				if got := reportJSON(t, rep, err); !bytes.Equal(got, want) {
					t.Fatal("Compare differs from CompareSummaries of the whole months")
				}
			}
			wantBytes := marshal(t, wholeRef)

			r := rand.New(rand.NewPCG(uint64(size.n), 3))
			for _, k := range size.shardCount {
				for _, random := range []bool{false, true} {
					name := itoa(k) + " shards by hash"
					var rr *rand.Rand
					if random {
						name, rr = itoa(k)+" random shards", r
					}
					t.Run(name, func(t *testing.T) {
						rs := shardedSummary(t, shards(ref, k, rr), size.maxDistinct, r)
						cs := shardedSummary(t, shards(cur, k, rr), size.maxDistinct, r)
						if got := marshal(t, rs); !bytes.Equal(got, wantBytes) {
							t.Errorf("merged reference summary: %d bytes differ from the whole month's %d", len(got), len(wantBytes))
						}
						rep, err := drift.CompareSummaries(rs, cs, opts)
						if got := reportJSON(t, rep, err); !bytes.Equal(got, want) {
							t.Errorf("sharded report differs from the unsharded one:\n%s", firstDiff(got, want))
						}
					})
				}
			}
		})
	}
}

// checkCoverage fails unless the report ran each of the given tests and
// marked exactly the given columns approximate, so that the equality
// above covers those paths.
func checkCoverage(t *testing.T, rep *drift.Report, tests, approx []string) {
	t.Helper()
	ran := map[string]bool{}
	var gotApprox []string
	for _, c := range rep.Columns {
		ran[c.Test] = true
		if c.Approximate {
			gotApprox = append(gotApprox, c.Column)
		}
	}
	for _, want := range tests {
		if !ran[want] {
			t.Errorf("no column ran %s (ran %v)", want, ran)
		}
	}
	if !slices.Equal(gotApprox, approx) {
		t.Errorf("approximate columns %v, want %v", gotApprox, approx)
	}
}

// firstDiff shows where two documents first differ.
func firstDiff(a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	lo := max(0, i-200)
	return "got:  ..." + string(a[lo:min(len(a), i+100)]) + "\nwant: ..." + string(b[lo:min(len(b), i+100)])
}

// TestAddStreamsChunks checks that adding a month chunk by chunk, rows in
// any order, gives the summary of the whole month.
func TestAddStreamsChunks(t *testing.T) {
	ref, _ := months(t, 5000)
	whole, err := drift.Summarize(ref.DriftColumns())
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 5))
	cust := slices.Clone(ref.Customers)
	r.Shuffle(len(cust), func(i, j int) { cust[i], cust[j] = cust[j], cust[i] })
	var s drift.Summary
	for len(cust) > 0 {
		n := min(len(cust), 1+r.IntN(900))
		chunk := snapshot.Month{Customers: cust[:n]}
		if err := s.Add(chunk.DriftColumns()); err != nil {
			t.Fatal(err)
		}
		cust = cust[n:]
	}
	if !bytes.Equal(marshal(t, &s), marshal(t, whole)) {
		t.Error("streamed summary differs from the whole month's")
	}
	if s.Rows() != len(ref.Customers) {
		t.Errorf("rows = %d, want %d", s.Rows(), len(ref.Customers))
	}
}

// randomColumns builds columns of every kind with missing and infinite
// values, negative numbers and zeros of both signs, for the merge algebra.
func randomColumns(r *rand.Rand, n int) []snapshot.Column {
	num := snapshot.Column{Name: "x", Kind: snapshot.Numerical, Num: make([]float64, 0, n)}
	ints := snapshot.Column{Name: "i", Kind: snapshot.Numerical, Num: make([]float64, 0, n)}
	cat := snapshot.Column{Name: "c", Kind: snapshot.Categorical, Cat: make([]string, 0, n)}
	for range n {
		var v float64
		switch u := r.Float64(); {
		case u < 0.05:
			v = math.NaN()
		case u < 0.07:
			v = math.Inf(1 - 2*r.IntN(2))
		case u < 0.1:
			v = math.Copysign(0, float64(1-2*r.IntN(2)))
		default:
			v = 100 * r.NormFloat64()
		}
		num.Num = append(num.Num, v)
		ints.Num = append(ints.Num, float64(r.IntN(40)-10))
		cat.Cat = append(cat.Cat, []string{"", "a", "b", "ü", "zz"}[r.IntN(5)])
	}
	return []snapshot.Column{num, ints, cat}
}

// TestMergeAlgebra checks that Merge is associative and commutative, that
// the zero Summary is its identity, with and without truncation (a cap of
// 300 distinct values forces it on the continuous column).
func TestMergeAlgebra(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, maxDistinct := range []int{drift.MaxDistinct, 300, 1} {
		var parts []*drift.Summary
		for range 4 {
			s, err := drift.SummarizeCapped(randomColumns(r, 50+r.IntN(500)), maxDistinct)
			if err != nil {
				t.Fatal(err)
			}
			parts = append(parts, s)
		}
		a, b, c, d := parts[0], parts[1], parts[2], parts[3]
		merge := func(p ...*drift.Summary) []byte {
			t.Helper()
			m, err := drift.Merge(p...)
			if err != nil {
				t.Fatal(err)
			}
			return marshal(t, m)
		}
		mm := func(p ...*drift.Summary) *drift.Summary {
			t.Helper()
			m, err := drift.Merge(p...)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		want := merge(a, b, c, d)
		for name, got := range map[string][]byte{
			"((ab)c)d":   merge(mm(mm(a, b), c), d),
			"a(b(cd))":   merge(a, mm(b, mm(c, d))),
			"(ab)(cd)":   merge(mm(a, b), mm(c, d)),
			"dcba":       merge(d, c, b, a),
			"(db)(ca)":   merge(mm(d, b), mm(c, a)),
			"zero first": merge(&drift.Summary{}, a, b, &drift.Summary{}, c, d),
		} {
			if !bytes.Equal(got, want) {
				t.Errorf("cap %d: %s differs from abcd", maxDistinct, name)
			}
		}
		if m := mm(a, b, c, d); m.Columns()[0].Exact != (maxDistinct == drift.MaxDistinct) {
			t.Errorf("cap %d: continuous column exact = %v", maxDistinct, m.Columns()[0].Exact)
		}
		if !bytes.Equal(marshal(t, a), merge(a)) {
			t.Errorf("cap %d: Merge(a) differs from a", maxDistinct)
		}
	}
}

func TestMergeRejectsOtherColumns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cols := randomColumns(r, 100)
	a, err := drift.Summarize(cols)
	if err != nil {
		t.Fatal(err)
	}
	for name, other := range map[string][]snapshot.Column{
		"fewer columns": cols[:2],
		"renamed":       {cols[0], {Name: "j", Kind: snapshot.Numerical, Num: cols[1].Num}, cols[2]},
		"reordered":     {cols[1], cols[0], cols[2]},
		"other kind":    {cols[0], {Name: "i", Kind: snapshot.Categorical, Num: cols[1].Num}, cols[2]},
	} {
		b, err := drift.Summarize(other)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := drift.Merge(a, b); !errors.Is(err, drift.ErrSchema) {
			t.Errorf("%s: err = %v, want ErrSchema", name, err)
		}
		if err := a.Add(other); !errors.Is(err, drift.ErrSchema) {
			t.Errorf("%s: Add err = %v, want ErrSchema", name, err)
		}
	}
	if _, err := drift.Summarize([]snapshot.Column{cols[0], {Name: "short", Kind: snapshot.Numerical, Num: []float64{1}}}); !errors.Is(err, drift.ErrSchema) {
		t.Errorf("columns of different lengths: err = %v, want ErrSchema", err)
	}
}

// TestSummaryCodec checks the round trip and that damaged bytes are
// refused.
func TestSummaryCodec(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	for _, maxDistinct := range []int{drift.MaxDistinct, 200} {
		s, err := drift.SummarizeCapped(randomColumns(r, 3000), maxDistinct)
		if err != nil {
			t.Fatal(err)
		}
		b := marshal(t, s)
		back, err := drift.UnmarshalSummary(b)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(marshal(t, back), b) || !slices.Equal(back.Columns(), s.Columns()) {
			t.Errorf("cap %d: round trip changed the summary", maxDistinct)
		}
		for _, cut := range []int{0, 3, len(b) / 2, len(b) - 1} {
			if _, err := drift.UnmarshalSummary(b[:cut]); !errors.Is(err, drift.ErrSummaryFormat) {
				t.Errorf("cap %d: %d of %d bytes: err = %v", maxDistinct, cut, len(b), err)
			}
		}
		for i := range 50 {
			bad := slices.Clone(b)
			bad[r.IntN(len(bad))] ^= byte(1 + i%255)
			if _, err := drift.UnmarshalSummary(bad); !errors.Is(err, drift.ErrSummaryFormat) {
				t.Errorf("cap %d: flipped byte accepted", maxDistinct)
			}
		}
	}
	var zero drift.Summary
	if back, err := drift.UnmarshalSummary(marshal(t, &zero)); err != nil || back.Rows() != 0 {
		t.Errorf("zero summary: %v, %v", back, err)
	}
}

// FuzzUnmarshalSummary checks that decoding never panics and that whatever
// decodes is canonical: it encodes back to the same bytes. The fuzzer
// mutates the body; the checksum is appended to it, so that mutations
// reach the decoder.
func FuzzUnmarshalSummary(f *testing.F) {
	r := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{0, 1, 40, 700} {
		s, err := drift.SummarizeCapped(randomColumns(r, n), 64)
		if err != nil {
			f.Fatal(err)
		}
		b := marshal(f, s)
		f.Add(b[:len(b)-4])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		b := binary.LittleEndian.AppendUint32(slices.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		s, err := drift.UnmarshalSummary(b)
		if err != nil {
			return
		}
		if got := marshal(t, s); !bytes.Equal(got, b) {
			t.Errorf("decoded summary encodes to other bytes")
		}
	})
}
