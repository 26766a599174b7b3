package dataset

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/churnops/churnops/internal/snapshot"
)

// DefaultSampleRows is the row budget training and evaluation read when
// none is given: a month of up to a million customers is read whole.
const DefaultSampleRows = 1_000_000

// sampleDomain separates SampleKey's hash from every other use of SHA-256
// on a user_id (snapshot.IsValidation hashes the bare user_id).
const sampleDomain = "churnops/sample/v1\x00"

// SampleKey is a user's rank in every month's sample: the first 8 bytes
// (big-endian) of SHA-256 of "churnops/sample/v1", a zero byte and the
// user_id. A pure function of the user_id, so the same users are sampled
// month after month; hashing a domain-separated input makes it independent
// of the validation split (the first byte of SHA-256 of the bare user_id)
// and of the shard (FNV-1a), so a sample keeps the validation share and
// draws evenly from every shard.
func SampleKey(userID string) uint64 {
	h := sha256.New()
	h.Write([]byte(sampleDomain))
	h.Write([]byte(userID))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}

// Sample returns at most budget customers of the month (0 means
// DefaultSampleRows): those with the smallest SampleKeys, so the same users
// month after month, in the month's stored order (shard by shard, each in
// users.csv order). A month of at most budget customers comes back whole,
// and a month of one shard in exactly users.csv order, as Load gives it.
//
// When the ingest stored the month's sample (Manifest.Sample) for a budget
// at least this one, Sample reads that file only: the smallest budget keys
// of the stored sample are the smallest of the month, in the same order.
// Otherwise it reads the month shard by shard. Either way it holds at most
// budget customers (besides the shard or sample file being read).
func Sample(ctx context.Context, store Reader, m *Manifest, budget int) (*snapshot.Month, error) {
	if budget <= 0 {
		budget = DefaultSampleRows
	}
	asOf, err := snapshot.ParseAsOf(m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("dataset: sample: %w", err)
	}
	if sf := m.Sample; sf != nil && budget <= sf.Budget {
		stored, err := readSampleFile(ctx, store, m)
		if err != nil {
			return nil, err
		}
		if budget >= len(stored.Customers) {
			return stored, nil
		}
		return SampleFrom(asOf, budget, budget, func(fn func(k int, shard *snapshot.Month) error) error { return fn(0, stored) })
	}
	hint := budget
	if m.Legacy {
		hint = 0
	} else {
		hint = min(budget, m.Rows)
	}
	s, err := SampleFrom(asOf, budget, hint, func(fn func(k int, shard *snapshot.Month) error) error { return Each(ctx, store, m, fn) })
	if err != nil {
		return nil, fmt.Errorf("dataset: sample %s: %w", m.AsOf, err)
	}
	return s, nil
}

// SampleFrom is Sample over shards given by each, which calls its argument
// with every shard in order: the budget customers of smallest SampleKey
// (ties broken by user_id), in the order each offers them (shard, then row).
// sizeHint is the customers expected, to size the buffers (0: unknown).
// The ingest's commit builds a month's stored sample with it from the
// shards' candidates (each shard's customers below SampleBound), which
// gives the same customers in the same order as Sample over the month.
func SampleFrom(asOf time.Time, budget, sizeHint int, each func(fn func(k int, shard *snapshot.Month) error) error) (*snapshot.Month, error) {
	if budget <= 0 {
		budget = DefaultSampleRows
	}
	s := sampler{budget: budget}
	if n := min(budget, sizeHint); n > 0 {
		s.cust = make([]snapshot.Customer, 0, n)
		s.slots = make([]slot, 0, n)
	}
	err := each(func(k int, shard *snapshot.Month) error {
		for i := range shard.Customers {
			s.offer(&shard.Customers[i], int32(k), int32(i))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &snapshot.Month{AsOf: asOf, Customers: s.customers()}, nil
}

// SampleBound is the SampleKey below which a shard's customers are
// candidates for the sample of budget customers of a month of about rows
// customers: keys are uniform, so the month has about rows*p keys below
// p*2^64; the bound asks for 1% more plus eight standard deviations of a
// binomial count, so that fewer than budget candidates in all (after which
// the sample cannot be taken from the candidates: Sample reads the month)
// takes an estimate of rows off by more than 1%. rows <= budget gives the
// largest key: every customer is a candidate.
func SampleBound(rows, budget int) uint64 {
	if rows <= budget || budget <= 0 {
		return math.MaxUint64
	}
	f := float64(budget) / float64(rows)
	p := f*1.01 + 8*math.Sqrt(f*(1-f)/float64(rows))
	if p >= 1 {
		return math.MaxUint64
	}
	return uint64(p * (1 << 64))
}

// Candidates returns the customers of a shard whose SampleKey is below
// bound, in the shard's order: what a shard contributes to its month's
// stored sample (see SampleBound).
func Candidates(shard *snapshot.Month, bound uint64) *snapshot.Month {
	out := &snapshot.Month{AsOf: shard.AsOf}
	for i := range shard.Customers {
		if SampleKey(shard.Customers[i].UserID) < bound {
			out.Customers = append(out.Customers, shard.Customers[i])
		}
	}
	return out
}

// readSampleFile reads the month's stored sample.
func readSampleFile(ctx context.Context, store Reader, m *Manifest) (*snapshot.Month, error) {
	data, err := store.Get(ctx, m.Sample.Key)
	if err != nil {
		return nil, fmt.Errorf("dataset: read the sample of %s: %w", m.AsOf, err)
	}
	s, err := snapshot.UnmarshalParquet(data)
	if err != nil {
		return nil, fmt.Errorf("dataset: read %s: %w", m.Sample.Key, err)
	}
	if got := s.AsOf.Format(snapshot.DateLayout); got != m.AsOf {
		return nil, fmt.Errorf("dataset: %s holds as_of %s, want %s", m.Sample.Key, got, m.AsOf)
	}
	if len(s.Customers) != m.Sample.Rows {
		return nil, fmt.Errorf("dataset: %s holds %d rows, manifest says %d", m.Sample.Key, len(s.Customers), m.Sample.Rows)
	}
	return s, nil
}

// slot is a kept customer: its key, where it is stored in the month, and
// where it is held in sampler.cust.
type slot struct {
	key        uint64
	shard, row int32
	at         int32
}

// sampler keeps the budget customers with the smallest keys seen so far.
// Until the budget is reached it keeps everything in arrival order; then
// slots becomes a max-heap on (key, user_id) whose top is replaced by any
// customer with a smaller key. Customers stay put in cust (a heap of them
// would move 200-byte values); the heap moves slots.
type sampler struct {
	budget int
	cust   []snapshot.Customer
	slots  []slot
	heap   bool
}

func (s *sampler) less(a, b slot) bool {
	return a.key < b.key || a.key == b.key && s.cust[a.at].UserID < s.cust[b.at].UserID
}

func (s *sampler) offer(c *snapshot.Customer, shard, row int32) {
	key := SampleKey(c.UserID)
	if len(s.cust) < s.budget {
		s.slots = append(s.slots, slot{key: key, shard: shard, row: row, at: int32(len(s.cust))})
		s.cust = append(s.cust, *c)
		return
	}
	if !s.heap {
		for i := len(s.slots)/2 - 1; i >= 0; i-- {
			s.down(i)
		}
		s.heap = true
	}
	top := &s.slots[0]
	if key > top.key || key == top.key && c.UserID >= s.cust[top.at].UserID {
		return
	}
	top.key, top.shard, top.row = key, shard, row
	s.cust[top.at] = *c
	s.down(0)
}

// down restores the max-heap below i.
func (s *sampler) down(i int) {
	h := s.slots
	for {
		l := 2*i + 1
		if l >= len(h) {
			return
		}
		j := l
		if r := l + 1; r < len(h) && s.less(h[l], h[r]) {
			j = r
		}
		if !s.less(h[i], h[j]) {
			return
		}
		h[i], h[j] = h[j], h[i]
		i = j
	}
}

// customers returns the kept customers in stored order, reordering cust
// in place.
func (s *sampler) customers() []snapshot.Customer {
	if !s.heap {
		return s.cust // arrival order is stored order
	}
	slices.SortFunc(s.slots, func(a, b slot) int {
		return cmp.Or(cmp.Compare(a.shard, b.shard), cmp.Compare(a.row, b.row))
	})
	// Position i must receive cust[slots[i].at]: follow each cycle of that
	// permutation once, holding one customer aside.
	for i := range s.slots {
		if s.slots[i].at < 0 {
			continue
		}
		held := s.cust[i]
		j := i
		for {
			from := int(s.slots[j].at)
			s.slots[j].at = -1
			if from == i {
				s.cust[j] = held
				break
			}
			s.cust[j] = s.cust[from]
			j = from
		}
	}
	return s.cust
}
