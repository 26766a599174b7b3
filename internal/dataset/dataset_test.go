package dataset_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/blob/blobtest"
	"github.com/churnops/churnops/internal/dataset"
)

// TestVisibility: a month is listed and opened only once its manifest is
// stored (or it was stored before sharding).
func TestVisibility(t *testing.T) {
	ctx := context.Background()
	store, ms := ingested(t, 200, 1, 2)
	put := func(key string, data []byte) {
		if err := store.Put(ctx, key, data); err != nil {
			t.Fatal(err)
		}
	}
	put(dataset.PartKey("2024-05-31", 0), []byte("an uncommitted shard"))
	put(dataset.LegacyKey("2023-12-31"), []byte("PAR1"))
	asOfs, err := dataset.List(ctx, store)
	if err != nil || strings.Join(asOfs, " ") != "2023-12-31 2024-01-31" {
		t.Errorf("List = %v, %v", asOfs, err)
	}
	if _, err := dataset.Open(ctx, store, "2024-05-31"); !errors.Is(err, dataset.ErrNotFound) {
		t.Errorf("Open of an uncommitted month: %v", err)
	}
	if m, err := dataset.Open(ctx, store, "2023-12-31"); err != nil || !m.Legacy || m.K != 1 {
		t.Errorf("Open of a legacy month: %+v, %v", m, err)
	}
	if m, err := dataset.Open(ctx, store, "2024-01-31"); err != nil || m.K != 2 || m.Rows != ms[0].Rows {
		t.Errorf("Open: %+v, %v", m, err)
	}
	if _, err := dataset.Open(ctx, blobtest.NewMemory(), "2024-13-01"); err == nil {
		t.Error("Open of a bad as_of succeeded")
	}
}

// TestManifestCheck refuses manifests that do not add up.
func TestManifestCheck(t *testing.T) {
	_, ms := ingested(t, 200, 1, 3)
	good, err := dataset.EncodeManifest(ms[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dataset.DecodeManifest(good); err != nil {
		t.Fatalf("a manifest written by ingest: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(m *dataset.Manifest)
	}{
		{"schema", func(m *dataset.Manifest) { m.Schema = "v0" }},
		{"rows", func(m *dataset.Manifest) { m.Rows++ }},
		{"shard rows", func(m *dataset.Manifest) { m.Shards[1].Rows++ }},
		{"churners", func(m *dataset.Manifest) { m.Churners-- }},
		{"k", func(m *dataset.Manifest) { m.K = 4 }},
		{"shard order", func(m *dataset.Manifest) { m.Shards[0], m.Shards[1] = m.Shards[1], m.Shards[0] }},
		{"shard fingerprint", func(m *dataset.Manifest) { m.Shards[2].Fingerprint = "00" }},
		{"key without rows", func(m *dataset.Manifest) { m.Shards[0].Key = "" }},
		{"as_of", func(m *dataset.Manifest) { m.AsOf = "2024-02-30" }},
		{"drift summary elsewhere", func(m *dataset.Manifest) { m.DriftSummary = "reports/x.bin" }},
		{"sample of the whole month", func(m *dataset.Manifest) {
			m.Sample = &dataset.SampleFile{Key: dataset.SampleFileKey(m.AsOf, m.Rows, m.Fingerprint), Budget: m.Rows, Rows: m.Rows}
		}},
		{"sample short of its budget", func(m *dataset.Manifest) {
			m.Sample = &dataset.SampleFile{Key: dataset.SampleFileKey(m.AsOf, 10, m.Fingerprint), Budget: 10, Rows: 9}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m dataset.Manifest
			if err := json.Unmarshal(good, &m); err != nil {
				t.Fatal(err)
			}
			tt.mutate(&m)
			b, _ := json.Marshal(&m)
			if _, err := dataset.DecodeManifest(b); err == nil {
				t.Error("accepted")
			}
		})
	}
}

// TestMonthFingerprint: one shard keeps the unsharded fingerprint; more
// shards depend on every shard and their order.
func TestMonthFingerprint(t *testing.T) {
	if got := dataset.MonthFingerprint("2024-01-31", []string{"abc"}); got != "abc" {
		t.Errorf("one shard: %s", got)
	}
	a := dataset.MonthFingerprint("2024-01-31", []string{"a", "b"})
	for _, other := range []string{
		dataset.MonthFingerprint("2024-01-31", []string{"b", "a"}),
		dataset.MonthFingerprint("2024-01-31", []string{"a", "c"}),
		dataset.MonthFingerprint("2024-02-29", []string{"a", "b"}),
		dataset.MonthFingerprint("2024-01-31", []string{"ab", ""}),
	} {
		if other == a {
			t.Error("fingerprints collide")
		}
	}
}
