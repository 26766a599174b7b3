package snapshot_test

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
)

// BenchmarkLoad loads the lab's real month_000 (7,043 rows × 6 files).
func BenchmarkLoad(b *testing.B) {
	dir := filepath.Join(sampleDir(b), "month_000")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := snapshot.Load(dir, asOf0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParquetRoundTrip encodes and decodes the real month_000.
func BenchmarkParquetRoundTrip(b *testing.B) {
	m := loadSample(b, "month_000", asOf0)
	b.ReportAllocs()
	var size int
	for b.Loop() {
		data, err := snapshot.MarshalParquet(m)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := snapshot.UnmarshalParquet(data); err != nil {
			b.Fatal(err)
		}
		size = len(data)
	}
	b.ReportMetric(float64(size), "file-bytes")
}

// BenchmarkFingerprint hashes the real month_000.
func BenchmarkFingerprint(b *testing.B) {
	m := loadSample(b, "month_000", asOf0)
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Fingerprint()
	}
}

// BenchmarkWriteCSVDir writes the real month_000 in the lab's layout.
func BenchmarkWriteCSVDir(b *testing.B) {
	m := loadSample(b, "month_000", asOf0)
	root := b.TempDir()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if err := snapshot.WriteCSVDir(filepath.Join(root, strconv.Itoa(i)), m); err != nil {
			b.Fatal(err)
		}
	}
}
