package gbdt_test

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"github.com/churnops/churnops/internal/gbdt"
)

// edgeRows returns rows of d, then variants of them that put each feature
// on the values where a lookup table could go wrong: every split threshold
// of the model and its neighbouring floats, missing, ±Inf, and for a
// categorical feature every code plus codes it does not have.
func edgeRows(m *gbdt.Model, d gbdt.Dataset, n int) [][]float64 {
	var out [][]float64
	for i := range n {
		out = append(out, row(d, i))
	}
	thresholds := m.SplitThresholds()
	for j, f := range d.Features {
		vals := []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0, math.Copysign(0, -1)}
		if f.Categorical {
			for c := range len(f.Categories) + 1 {
				vals = append(vals, float64(c))
			}
			vals = append(vals, -1, 0.5, 1e300)
		}
		for _, v := range thresholds[j] {
			vals = append(vals, v, math.Nextafter(v, math.Inf(-1)), math.Nextafter(v, math.Inf(1)))
		}
		for k, v := range vals {
			x := row(d, k%len(d.Label))
			x[j] = v
			out = append(out, x)
		}
	}
	return out
}

func TestTablesMatchWalk(t *testing.T) {
	d := logisticData(t, 4000, 5)
	depth2 := gbdt.DefaultParams() // the shape churnops trains
	depth2.MaxDepth, depth2.MaxLeaves, depth2.MinSamplesLeaf, depth2.ColSample = 2, 4, 50, 0.5
	depth2.Rounds, depth2.EarlyStoppingRounds = 300, 0
	depth3 := gbdt.DefaultParams() // with set splits of the 5-category feature
	depth3.MaxDepth, depth3.MaxLeaves, depth3.MinSamplesLeaf, depth3.MaxCatOneHot = 3, 8, 20, 2
	depth3.Rounds, depth3.EarlyStoppingRounds = 100, 0
	deep := gbdt.DefaultParams()
	deep.MaxDepth, deep.MaxLeaves, deep.MinSamplesLeaf = 6, 40, 5
	deep.Rounds, deep.EarlyStoppingRounds = 30, 0
	tests := []struct {
		name            string
		p               gbdt.Params
		cells, total    int
		compiles        bool
		minTables       int // small tables split groups: more tables
		maxTablesPerTen int // tables per 10 trees at most: the tables do group trees
	}{
		{"depth 2, default limits", depth2, 512, 1 << 20, true, 1, 3},
		{"depth 2, small tables split groups", depth2, 60, 1 << 20, true, 80, 10},
		{"depth 3 with set splits", depth3, 4096, 1 << 20, true, 1, 10},
		{"a tree larger than a table: walk", deep, 512, 1 << 20, false, 0, 0},
		{"all tables over the total: walk", depth2, 512, 100, false, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := train(t, d, tt.p)
			compiled, tables := m.Recompile(tt.cells, tt.total)
			if compiled != tt.compiles {
				t.Fatalf("compiled = %v, want %v", compiled, tt.compiles)
			}
			if compiled && (tables < tt.minTables || tables*10 > tt.maxTablesPerTen*m.NumTrees()) {
				t.Errorf("%d tables for %d trees, want at least %d and at most %d per 10 trees", tables, m.NumTrees(), tt.minTables, tt.maxTablesPerTen)
			}
			rows := edgeRows(m, d, len(d.Label))
			var worst float64
			for _, x := range rows {
				got, want := m.PredictRaw(x), m.WalkRaw(x)
				diff := math.Abs(got - want)
				if diff > 1e-12*max(1, math.Abs(want)) {
					t.Fatalf("row %v: tables %v, walk %v", x, got, want)
				}
				worst = max(worst, diff)
			}
			t.Logf("%d trees, %d tables, %d rows, largest difference %.3g", m.NumTrees(), tables, len(rows), worst)
		})
	}
}

// TestTablesAfterLoad checks that a loaded artifact is compiled too and
// answers as the trained model does.
func TestTablesAfterLoad(t *testing.T) {
	d := logisticData(t, 3000, 8)
	p := gbdt.DefaultParams()
	p.MaxDepth, p.MaxLeaves, p.Rounds, p.EarlyStoppingRounds = 2, 4, 200, 0
	m := train(t, d, p)
	loaded := roundTrip(t, m)
	if !m.Compiled() || !loaded.Compiled() {
		t.Fatalf("compiled: trained %v, loaded %v; want both", m.Compiled(), loaded.Compiled())
	}
	for _, x := range edgeRows(m, d, 500) {
		if got, want := loaded.PredictRaw(x), m.PredictRaw(x); got != want {
			t.Fatalf("row %v: loaded %v, trained %v", x, got, want)
		}
	}
	if !slices.Equal(predict(t, loaded, d), predict(t, m, d)) {
		t.Fatal("PredictColumns differ after a round trip")
	}
}

// FuzzTablesMatchWalk feeds arbitrary rows (any float64 bit patterns:
// NaN payloads, infinities, subnormals, huge and fractional category
// codes) to a depth-2 model with a categorical feature, and checks that the
// lookup tables answer as walking the trees does. make fuzz runs it.
func FuzzTablesMatchWalk(f *testing.F) {
	d := logisticData(f, 3000, 11)
	p := gbdt.DefaultParams()
	p.MaxDepth, p.MaxLeaves, p.MinSamplesLeaf, p.ColSample, p.MaxCatOneHot = 2, 4, 20, 0.5, 2
	p.Rounds, p.EarlyStoppingRounds = 150, 0
	m := train(f, d, p)
	if !m.Compiled() {
		f.Fatal("the model did not compile to tables")
	}
	nf := m.NumFeatures()
	for _, x := range edgeRows(m, d, 50) {
		f.Add(rowBytes(x))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		x := make([]float64, nf)
		for j := range x {
			if len(b) >= 8 {
				x[j] = math.Float64frombits(binary.LittleEndian.Uint64(b))
				b = b[8:]
			}
		}
		got, want := m.PredictRaw(x), m.WalkRaw(x)
		if math.Abs(got-want) > 1e-12*max(1, math.Abs(want)) {
			t.Fatalf("row %v: tables %v, walk %v", x, got, want)
		}
	})
}

func rowBytes(x []float64) []byte {
	var b []byte
	for _, v := range x {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	}
	return b
}
