package localstore

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
	"os"
	"slices"
	"sort"
	"sync"

	"github.com/churnops/churnops/internal/featurestore"
)

// A features file holds one shard of one online-feature version: its
// records sorted by user_id, so that a reader finds a user by binary search
// in a small in-memory index and one read of a block. It is written once,
// to a temporary file that is fsynced and renamed into place, and never
// modified; a CRC-32C over the whole file, checked when a reader opens it,
// detects damage.
//
//	header   "CHOFEAT1"                      magic and format version
//	         u32 LE                          length of the rest of the header
//	         uvarint-prefixed as_of          the version
//	         uvarint shard, shards, records, block size
//	         uvarint n, n uvarint-prefixed   the feature names (sorted), the spec
//	blocks   per record: uvarint-prefixed user_id, then per spec feature a
//	         tag: 0 absent, 1 null, 2 false, 3 true,
//	              4 float64 (8 bytes LE), 5 string (uvarint-prefixed)
//	index    uvarint n blocks, per block: uvarint-prefixed first user_id,
//	         uvarint offset of the block in the file
//	footer   u64 LE offset of the index, u32 LE CRC-32C of every byte
//	         before it (the index offset included), "END1"
//
// A block is up to blockRecords records: a lookup reads one block (a few
// KB), and the index keeps one user_id per block in memory.
const (
	fileMagic    = "CHOFEAT1"
	footerMagic  = "END1"
	footerSize   = 8 + 4 + 4
	blockRecords = 32
	// maxHeader bounds the header a reader accepts before allocating it.
	maxHeader = 1 << 20
)

// Value tags.
const (
	tagAbsent byte = iota
	tagNull
	tagFalse
	tagTrue
	tagFloat
	tagString
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// fileHeader is what a features file says about itself.
type fileHeader struct {
	asOf                   string
	shard, shards, records int
	blockSize              int
	spec                   []string
}

// errDamaged marks a features file (or CURRENT) that does not read back as
// written; errors.Is finds it in a *damage.
var errDamaged = errors.New("damaged")

// damage is errDamaged with what is wrong.
type damage struct{ detail string }

func (d *damage) Error() string        { return "damaged: " + d.detail }
func (d *damage) Is(target error) bool { return target == errDamaged }

// damageDetail returns what is wrong with a damaged file.
func damageDetail(err error) string {
	if d, ok := errors.AsType[*damage](err); ok {
		return d.detail
	}
	return err.Error()
}

// countingWriter tracks the offset and the CRC of what goes through it.
type countingWriter struct {
	w   *bufio.Writer
	crc hash.Hash32
	n   int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.crc.Write(p[:n])
	c.n += int64(n)
	return n, err
}

// writeFeatureFile writes recs (unique user IDs) as a features file to f.
func writeFeatureFile(f io.Writer, h fileHeader, recs []featurestore.Record) error {
	order := make([]int, len(recs))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(recs[a].UserID, recs[b].UserID) })
	names := map[string]bool{}
	for i := range recs {
		for n := range recs[i].Features {
			names[n] = true
		}
	}
	h.spec = h.spec[:0]
	for n := range names {
		h.spec = append(h.spec, n)
	}
	slices.Sort(h.spec)
	h.records, h.blockSize = len(recs), blockRecords

	w := &countingWriter{w: bufio.NewWriterSize(f, 256<<10), crc: crc32.New(castagnoli)}
	var hdr []byte
	hdr = appendString(hdr, h.asOf)
	for _, v := range []int{h.shard, h.shards, h.records, h.blockSize, len(h.spec)} {
		hdr = binary.AppendUvarint(hdr, uint64(v))
	}
	for _, n := range h.spec {
		hdr = appendString(hdr, n)
	}
	buf := binary.LittleEndian.AppendUint32([]byte(fileMagic), uint32(len(hdr)))
	buf = append(buf, hdr...)
	if _, err := w.Write(buf); err != nil {
		return err
	}

	var index []byte
	blocks := 0
	for i, j := range order {
		r := &recs[j]
		if i%blockRecords == 0 {
			index = appendString(index, r.UserID)
			index = binary.AppendUvarint(index, uint64(w.n))
			blocks++
		}
		buf = appendString(buf[:0], r.UserID)
		for _, n := range h.spec {
			v, ok := r.Features[n]
			if !ok {
				buf = append(buf, tagAbsent)
				continue
			}
			switch x := v.(type) {
			case nil:
				buf = append(buf, tagNull)
			case bool:
				if x {
					buf = append(buf, tagTrue)
				} else {
					buf = append(buf, tagFalse)
				}
			case float64:
				buf = append(buf, tagFloat)
				buf = binary.LittleEndian.AppendUint64(buf, math.Float64bits(x))
			case string:
				buf = append(buf, tagString)
				buf = appendString(buf, x)
			default: // featurestore.CheckWrite refused it already
				return fmt.Errorf("user %s: feature %s: unsupported value %T", r.UserID, n, v)
			}
		}
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	indexOff := w.n
	buf = binary.AppendUvarint(buf[:0], uint64(blocks))
	buf = append(buf, index...)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(indexOff))
	if _, err := w.Write(buf); err != nil {
		return err
	}
	buf = binary.LittleEndian.AppendUint32(buf[:0], w.crc.Sum32())
	buf = append(buf, footerMagic...)
	if _, err := w.w.Write(buf); err != nil {
		return err
	}
	return w.w.Flush()
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// featureFile is an open, verified features file.
type featureFile struct {
	path   string
	f      *os.File
	h      fileHeader
	keys   []string // first user_id of each block
	starts []int64  // offset of each block; starts[len] = the index offset
}

// openFeatureFile opens path, checks its CRC over the whole file and loads
// its header and index. Errors that mean damage wrap errDamaged.
func openFeatureFile(path string) (*featureFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	ff, err := readFeatureFile(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return ff, nil
}

func damaged(format string, args ...any) error {
	return &damage{detail: fmt.Sprintf(format, args...)}
}

func readFeatureFile(path string, f *os.File) (*featureFile, error) {
	info, err := f.Stat()
	if err != nil {
		return nil, err
	}
	size := info.Size()
	if size == 0 {
		return nil, damaged("the file is empty")
	}
	if size < 12+footerSize {
		return nil, damaged("%d bytes is too short for a features file", size)
	}
	// One pass over the file: the CRC of everything before the footer's
	// checksum, the header at the start, the index and footer at the end.
	crc := crc32.New(castagnoli)
	body := size - 8 // everything but the checksum and the end magic
	head := make([]byte, 12)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, err
	}
	if string(head[:8]) != fileMagic {
		return nil, damaged("not a features file (magic %q)", head[:8])
	}
	hlen := int64(binary.LittleEndian.Uint32(head[8:]))
	if hlen > maxHeader || 12+hlen > size-footerSize {
		return nil, damaged("header length %d does not fit the file", hlen)
	}
	crc.Write(head)
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return nil, err
	}
	crc.Write(hdr)
	if _, err := io.CopyN(crc, bufio.NewReaderSize(f, 256<<10), body-12-hlen); err != nil {
		return nil, err
	}
	var tail [footerSize]byte
	if _, err := f.ReadAt(tail[:], size-footerSize); err != nil {
		return nil, err
	}
	if string(tail[12:]) != footerMagic {
		return nil, damaged("no end marker: the file was cut short")
	}
	if got, want := crc.Sum32(), binary.LittleEndian.Uint32(tail[8:12]); got != want {
		return nil, damaged("checksum mismatch: computed %08x, the file says %08x", got, want)
	}

	ff := &featureFile{path: path, f: f}
	d := decoder{b: hdr}
	ff.h.asOf = d.string()
	ff.h.shard, ff.h.shards, ff.h.records, ff.h.blockSize = d.int(), d.int(), d.int(), d.int()
	n := d.int()
	for i := 0; i < n && d.err == nil; i++ {
		ff.h.spec = append(ff.h.spec, d.string())
	}
	if d.err != nil || len(d.b) != 0 || ff.h.blockSize < 1 {
		return nil, damaged("malformed header")
	}
	indexOff := int64(binary.LittleEndian.Uint64(tail[:8]))
	if indexOff < 12+hlen || indexOff > size-footerSize {
		return nil, damaged("index offset %d out of range", indexOff)
	}
	index := make([]byte, size-footerSize-indexOff)
	if _, err := f.ReadAt(index, indexOff); err != nil {
		return nil, err
	}
	d = decoder{b: index}
	blocks := d.int()
	if blocks != (ff.h.records+ff.h.blockSize-1)/ff.h.blockSize {
		return nil, damaged("%d blocks for %d records", blocks, ff.h.records)
	}
	ff.keys = make([]string, 0, blocks)
	ff.starts = make([]int64, 0, blocks+1)
	for i := 0; i < blocks && d.err == nil; i++ {
		ff.keys = append(ff.keys, d.string())
		ff.starts = append(ff.starts, int64(d.int()))
	}
	ff.starts = append(ff.starts, indexOff)
	if d.err != nil || len(d.b) != 0 {
		return nil, damaged("malformed index")
	}
	for i := 1; i < len(ff.starts); i++ {
		if ff.starts[i] <= ff.starts[i-1] || (i < len(ff.keys) && ff.keys[i] <= ff.keys[i-1]) {
			return nil, damaged("index out of order")
		}
	}
	return ff, nil
}

func (ff *featureFile) close() error { return ff.f.Close() }

// get looks userID up: ok false when the file has no record for it.
func (ff *featureFile) get(userID string) (rec featurestore.Record, ok bool, err error) {
	// The last block whose first key is <= userID.
	b := sort.Search(len(ff.keys), func(i int) bool { return ff.keys[i] > userID }) - 1
	if b < 0 {
		return rec, false, nil
	}
	n := int(ff.starts[b+1] - ff.starts[b])
	bp := blockPool.Get().(*[]byte)
	defer blockPool.Put(bp)
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	block := (*bp)[:n]
	if _, err := ff.f.ReadAt(block, ff.starts[b]); err != nil {
		return rec, false, err
	}
	d := decoder{b: block}
	for len(d.b) > 0 {
		id := d.bytes()
		if d.err != nil {
			return rec, false, damaged("block at %d", ff.starts[b])
		}
		switch c := bytes.Compare(id, []byte(userID)); {
		case c > 0:
			return rec, false, nil // sorted: it is not there
		case c < 0:
			if !d.skipValues(len(ff.h.spec)) {
				return rec, false, damaged("block at %d", ff.starts[b])
			}
			continue
		}
		rec = featurestore.Record{UserID: userID, AsOf: ff.h.asOf, Features: make(map[string]any, len(ff.h.spec))}
		for _, name := range ff.h.spec {
			v, present := d.value()
			if d.err != nil {
				return featurestore.Record{}, false, damaged("record of %s", userID)
			}
			if present {
				rec.Features[name] = v
			}
		}
		return rec, true, nil
	}
	return rec, false, nil
}

// blockPool holds block buffers: a lookup reads a few KB into one.
var blockPool = sync.Pool{New: func() any { b := make([]byte, 0, 8<<10); return &b }}

// decoder reads the file's varint encoding; the first problem sticks in err.
type decoder struct {
	b   []byte
	err error
}

var errShort = errors.New("truncated")

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.err = errShort
		return 0
	}
	return int(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errShort
		return nil
	}
	s := d.b[:n]
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string { return string(d.bytes()) }

// value decodes one tagged value; present is false for an absent feature.
func (d *decoder) value() (v any, present bool) {
	if d.err != nil || len(d.b) == 0 {
		d.err = errShort
		return nil, false
	}
	tag := d.b[0]
	d.b = d.b[1:]
	switch tag {
	case tagAbsent:
		return nil, false
	case tagNull:
		return nil, true
	case tagFalse:
		return false, true
	case tagTrue:
		return true, true
	case tagFloat:
		if len(d.b) < 8 {
			d.err = errShort
			return nil, false
		}
		f := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
		d.b = d.b[8:]
		return f, true
	case tagString:
		return d.string(), true
	}
	d.err = fmt.Errorf("unknown tag %d", tag)
	return nil, false
}

// skipValues skips n tagged values without decoding them.
func (d *decoder) skipValues(n int) bool {
	for range n {
		if len(d.b) == 0 {
			return false
		}
		tag := d.b[0]
		d.b = d.b[1:]
		switch tag {
		case tagAbsent, tagNull, tagFalse, tagTrue:
		case tagFloat:
			if len(d.b) < 8 {
				return false
			}
			d.b = d.b[8:]
		case tagString:
			if d.bytes(); d.err != nil {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// readRecordCount reads only the header of a features file: how many
// records it holds.
func readRecordCount(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	head := make([]byte, 12)
	if _, err := io.ReadFull(f, head); err != nil {
		return 0, err
	}
	hlen := binary.LittleEndian.Uint32(head[8:])
	if string(head[:8]) != fileMagic || hlen > maxHeader {
		return 0, damaged("not a features file")
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(f, hdr); err != nil {
		return 0, err
	}
	d := decoder{b: hdr}
	d.string()
	d.int()
	d.int()
	n := d.int()
	if d.err != nil {
		return 0, damaged("malformed header")
	}
	return n, nil
}
