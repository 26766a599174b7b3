package ingest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"
)

// Staged rows. A partition task writes, per shard, the rows of its part
// that belong to the shard as chunks of records; the shard's build replays
// them into a snapshot.Joiner exactly as if it were reading the file, with
// the file's line numbers. Values stay the file's text: parsing and
// validation happen once, in the build, with Load's code.
//
// A chunk is a version byte, then records:
//
//	uvarint line, uvarint n, then n × (uvarint len, bytes)    a row, in the table's column order
//	uvarint line, 0, uvarint got, uvarint want, byte hasID,   a row with the wrong field count
//	  uvarint len, bytes of its user_id field (if any)
//
// Binary, not CSV: no quoting to redo or undo, and a record decodes with
// one allocation.
const chunkVersion = 1

var errCorruptChunk = errors.New("corrupt staged chunk")

func appendRow(dst []byte, line int, rec []string) []byte {
	dst = binary.AppendUvarint(dst, uint64(line))
	dst = binary.AppendUvarint(dst, uint64(len(rec)))
	for _, f := range rec {
		dst = binary.AppendUvarint(dst, uint64(len(f)))
		dst = append(dst, f...)
	}
	return dst
}

func appendFieldCount(dst []byte, line, got, want int, id string, hasID bool) []byte {
	dst = binary.AppendUvarint(dst, uint64(line))
	dst = binary.AppendUvarint(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(got))
	dst = binary.AppendUvarint(dst, uint64(want))
	if hasID {
		dst = append(dst, 1)
	} else {
		dst = append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(len(id)))
	return append(dst, id...)
}

// replaySink is what a chunk's records are replayed into (a Joiner).
type replaySink interface {
	Row(line int, rec []string)
	FieldCount(line, got, want int, id string, hasID bool)
}

// replay decodes a chunk into sink. Fields are handed over as strings
// that share the chunk's memory, without a copy per record: the chunk is
// never written again, and the Joiner copies what a month keeps (user_ids,
// unusual categories), so the month does not pin it. rec is reused between
// rows.
func replay(chunk []byte, sink replaySink, rec []string) ([]string, error) {
	if len(chunk) == 0 || chunk[0] != chunkVersion {
		return rec, fmt.Errorf("%w: version", errCorruptChunk)
	}
	b := chunk[1:]
	uv := func() (int, bool) {
		v, n := binary.Uvarint(b)
		if n <= 0 || v > 1<<40 {
			return 0, false
		}
		b = b[n:]
		return int(v), true
	}
	for len(b) > 0 {
		line, ok1 := uv()
		n, ok2 := uv()
		if !ok1 || !ok2 {
			return rec, fmt.Errorf("%w: record header", errCorruptChunk)
		}
		if n == 0 {
			got, ok1 := uv()
			want, ok2 := uv()
			if !ok1 || !ok2 || len(b) < 1 {
				return rec, fmt.Errorf("%w: field count record", errCorruptChunk)
			}
			hasID := b[0] == 1
			b = b[1:]
			l, ok := uv()
			if !ok || l > len(b) {
				return rec, fmt.Errorf("%w: field count record", errCorruptChunk)
			}
			sink.FieldCount(line, got, want, string(b[:l]), hasID)
			b = b[l:]
			continue
		}
		rec = rec[:0]
		for range n {
			v, k := binary.Uvarint(b)
			if k <= 0 || v > uint64(len(b)-k) {
				return rec, fmt.Errorf("%w: field", errCorruptChunk)
			}
			rec = append(rec, unsafe.String(unsafe.SliceData(b[k:]), int(v)))
			b = b[k+int(v):]
		}
		sink.Row(line, rec)
	}
	return rec, nil
}
