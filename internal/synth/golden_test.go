package synth_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/synth"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/golden.sha256 from the current generator")

// goldenConfigs are the runs whose files are pinned by SHA-256 in
// testdata/golden.sha256: the lab's default population, and a smaller one
// with both drift kinds (a label shift recalibrates the intercept over the
// whole month, the path most sensitive to the order of random draws).
var goldenConfigs = map[string]synth.Config{
	"default":   {Months: 2, Seed: 42},
	"drifts":    {Users: 1500, Months: 4, Seed: 99, Drift: map[int]synth.Drift{1: synth.LabelShift, 2: synth.FeatureShift, 3: synth.LabelShift}, Strength: 1.5},
	"tiny-seed": {Users: 3, Months: 2, Seed: 7},
}

// TestGoldenBytes pins the generator's output byte for byte: the same
// config must keep writing the same files whatever the generator's
// internals (streaming, compact population), since data sets generated
// once are compared with later runs. The hashes were recorded from the
// generator that held whole months in memory.
func TestGoldenBytes(t *testing.T) {
	got := map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(goldenConfigs)) {
		dir := t.TempDir()
		if _, err := synth.GenerateToDir(dir, goldenConfigs[name], synth.WriteOptions{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for rel, data := range readTree(t, dir) {
			sum := sha256.Sum256(data)
			got[name+"/"+rel] = hex.EncodeToString(sum[:])
		}
	}
	path := filepath.Join("testdata", "golden.sha256")
	if *updateGolden {
		var b strings.Builder
		for _, k := range slices.Sorted(maps.Keys(got)) {
			fmt.Fprintf(&b, "%s  %s\n", got[k], k)
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := readGolden(t, path)
	if len(want) != len(got) {
		t.Errorf("%d files, golden has %d", len(got), len(want))
	}
	for k, sum := range want {
		if got[k] != sum {
			t.Errorf("%s: sha256 %s, golden %s", k, got[k], sum)
		}
	}
}

// readGolden reads "sha256  name" lines.
func readGolden(tb testing.TB, path string) map[string]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			tb.Fatalf("%s: bad line %q", path, sc.Text())
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestStreamGoldenBytes: Stream, which never holds a month, writes the
// very files the golden hashes pin.
func TestStreamGoldenBytes(t *testing.T) {
	want := readGolden(t, filepath.Join("testdata", "golden.sha256"))
	n := 0
	for _, name := range slices.Sorted(maps.Keys(goldenConfigs)) {
		dir := t.TempDir()
		sums, err := synth.Stream(dir, goldenConfigs[name], synth.StreamOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		run, err := synth.Simulate(goldenConfigs[name])
		if err != nil {
			t.Fatal(err)
		}
		for i, s := range sums {
			churners := 0
			for _, c := range run.Months[i].Customers {
				if c.Churn {
					churners++
				}
			}
			if s.Rows != len(run.Months[i].Customers) || s.Churners != churners || !s.AsOf.Equal(synth.AsOf(i)) {
				t.Errorf("%s month %d: summary %+v, want %d rows, %d churners", name, i, s, len(run.Months[i].Customers), churners)
			}
		}
		for rel, data := range readTree(t, dir) {
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); got != want[name+"/"+rel] {
				t.Errorf("%s/%s: sha256 %s, golden %s", name, rel, got, want[name+"/"+rel])
			}
			n++
		}
	}
	if n != len(want) {
		t.Errorf("%d files, golden has %d", n, len(want))
	}
}
