package drift_test

import (
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
