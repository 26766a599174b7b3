package drift

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"

	"github.com/churnops/churnops/internal/snapshot"
)

// A Summary is stored per shard (S3 or disk) and merged when a month's
// ingest commits, so it has a compact binary form. Layout (integers are
// unsigned varints unless said otherwise):
//
//	"CDSM" version(1 byte = 1)
//	maxDistinct  columns
//	per column: len(name) name  kind(1 byte: 0 num, 1 cat)  rows missing infinite
//	  numerical:   bits(1 byte) shift(1 byte) k  key_0 (key_i - key_i-1)…  count…
//	  categorical: k  (len(value) value count)…
//	crc32c of all the above (4 bytes, little endian)
//
// A numerical value is stored as its IEEE bits made order-preserving
// (sign bit flipped for positives, all bits flipped for negatives) and
// shifted right by the trailing zero bits every value shares, so that the
// sorted keys differ by small steps: a truncated column's values share
// at least 52-bits of them, an integer column's a few dozen. The encoding
// is a function of the summary alone, and the summary of the month is the
// same for any sharding: equal months give equal bytes.

var summaryMagic = [...]byte{'C', 'D', 'S', 'M', 1}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSummaryFormat reports bytes that are not a valid encoded Summary.
var ErrSummaryFormat = errors.New("drift: invalid summary encoding")

// MarshalBinary encodes the summary (encoding.BinaryMarshaler).
func (s *Summary) MarshalBinary() ([]byte, error) {
	b := append([]byte(nil), summaryMagic[:]...)
	b = binary.AppendUvarint(b, uint64(s.maxDistinct))
	b = binary.AppendUvarint(b, uint64(len(s.cols)))
	for i := range s.cols {
		c := &s.cols[i]
		b = appendString(b, c.name)
		b = append(b, byte(c.kind))
		b = binary.AppendUvarint(b, uint64(c.rows))
		b = binary.AppendUvarint(b, uint64(c.missing))
		b = binary.AppendUvarint(b, uint64(c.inf))
		if c.kind == snapshot.Categorical {
			b = binary.AppendUvarint(b, uint64(len(c.cat.keys)))
			for j, k := range c.cat.keys {
				b = appendString(b, k)
				b = binary.AppendUvarint(b, uint64(c.cat.counts[j]))
			}
			continue
		}
		shift := 64
		for _, v := range c.num.vals {
			shift = min(shift, bits.TrailingZeros64(math.Float64bits(v)))
		}
		shift = min(shift, 63)
		b = append(b, byte(c.bits), byte(shift))
		b = binary.AppendUvarint(b, uint64(len(c.num.vals)))
		var prev uint64
		for j, v := range c.num.vals {
			k := orderedBits(v) >> shift
			if j == 0 {
				b = binary.AppendUvarint(b, k)
			} else {
				b = binary.AppendUvarint(b, k-prev)
			}
			prev = k
		}
		for _, n := range c.num.counts {
			b = binary.AppendUvarint(b, uint64(n))
		}
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)), nil
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// orderedBits maps a float64 to a uint64 of the same order.
func orderedBits(v float64) uint64 {
	u := math.Float64bits(v)
	if u>>63 == 0 {
		return u | 1<<63
	}
	return ^u
}

// fromOrderedBits undoes orderedBits on a key shifted right by shift:
// the bits shifted out were zeros of the IEEE form (ones of a negative
// key).
func fromOrderedBits(k uint64, shift int) float64 {
	u := k << shift
	if u>>63 == 1 {
		return math.Float64frombits(u &^ (1 << 63))
	}
	return math.Float64frombits(^(u | (1<<shift - 1)))
}

// UnmarshalBinary decodes a summary written by MarshalBinary
// (encoding.BinaryUnmarshaler), checking every invariant the package
// relies on, so a decoded summary is as canonical as a computed one.
func (s *Summary) UnmarshalBinary(data []byte) error {
	t, err := decodeSummary(data)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrSummaryFormat, err)
	}
	*s = *t
	return nil
}

// UnmarshalSummary decodes a summary written by MarshalBinary.
func UnmarshalSummary(data []byte) (*Summary, error) {
	var s Summary
	if err := s.UnmarshalBinary(data); err != nil {
		return nil, err
	}
	return &s, nil
}

func decodeSummary(data []byte) (*Summary, error) {
	if len(data) < len(summaryMagic)+4 || string(data[:len(summaryMagic)-1]) != string(summaryMagic[:len(summaryMagic)-1]) {
		return nil, errors.New("not a drift summary")
	}
	if data[len(summaryMagic)-1] != summaryMagic[len(summaryMagic)-1] {
		return nil, fmt.Errorf("version %d, want %d", data[len(summaryMagic)-1], summaryMagic[len(summaryMagic)-1])
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, castagnoli) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, errors.New("checksum mismatch")
	}
	r := &reader{b: body[len(summaryMagic):]}
	s := &Summary{maxDistinct: r.int("max distinct")}
	ncols := r.int("columns")
	if r.err == nil && (s.maxDistinct < 1) != (ncols == 0) {
		r.fail("max distinct %d with %d columns", s.maxDistinct, ncols)
	}
	seen := map[string]bool{}
	for i := 0; i < ncols && r.err == nil; i++ {
		c := columnSummary{name: r.string("column name"), bits: exactBits}
		c.kind = snapshot.Kind(r.byte("kind"))
		c.rows, c.missing, c.inf = r.int("rows"), r.int("missing"), r.int("infinite")
		switch {
		case r.err != nil:
		case seen[c.name]:
			r.fail("column %q given twice", c.name)
		case c.kind == snapshot.Numerical:
			c.bits = int(r.byte("bits"))
			c.num = r.dist(c.bits, s.maxDistinct)
		case c.kind == snapshot.Categorical:
			c.cat = r.categories()
		default:
			r.fail("column %q: unknown kind %d", c.name, c.kind)
		}
		seen[c.name] = true
		if r.err != nil {
			return nil, fmt.Errorf("column %d: %w", i, r.err)
		}
		tested := c.num.n + c.cat.n
		if c.kind == snapshot.Categorical && c.inf != 0 || tested > c.rows || c.missing > c.rows-tested || c.inf != c.rows-tested-c.missing {
			return nil, fmt.Errorf("column %q: %d rows but %d values, %d missing, %d infinite", c.name, c.rows, tested, c.missing, c.inf)
		}
		if i > 0 && c.rows != s.cols[0].rows {
			return nil, fmt.Errorf("column %q has %d rows, column %q %d", c.name, c.rows, s.cols[0].name, s.cols[0].rows)
		}
		s.cols = append(s.cols, c)
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d bytes after the last column", len(r.b))
	}
	return s, r.err
}

// reader decodes varints and strings, keeping the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *reader) uvarint(what string) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("%s: bad varint", what)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// int reads a count that must fit an int well clear of overflow.
func (r *reader) int(what string) int {
	v := r.uvarint(what)
	if v > math.MaxInt32*uint64(1<<20) {
		r.fail("%s: %d is too large", what, v)
		return 0
	}
	return int(v)
}

func (r *reader) byte(what string) byte {
	if r.err == nil && len(r.b) == 0 {
		r.fail("%s: truncated", what)
	}
	if r.err != nil {
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) string(what string) string {
	n := r.int(what)
	if r.err == nil && n > len(r.b) {
		r.fail("%s: truncated", what)
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

// length reads a count of items each taking at least one more byte.
func (r *reader) length(what string) int {
	n := r.int(what)
	if n > len(r.b) {
		r.fail("%s: %d items in %d bytes", what, n, len(r.b))
		return 0
	}
	return n
}

// counts reads k positive counts and returns their total.
func (r *reader) counts(k int) ([]int, int) {
	if k == 0 {
		return nil, 0
	}
	out := make([]int, k)
	total := 0
	for i := range out {
		out[i] = r.int("count")
		if r.err == nil && out[i] == 0 {
			r.fail("count 0")
		}
		total += out[i]
	}
	return out, total
}

func (r *reader) dist(nbits, maxDistinct int) dist {
	shift := int(r.byte("shift"))
	k := r.length("distinct values")
	switch {
	case r.err != nil:
		return dist{}
	case nbits > exactBits || shift > 63:
		r.fail("bits %d, shift %d", nbits, shift)
	case nbits < exactBits && k > maxDistinct:
		r.fail("%d distinct values past the cap of %d", k, maxDistinct)
	}
	var d dist
	var key uint64
	for i := 0; i < k && r.err == nil; i++ {
		step := r.uvarint("value")
		next := key + step
		if i > 0 && step == 0 || next < key || shift > 0 && next>>(64-shift) != 0 {
			r.fail("values out of order")
		}
		key = next
		v := fromOrderedBits(key, shift)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0) || (v == 0 && math.Signbit(v)):
			r.fail("value %v", v)
		case truncate(v, nbits) != v:
			r.fail("value %v has more than %d bits", v, nbits)
		case i > 0 && !(v > d.vals[i-1]):
			r.fail("values out of order")
		}
		d.vals = append(d.vals, v)
	}
	if r.err == nil {
		d.counts, d.n = r.counts(k)
	}
	return d
}

func (r *reader) categories() catDist {
	k := r.length("categories")
	var d catDist
	for i := 0; i < k && r.err == nil; i++ {
		v := r.string("category")
		if r.err == nil && (v == "" || i > 0 && v <= d.keys[i-1]) {
			r.fail("categories out of order or empty")
		}
		d.keys = append(d.keys, v)
		d.counts = append(d.counts, 0)
		d.counts[i] = r.int("count")
		if r.err == nil && d.counts[i] == 0 {
			r.fail("count 0")
		}
		d.n += d.counts[i]
	}
	return d
}
