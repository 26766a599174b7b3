package dataset

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

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
// It reads the month shard by shard and holds at most budget customers.
func Sample(ctx context.Context, store Reader, m *Manifest, budget int) (*snapshot.Month, error) {
	if budget <= 0 {
		budget = DefaultSampleRows
	}
	asOf, err := snapshot.ParseAsOf(m.AsOf)
	if err != nil {
		return nil, fmt.Errorf("dataset: sample: %w", err)
	}
	s := sampler{budget: budget}
	if !m.Legacy {
		s.cust = make([]snapshot.Customer, 0, min(budget, m.Rows))
		s.slots = make([]slot, 0, min(budget, m.Rows))
	}
	err = Each(ctx, store, m, func(k int, shard *snapshot.Month) error {
		for i := range shard.Customers {
			s.offer(&shard.Customers[i], int32(k), int32(i))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: sample %s: %w", m.AsOf, err)
	}
	return &snapshot.Month{AsOf: asOf, Customers: s.customers()}, nil
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
