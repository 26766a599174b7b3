// Package blobtest is the contract suite for blob.Store: the embedded
// directory store and the S3 adapter both run it, so keys, write-once
// semantics and listing behave the same on a laptop and on AWS.
//
//	func TestStore(t *testing.T) {
//		blobtest.Run(t, func(t *testing.T) blob.Store { return newTestStore(t) })
//	}
//
// Every subtest writes under a key prefix unique to the run, so one bucket
// may serve all subtests and survive earlier runs.
package blobtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/blob"
)

// Racers is the number of goroutines racing to Put one key.
const Racers = 16

// Run runs the blob.Store contract against stores made by newStore, called
// once per subtest with that subtest's t.
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s blob.Store)
	}{
		{"Put and Get round-trip", testRoundTrip},
		{"List by prefix, sorted", testList},
		{"keys are never overwritten", testWriteOnce},
		{"bad keys", testBadKeys},
		{"missing keys", testNotFound},
		{"a failed Put leaves nothing behind", testFailedPut},
		{"concurrent Puts to one key", testConcurrentPut},
		{"Open streams what Get returns", testOpen},
		{"Delete removes a key, and only it", testDelete},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

var nonce atomic.Int64

// prefix returns a key prefix ending in '/' that no other subtest or earlier
// run uses.
func prefix(t *testing.T) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("blobtest/%s-%d/", name, time.Now().UnixNano()+nonce.Add(1))
}

func put(t *testing.T, s blob.Store, key string, data []byte) {
	t.Helper()
	if err := s.Put(t.Context(), key, data); err != nil {
		t.Fatalf("Put %q: %v", key, err)
	}
}

func assertGet(t *testing.T, s blob.Store, key string, want []byte) {
	t.Helper()
	got, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get %q: %v", key, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Get %q: %d bytes %.32x…, want %d bytes %.32x…", key, len(got), got, len(want), want)
	}
}

func testRoundTrip(t *testing.T, s blob.Store) {
	every := make([]byte, 256*4)
	for i := range every {
		every[i] = byte(i)
	}
	big := bytes.Repeat([]byte("churnops\x00\xff"), 512*1024) // 5 MiB: a model artifact's size
	cases := []struct {
		name string
		key  string
		data []byte
	}{
		{"every byte value", "models/churn/v1/model.bin", every},
		{"empty", "reports/empty.json", []byte{}},
		{"text", "datasets/as_of=2024-01-31/snapshot.parquet", []byte("PAR1 not really")},
		{"large", "models/churn/v2/model.bin", big},
		{"spaces and unicode", "reports/drift/Jan vs Fév.html", []byte("<html>")},
	}
	p := prefix(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := p + tc.key
			data := bytes.Clone(tc.data)
			put(t, s, key, data)
			clear(data) // the store must not keep the caller's slice
			assertGet(t, s, key, tc.data)
		})
	}
}

func testList(t *testing.T, s blob.Store) {
	p := prefix(t)
	// '-' < '/' < '0' < 'a' bytewise: a per-directory walk would misorder
	// "a/b" and "a-c".
	keys := []string{"a/b", "a-c", "a0", "a/b2/c", "b/x.json", "a/b1", "ab"}
	for _, k := range keys {
		put(t, s, p+k, []byte(k))
	}
	cases := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-c", "a/b", "a/b1", "a/b2/c", "a0", "ab", "b/x.json"}},
		{"a", []string{"a-c", "a/b", "a/b1", "a/b2/c", "a0", "ab"}},
		{"a/", []string{"a/b", "a/b1", "a/b2/c"}},
		{"a/b", []string{"a/b", "a/b1", "a/b2/c"}},
		{"a/b/", nil}, // "a/b" is a key, not a directory
		{"a/b2/", []string{"a/b2/c"}},
		{"b/x.json", []string{"b/x.json"}},
		{"c", nil},
		{"zz/yy/", nil},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprintf("prefix %q", tc.prefix), func(t *testing.T) {
			got, err := s.List(t.Context(), p+tc.prefix)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			want := make([]string, len(tc.want))
			for i, k := range tc.want {
				want[i] = p + k
			}
			if !slices.Equal(got, want) {
				t.Errorf("List(%q):\n got %q\nwant %q", p+tc.prefix, got, want)
			}
		})
	}
	t.Run("whole store", func(t *testing.T) {
		got, err := s.List(t.Context(), "")
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		if !slices.IsSorted(got) {
			t.Errorf("List(\"\") is not sorted")
		}
		for _, k := range keys {
			if _, ok := slices.BinarySearch(got, p+k); !ok {
				t.Errorf("List(\"\") misses %q", p+k)
			}
		}
	})
}

func testWriteOnce(t *testing.T, s blob.Store) {
	key := prefix(t) + "models/churn/v1/model.json"
	put(t, s, key, []byte("original"))
	cases := []struct {
		name string
		data []byte
	}{
		{"different bytes", []byte("replacement")},
		{"same bytes", []byte("original")},
		{"empty", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(t.Context(), key, tc.data); !errors.Is(err, blob.ErrExists) {
				t.Errorf("second Put: err %v, want ErrExists", err)
			}
			assertGet(t, s, key, []byte("original"))
		})
	}
}

func testBadKeys(t *testing.T, s blob.Store) {
	p := prefix(t)
	cases := []struct{ name, key string }{
		{"empty", ""},
		{"leading slash", "/" + p + "x"},
		{"trailing slash", p + "dir/"},
		{"double slash", p + "a//b"},
		{"dot-dot segment", p + "a/../../etc/passwd"},
		{"dot-dot alone", ".."},
		{"dot segment", p + "./x"},
		{"hidden segment", p + ".tmp/x"},
		{"backslash", p + `a\b`},
		{"backslash traversal", p + `..\..\x`},
		{"NUL", p + "a\x00b"},
		{"newline", p + "a\nb"},
		{"invalid UTF-8", p + "a\xffb"},
		{"segment too long", p + strings.Repeat("s", blob.MaxSegmentLen+1)},
		{"key too long", p + strings.Repeat("k/", blob.MaxKeyLen/2) + "k"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Put(t.Context(), tc.key, []byte("x")); !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("Put(%q): err %v, want ErrBadKey", tc.key, err)
			}
			if _, err := s.Get(t.Context(), tc.key); !errors.Is(err, blob.ErrBadKey) {
				t.Errorf("Get(%q): err %v, want ErrBadKey", tc.key, err)
			}
		})
	}
	keys, err := s.List(t.Context(), p)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(keys) != 0 {
		t.Errorf("bad keys left %q behind", keys)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	p := prefix(t)
	put(t, s, p+"dir/file", []byte("x"))
	cases := []struct{ name, key string }{
		{"never written", p + "nothing"},
		{"a directory of keys", p + "dir"},
		{"below a key", p + "dir/file/below"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := s.Get(t.Context(), tc.key); !errors.Is(err, blob.ErrNotFound) {
				t.Errorf("Get(%q): err %v, want ErrNotFound", tc.key, err)
			}
		})
	}
}

func testFailedPut(t *testing.T, s blob.Store) {
	key := prefix(t) + "cancelled"
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Put(ctx, key, []byte("x")); err == nil {
		t.Fatal("Put with a cancelled context succeeded")
	}
	if _, err := s.Get(t.Context(), key); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after a failed Put: err %v, want ErrNotFound", err)
	}
	put(t, s, key, []byte("later")) // the key is still free
	assertGet(t, s, key, []byte("later"))
}

func testConcurrentPut(t *testing.T, s blob.Store) {
	key := prefix(t) + "models/churn/v1/model.json"
	var wg sync.WaitGroup
	errs := make([]error, Racers)
	payload := func(i int) []byte { return bytes.Repeat(fmt.Appendf(nil, "racer %02d;", i), 10_000) }
	for i := range Racers {
		wg.Go(func() { errs[i] = s.Put(t.Context(), key, payload(i)) })
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("racers %d and %d both won", winner, i)
			}
			winner = i
		case !errors.Is(err, blob.ErrExists):
			t.Errorf("racer %d: err %v, want nil or ErrExists", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no Put succeeded")
	}
	assertGet(t, s, key, payload(winner))
}

func testOpen(t *testing.T, s blob.Store) {
	p := prefix(t)
	big := bytes.Repeat([]byte("user_id,churn\n"), 1<<20) // 14 MiB: read in pieces
	put(t, s, p+"incoming/users.csv", big)
	r, err := s.Open(t.Context(), p+"incoming/users.csv")
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	var got bytes.Buffer
	if _, err := io.CopyBuffer(&got, r, make([]byte, 4096)); err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !bytes.Equal(got.Bytes(), big) {
		t.Errorf("Open read %d bytes, want %d", got.Len(), len(big))
	}
	put(t, s, p+"dir/file", []byte("x"))
	for _, tc := range []struct {
		name, key string
		want      error
	}{
		{"never written", p + "nothing", blob.ErrNotFound},
		{"a directory of keys", p + "dir", blob.ErrNotFound},
		{"bad key", p + "a//b", blob.ErrBadKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Open(t.Context(), tc.key)
			if err == nil {
				r.Close()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("Open(%q): err %v, want %v", tc.key, err, tc.want)
			}
		})
	}
}

func testDelete(t *testing.T, s blob.Store) {
	p := prefix(t)
	for _, k := range []string{"a/1", "a/2", "a/2b", "b"} {
		put(t, s, p+k, []byte(k))
	}
	if err := s.Delete(t.Context(), p+"a/2"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get(t.Context(), p+"a/2"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Get after Delete: err %v, want ErrNotFound", err)
	}
	keys, err := s.List(t.Context(), p)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if want := []string{p + "a/1", p + "a/2b", p + "b"}; !slices.Equal(keys, want) {
		t.Errorf("List after Delete:\n got %q\nwant %q", keys, want)
	}
	for _, tc := range []struct{ name, key string }{
		{"a key already deleted", p + "a/2"},
		{"a key never written", p + "never"},
		{"a directory of keys", p + "a"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Delete(t.Context(), tc.key); err != nil {
				t.Errorf("Delete(%q): %v, want success", tc.key, err)
			}
		})
	}
	assertGet(t, s, p+"a/1", []byte("a/1")) // "a" was not a key: nothing below it went
	if err := s.Delete(t.Context(), p+"a//b"); !errors.Is(err, blob.ErrBadKey) {
		t.Errorf("Delete of a bad key: err %v, want ErrBadKey", err)
	}
	put(t, s, p+"a/2", []byte("again")) // a deleted key is free again
	assertGet(t, s, p+"a/2", []byte("again"))
}
