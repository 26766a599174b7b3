package drift_test

import (
	"math/rand/v2"
	"os"
	"testing"

	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/snapshot"
)

// benchColumns returns the lab's two sample months (2 × 7,043 rows), or
// generated columns of the same shape when the data is absent.
func benchColumns(b *testing.B) (ref, cur []snapshot.Column) {
	b.Helper()
	if _, err := os.Stat(dataDir); err == nil {
		return columns(b, slice{month: readMonth(b, "month_000"), end: -1}),
			columns(b, slice{month: readMonth(b, "month_001"), end: -1})
	}
	ref, cur = synthetic(7043, 1, 0, 0.3), synthetic(7043, 2, 1, 0.35)
	for i := 0; i < 6; i++ { // 14 columns, like the lab's
		ref = append(ref, synthetic(7043, uint64(10+i), 0, 0.3)...)
		cur = append(cur, synthetic(7043, uint64(20+i), 0, 0.3)...)
		for j := len(ref) - 2; j < len(ref); j++ {
			ref[j].Name += "_" + itoa(i)
			cur[j].Name += "_" + itoa(i)
		}
	}
	return ref, cur
}

func BenchmarkCompare(b *testing.B) {
	ref, cur := benchColumns(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.Compare(ref, cur, drift.Options{Threshold: drift.DefaultThreshold}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuild(b *testing.B) {
	ref, cur := benchColumns(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.Build(ref, cur, drift.Options{Threshold: drift.DefaultThreshold}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummarize is the per-shard cost: one month's 15 columns to a
// summary.
func BenchmarkSummarize(b *testing.B) {
	ref, _ := benchColumns(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.Summarize(ref); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMergeCompare is the reduce step: decode four shard summaries of
// each month, merge them and compare the months.
func BenchmarkMergeCompare(b *testing.B) {
	ref, cur := benchColumns(b)
	encode := func(cols []snapshot.Column) [][]byte {
		var out [][]byte
		n := max(len(cols[0].Num), len(cols[0].Cat))
		for i := range 4 {
			part := chunked(b, sliceRows(cols, i*n/4, (i+1)*n/4), 1)
			bs, err := part.MarshalBinary()
			if err != nil {
				b.Fatal(err)
			}
			out = append(out, bs)
		}
		return out
	}
	refParts, curParts := encode(ref), encode(cur)
	merge := func(parts [][]byte) *drift.Summary {
		var m drift.Summary
		for _, p := range parts {
			s, err := drift.UnmarshalSummary(p)
			if err != nil {
				b.Fatal(err)
			}
			mm, err := drift.Merge(&m, s)
			if err != nil {
				b.Fatal(err)
			}
			m = *mm
		}
		return &m
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := drift.CompareSummaries(merge(refParts), merge(curParts), drift.Options{Threshold: drift.DefaultThreshold}); err != nil {
			b.Fatal(err)
		}
	}
}

// sliceRows returns rows [lo, hi) of columns.
func sliceRows(cols []snapshot.Column, lo, hi int) []snapshot.Column {
	out := make([]snapshot.Column, len(cols))
	for j, c := range cols {
		out[j] = snapshot.Column{Name: c.Name, Kind: c.Kind}
		if c.Num != nil {
			out[j].Num = c.Num[lo:hi]
		}
		if c.Cat != nil {
			out[j].Cat = c.Cat[lo:hi]
		}
	}
	return out
}

// BenchmarkSummarizeContinuous summarizes a 400k-row shard of a continuous
// column (synth's watch hours), exact and within MaxDistinct: the cost of
// choosing the bits and truncating, next to sorting the values.
func BenchmarkSummarizeContinuous(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 2))
	col := snapshot.Column{Name: "watch_hours_30d", Kind: snapshot.Numerical, Num: make([]float64, 400_000)}
	for i := range col.Num {
		col.Num[i] = max(0.5, 30+10*r.NormFloat64())
	}
	for _, c := range []struct {
		name string
		cap  int
	}{{"exact", drift.ExactCap}, {"capped", drift.MaxDistinct}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := drift.SummarizeCapped([]snapshot.Column{col}, c.cap); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
