package execlog

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/blob"
)

// Prefix is where records are stored.
const Prefix = "reports/executions/"

// pausedSuffix marks the record of an execution waiting for approval.
const pausedSuffix = ".paused.json"

// startLayout spells the start time in keys: sortable, no ':' (a file
// name on every system).
const startLayout = "20060102T150405.000Z"

// maxNameLen bounds the execution name in a key (Step Functions allows 80
// characters).
const maxNameLen = 80

// Key is where r is stored.
func Key(r *Record) string {
	suffix := ".json"
	if r.Status == string(asl.StatusPaused) {
		suffix = pausedSuffix
	}
	return Prefix + r.Start.UTC().Format(startLayout) + "_" + keyName(r.Name) + suffix
}

// keyName keeps letters, digits, '-' and '_' of an execution name (Step
// Functions' own alphabet) and replaces anything else with '_', so any
// local name makes a valid key.
func keyName(name string) string {
	var b strings.Builder
	for _, c := range name {
		if b.Len() >= maxNameLen {
			break
		}
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "_"
	}
	return b.String()
}

// Encode is the stored form of r: indented JSON, so that a person can read
// it in the bucket.
func Encode(r *Record) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode execution record %s: %w", r.Name, err)
	}
	return append(b, '\n'), nil
}

// Write stores r under Key(r) and returns the key. Writing the same record
// again is a no-op (a retried final step), so is writing a second pause of
// an execution whose first pause is stored (its end supersedes both); any
// other record already under the key is an error wrapping blob.ErrExists.
func Write(ctx context.Context, s blob.Store, r *Record) (string, error) {
	data, err := Encode(r)
	if err != nil {
		return "", err
	}
	key := Key(r)
	err = s.Put(ctx, key, data)
	if !errors.Is(err, blob.ErrExists) {
		if err != nil {
			return "", fmt.Errorf("store execution record: %w", err)
		}
		return key, nil
	}
	if r.Status == string(asl.StatusPaused) {
		return key, nil
	}
	old, gerr := s.Get(ctx, key)
	if gerr != nil {
		return "", fmt.Errorf("store execution record: %w", errors.Join(err, gerr))
	}
	if !bytes.Equal(old, data) {
		return "", fmt.Errorf("store execution record: %s holds another record: %w", key, err)
	}
	return key, nil
}

// Read loads and decodes the record under key.
func Read(ctx context.Context, s blob.Store, key string) (Record, error) {
	data, err := s.Get(ctx, key)
	if err != nil {
		return Record{}, fmt.Errorf("read execution record: %w", err)
	}
	return Decode(key, data)
}

// Decode decodes a stored record; key names it in errors.
func Decode(key string, data []byte) (Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return Record{}, fmt.Errorf("execution record %s: %w", key, err)
	}
	switch {
	case r.Schema > SchemaVersion:
		return Record{}, fmt.Errorf("execution record %s: schema %d is newer than this churnops reads (%d): upgrade churnops", key, r.Schema, SchemaVersion)
	case r.Schema < 1, r.Name == "", r.Start.IsZero():
		return Record{}, fmt.Errorf("execution record %s: not an execution record (schema, name or start missing)", key)
	}
	return r, nil
}

// Keys lists the stored records, one key per execution: when an execution
// has both a paused and an ended record, only the ended one. They sort by
// start.
func Keys(ctx context.Context, s blob.Store) ([]string, error) {
	all, err := s.List(ctx, Prefix)
	if err != nil {
		return nil, fmt.Errorf("list execution records: %w", err)
	}
	ended := map[string]bool{}
	for _, k := range all {
		if strings.HasSuffix(k, ".json") && !strings.HasSuffix(k, pausedSuffix) {
			ended[strings.TrimSuffix(k, ".json")] = true
		}
	}
	keys := make([]string, 0, len(all))
	for _, k := range all {
		switch {
		case strings.HasSuffix(k, pausedSuffix):
			if !ended[strings.TrimSuffix(k, pausedSuffix)] {
				keys = append(keys, k)
			}
		case strings.HasSuffix(k, ".json") && !strings.Contains(k[len(Prefix):], "/"):
			keys = append(keys, k)
		}
	}
	return keys, nil
}

// List reads every record Keys lists, oldest start first. A record that
// cannot be read or decoded is left out and reported in skipped, so one
// damaged document does not hide the others; err is set only when the
// records cannot be listed at all.
func List(ctx context.Context, s blob.Store) (records []Record, skipped []error, err error) {
	keys, err := Keys(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range keys {
		r, err := Read(ctx, s, k)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, ctx.Err()
			}
			skipped = append(skipped, err)
			continue
		}
		records = append(records, r)
	}
	SortByStart(records)
	return records, skipped, nil
}

// SortByStart orders records by start time, then name.
func SortByStart(rs []Record) {
	slices.SortStableFunc(rs, func(a, b Record) int {
		return cmp.Or(a.Start.Compare(b.Start), strings.Compare(a.Name, b.Name))
	})
}
