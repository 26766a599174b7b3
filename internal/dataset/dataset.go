// Package dataset is the layout of the months stored in the blob store
// and the readers of it: which months are ingested, their shards, a shard's
// customers, and the deterministic user-hash sample that training and
// evaluation read.
//
// A month is stored under datasets/as_of=YYYY-MM-DD/ as K Parquet files,
// one per shard of users (part-00000.parquet …, each a complete snapshot
// file of its users: snapshot.WriteParquet's schema), and a manifest
// (manifest.json) written last, after every part: a month is visible —
// listed by List, opened by Open — only once its manifest exists, so a
// crash in the middle of an ingest never exposes half a month. Months
// stored before sharding (datasets/as_of=D/snapshot.parquet) stay readable
// as months of one shard.
//
// Readers go shard by shard (Each, ReadShard), so memory is bounded by a
// shard, never by the month; Sample caps what a trainer holds at a row
// budget. Writers are in internal/ingest.
package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/snapshot"
)

// Prefix is where months are stored.
const Prefix = "datasets/"

// File names inside a month's directory.
const (
	ManifestFile = "manifest.json"
	LegacyFile   = "snapshot.parquet"
)

// ManifestSchema versions the manifest's JSON; Open refuses others.
const ManifestSchema = "churnops.dataset.manifest/v1"

// Dir returns the directory of a month's keys: "datasets/as_of=D/".
func Dir(asOf string) string { return Prefix + "as_of=" + asOf + "/" }

// ManifestKey is where a month's manifest is stored.
func ManifestKey(asOf string) string { return Dir(asOf) + ManifestFile }

// LegacyKey is where a month stored before sharding lives.
func LegacyKey(asOf string) string { return Dir(asOf) + LegacyFile }

// PartKey is where shard k of a month is stored.
func PartKey(asOf string, k int) string { return fmt.Sprintf("%spart-%05d.parquet", Dir(asOf), k) }

// SummaryKey is where the drift summary of a month with this fingerprint
// is stored (internal/drift's Summary, binary): named by the data, so that
// an attempt that never committed cannot leave a summary a later one of
// other data would be taken for.
func SummaryKey(asOf, fingerprint string) string {
	return Dir(asOf) + "drift-summary-" + shortFingerprint(fingerprint) + ".bin"
}

// SampleFileKey is where the stored sample of budget customers of a month
// with this fingerprint is kept (a snapshot Parquet file).
func SampleFileKey(asOf string, budget int, fingerprint string) string {
	return fmt.Sprintf("%ssample-%d-%s.parquet", Dir(asOf), budget, shortFingerprint(fingerprint))
}

func shortFingerprint(fp string) string {
	if len(fp) > 16 {
		return fp[:16]
	}
	return fp
}

// ErrNotFound means no month is visible for an as_of: none was ingested,
// or its ingest has not committed yet.
var ErrNotFound = errors.New("dataset not found")

// Manifest describes a stored month: its shards in shard order and what
// identifies its data.
type Manifest struct {
	Schema string `json:"schema"`
	AsOf   string `json:"as_of"`
	// K is the number of shards: user u is in shard shard.Of(u, K).
	K int `json:"k"`
	// Shards are the K shards, Shards[k].Shard == k.
	Shards   []Shard `json:"shards"`
	Rows     int     `json:"rows"`
	Churners int     `json:"churners"`
	// Fingerprint identifies the month's data: MonthFingerprint of the
	// shards' fingerprints.
	Fingerprint string `json:"fingerprint"`
	// RowBudget is the customers per shard K was chosen for.
	RowBudget int       `json:"row_budget"`
	CreatedAt time.Time `json:"created_at"`
	// Source says where the month was ingested from, Attempt by which
	// ingest attempt.
	Source  string `json:"source"`
	Attempt string `json:"attempt,omitempty"`
	// Legacy marks a month stored before sharding, for which Open made this
	// manifest up: one shard (LegacyKey), rows and fingerprint unknown (0
	// and "") until the shard is read.
	Legacy bool `json:"legacy,omitempty"`
	// DriftSummary is the key of the month's drift summary (SummaryKey),
	// written before the manifest; empty for a month stored without one
	// (readers then summarize it shard by shard).
	DriftSummary string `json:"drift_summary,omitempty"`
	// Sample is the month's stored training sample, kept when the month
	// has more customers than the sample's budget (see Sample).
	Sample *SampleFile `json:"sample,omitempty"`
}

// SampleFile is a month's stored sample: Sample(Budget) of the month, in
// one Parquet file (SampleFileKey).
type SampleFile struct {
	Key    string `json:"key"`
	Budget int    `json:"budget"`
	Rows   int    `json:"rows"`
}

// Shard is one shard of a stored month.
type Shard struct {
	Shard int `json:"shard"`
	// Key is the shard's Parquet file; empty for a shard with no users
	// (possible only in tiny months), which has no file.
	Key         string `json:"key,omitempty"`
	Rows        int    `json:"rows"`
	Churners    int    `json:"churners"`
	Fingerprint string `json:"fingerprint"`
	Bytes       int    `json:"bytes"`
}

// fingerprintVersion names MonthFingerprint's encoding.
const fingerprintVersion = "churnops/dataset/fingerprint/v1"

// MonthFingerprint combines the fingerprints of a month's shards, in shard
// order, into the month's. A month of one shard has that shard's
// fingerprint — snapshot.Month.Fingerprint of the whole month, as before
// sharding — so the lab's months keep the fingerprints their models
// recorded. Otherwise it is the SHA-256 of the version, the as_of, K and
// each shard's fingerprint, each length-prefixed.
func MonthFingerprint(asOf string, shards []string) string {
	if len(shards) == 1 {
		return shards[0]
	}
	h := sha256.New()
	var buf []byte
	item := func(s string) {
		buf = binary.AppendUvarint(buf[:0], uint64(len(s)))
		buf = append(buf, s...)
		h.Write(buf)
	}
	item(fingerprintVersion)
	item(asOf)
	item(fmt.Sprint(len(shards)))
	for _, s := range shards {
		item(s)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Check reports whether the manifest is consistent: the schema, one shard
// per index, totals and fingerprint that match the shards. Open calls it
// so that a hand-edited or truncated manifest is refused rather than read.
func (m *Manifest) Check() error {
	if m.Schema != ManifestSchema {
		return fmt.Errorf("manifest schema %q, want %q", m.Schema, ManifestSchema)
	}
	if _, err := snapshot.ParseAsOf(m.AsOf); err != nil {
		return fmt.Errorf("manifest: %w", err)
	}
	if m.K < 1 || len(m.Shards) != m.K {
		return fmt.Errorf("manifest of %s: k=%d with %d shards", m.AsOf, m.K, len(m.Shards))
	}
	rows, churners := 0, 0
	fps := make([]string, m.K)
	for k, s := range m.Shards {
		if s.Shard != k {
			return fmt.Errorf("manifest of %s: shard %d listed at %d", m.AsOf, s.Shard, k)
		}
		if (s.Key == "") != (s.Rows == 0) {
			return fmt.Errorf("manifest of %s: shard %d has %d rows and key %q", m.AsOf, k, s.Rows, s.Key)
		}
		rows += s.Rows
		churners += s.Churners
		fps[k] = s.Fingerprint
	}
	if rows != m.Rows || churners != m.Churners {
		return fmt.Errorf("manifest of %s: totals %d rows, %d churners; shards sum to %d, %d", m.AsOf, m.Rows, m.Churners, rows, churners)
	}
	if fp := MonthFingerprint(m.AsOf, fps); fp != m.Fingerprint {
		return fmt.Errorf("manifest of %s: fingerprint %s, shards give %s", m.AsOf, m.Fingerprint, fp)
	}
	if m.DriftSummary != "" && !strings.HasPrefix(m.DriftSummary, Dir(m.AsOf)) {
		return fmt.Errorf("manifest of %s: drift summary %q outside %s", m.AsOf, m.DriftSummary, Dir(m.AsOf))
	}
	if sf := m.Sample; sf != nil {
		// Only a month larger than the budget keeps a sample, of exactly
		// the budget's customers.
		if !strings.HasPrefix(sf.Key, Dir(m.AsOf)) || sf.Budget < 1 || sf.Rows != sf.Budget || m.Rows <= sf.Budget {
			return fmt.Errorf("manifest of %s: sample %+v of a month of %d rows", m.AsOf, *sf, m.Rows)
		}
	}
	return nil
}

// Reader is the part of blob.Store the readers need.
type Reader interface {
	Get(ctx context.Context, key string) ([]byte, error)
	List(ctx context.Context, prefix string) ([]string, error)
}

// List returns the as_of dates of the visible months, oldest first: those
// with a manifest, and those stored before sharding.
func List(ctx context.Context, store Reader) ([]string, error) {
	keys, err := store.List(ctx, Prefix+"as_of=")
	if err != nil {
		return nil, fmt.Errorf("dataset: list: %w", err)
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		asOf, file, ok := strings.Cut(strings.TrimPrefix(k, Prefix+"as_of="), "/")
		if ok && (file == ManifestFile || file == LegacyFile) && !seen[asOf] {
			seen[asOf] = true
			out = append(out, asOf)
		}
	}
	sort.Strings(out) // YYYY-MM-DD sorts chronologically
	return out, nil
}

// Open returns the manifest of the month stored for asOf, made up for a
// month stored before sharding (Manifest.Legacy). A month that is not
// visible is an error wrapping ErrNotFound.
func Open(ctx context.Context, store Reader, asOf string) (*Manifest, error) {
	if _, err := snapshot.ParseAsOf(asOf); err != nil {
		return nil, fmt.Errorf("dataset: open: %w", err)
	}
	data, err := store.Get(ctx, ManifestKey(asOf))
	if errors.Is(err, blob.ErrNotFound) {
		return openLegacy(ctx, store, asOf)
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", asOf, err)
	}
	m, err := DecodeManifest(data)
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", asOf, err)
	}
	if m.AsOf != asOf {
		return nil, fmt.Errorf("dataset: open %s: manifest is for %s", asOf, m.AsOf)
	}
	return m, nil
}

// openLegacy makes up the manifest of a month stored before sharding.
func openLegacy(ctx context.Context, store Reader, asOf string) (*Manifest, error) {
	keys, err := store.List(ctx, LegacyKey(asOf))
	if err != nil {
		return nil, fmt.Errorf("dataset: open %s: %w", asOf, err)
	}
	if len(keys) == 0 || keys[0] != LegacyKey(asOf) {
		return nil, fmt.Errorf("dataset: as_of %s: %w", asOf, ErrNotFound)
	}
	return &Manifest{
		Schema: ManifestSchema, AsOf: asOf, K: 1, Legacy: true,
		Shards: []Shard{{Shard: 0, Key: LegacyKey(asOf)}},
	}, nil
}

// EncodeManifest returns the manifest's JSON after checking it.
func EncodeManifest(m *Manifest) ([]byte, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// DecodeManifest parses and checks a manifest.
func DecodeManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("decode manifest: %w", err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}
