// Package objectstoretest is the contract suite for asl.ObjectStore, the
// S3 a DISTRIBUTED Map reads its items from (ItemReader) and writes its
// results to (ResultWriter), and Memory, an in-memory store that passes
// it. An adapter over another store runs the same suite:
//
//	func TestObjectStore(t *testing.T) {
//		objectstoretest.Run(t, func(t *testing.T) asl.ObjectStore { return newAdapter(t) }, "bucket")
//	}
//
// Every subtest writes under a key prefix unique to the run, so one
// bucket may serve all subtests and survive earlier runs.
package objectstoretest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// PageSize is S3's ListObjectsV2 page size: a listing of more keys than
// this must still come back whole.
const PageSize = 1000

// Run runs the asl.ObjectStore contract against stores made by newStore,
// called once per subtest, all using bucket, which must exist. With
// -short, the listing of more than one page is skipped.
func Run(t *testing.T, newStore func(t *testing.T) asl.ObjectStore, bucket string) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s asl.ObjectStore, bucket string)
	}{
		{"Put and Get round-trip", testRoundTrip},
		{"List by prefix, sorted bytewise, with sizes", testList},
		{"a listing's ETag and LastModified", testListMetadata},
		{"missing keys", testMissing},
		{"concurrent use", testConcurrent},
		{"a listing of more than one page", testPages},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t), bucket) })
	}
}

var nonce atomic.Int64

// prefix returns a key prefix ending in '/' that no other subtest or
// earlier run uses.
func prefix(t *testing.T) string {
	t.Helper()
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, t.Name())
	return fmt.Sprintf("objectstoretest/%s-%d/", name, time.Now().UnixNano()+nonce.Add(1))
}

func put(t *testing.T, s asl.ObjectStore, bucket, key string, data []byte) {
	t.Helper()
	if err := s.PutObject(t.Context(), bucket, key, data); err != nil {
		t.Fatalf("PutObject %q: %v", key, err)
	}
}

func list(t *testing.T, s asl.ObjectStore, bucket, prefix string) []asl.ObjectInfo {
	t.Helper()
	objs, err := s.ListObjects(t.Context(), bucket, prefix)
	if err != nil {
		t.Fatalf("ListObjects %q: %v", prefix, err)
	}
	return objs
}

func keys(objs []asl.ObjectInfo, trim string) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = strings.TrimPrefix(o.Key, trim)
	}
	return out
}

func testRoundTrip(t *testing.T, s asl.ObjectStore, bucket string) {
	every := make([]byte, 256*4)
	for i := range every {
		every[i] = byte(i)
	}
	cases := []struct {
		name string
		key  string
		data []byte
	}{
		{"JSON items", "items.json", []byte(`[{"shard":0},{"shard":1}]`)},
		{"every byte value", "bytes.bin", every},
		{"empty", "empty.json", []byte{}},
		{"large", "big.jsonl", bytes.Repeat([]byte("{\"user_id\":\"7590-VHVEG\"}\n"), 64*1024)},
		{"spaces and unicode in the key", "results/Jan vs Fév/manifest.json", []byte("{}")},
	}
	p := prefix(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			key := p + tc.key
			data := bytes.Clone(tc.data)
			put(t, s, bucket, key, data)
			clear(data) // the store must not keep the caller's slice
			got, err := s.GetObject(t.Context(), bucket, key)
			if err != nil {
				t.Fatalf("GetObject %q: %v", key, err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("GetObject %q: %d bytes %.32x…, want %d bytes %.32x…", key, len(got), got, len(tc.data), tc.data)
			}
		})
	}
}

func testList(t *testing.T, s asl.ObjectStore, bucket string) {
	p := prefix(t)
	// '-' < '/' < '0' < 'a' bytewise: a per-directory walk would misorder
	// "a/b" and "a-c".
	data := map[string]string{"a/b": "1", "a-c": "22", "a0": "333", "a/b2/c": "", "b/x.json": "55555", "a/b1": "6", "ab": "77"}
	for k, v := range data {
		put(t, s, bucket, p+k, []byte(v))
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"a-c", "a/b", "a/b1", "a/b2/c", "a0", "ab", "b/x.json"}},
		{"a/", []string{"a/b", "a/b1", "a/b2/c"}},
		{"a/b", []string{"a/b", "a/b1", "a/b2/c"}},
		{"a", []string{"a-c", "a/b", "a/b1", "a/b2/c", "a0", "ab"}},
		{"b/x.json", []string{"b/x.json"}},
		{"c", []string{}},
	}
	for _, tc := range tests {
		t.Run("prefix "+tc.prefix, func(t *testing.T) {
			objs := list(t, s, bucket, p+tc.prefix)
			if got := keys(objs, p); !slices.Equal(got, tc.want) {
				t.Fatalf("ListObjects(%q) = %q, want %q", tc.prefix, got, tc.want)
			}
			for _, o := range objs {
				if want := int64(len(data[strings.TrimPrefix(o.Key, p)])); o.Size != want {
					t.Errorf("%s: Size %d, want %d", o.Key, o.Size, want)
				}
			}
		})
	}
}

func testListMetadata(t *testing.T, s asl.ObjectStore, bucket string) {
	p := prefix(t)
	before := time.Now()
	put(t, s, bucket, p+"one", []byte("shard one"))
	put(t, s, bucket, p+"two", []byte("shard two"))
	after := time.Now()
	first, second := list(t, s, bucket, p), list(t, s, bucket, p)
	if len(first) != 2 || len(second) != 2 {
		t.Fatalf("listed %d then %d objects, want 2", len(first), len(second))
	}
	for i, o := range first {
		if o.ETag == "" {
			t.Errorf("%s: empty ETag", o.Key)
		}
		if o.ETag != second[i].ETag {
			t.Errorf("%s: ETag %s then %s: it must identify the content, which did not change", o.Key, o.ETag, second[i].ETag)
		}
		// S3 keeps whole seconds; an emulator's clock may be a little off.
		if o.LastModified.Before(before.Add(-time.Hour)) || o.LastModified.After(after.Add(time.Hour)) {
			t.Errorf("%s: LastModified %v, want about %v", o.Key, o.LastModified, before)
		}
		if o.StorageClass != "" && o.StorageClass != "STANDARD" {
			t.Errorf("%s: StorageClass %q for a plain Put, want STANDARD (or empty)", o.Key, o.StorageClass)
		}
	}
	if first[0].ETag == first[1].ETag {
		t.Errorf("two objects with different contents have the same ETag %s", first[0].ETag)
	}
}

func testMissing(t *testing.T, s asl.ObjectStore, bucket string) {
	p := prefix(t)
	if got, err := s.GetObject(t.Context(), bucket, p+"nothing-here.json"); err == nil {
		t.Errorf("GetObject of a missing key returned %d bytes and no error", len(got))
	}
	if objs := list(t, s, bucket, p); len(objs) != 0 {
		t.Errorf("ListObjects of an empty prefix = %v, want none (and no error)", keys(objs, p))
	}
}

// testConcurrent: a Map's iterations read and write at the same time.
func testConcurrent(t *testing.T, s asl.ObjectStore, bucket string) {
	const n = 16
	p := prefix(t)
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range n {
		wg.Go(func() {
			key := fmt.Sprintf("%spart-%05d.json", p, i)
			data := fmt.Appendf(nil, `{"part":%d}`, i)
			if err := s.PutObject(context.Background(), bucket, key, data); err != nil {
				errs <- fmt.Errorf("PutObject %s: %w", key, err)
				return
			}
			got, err := s.GetObject(context.Background(), bucket, key)
			if err != nil || !bytes.Equal(got, data) {
				errs <- fmt.Errorf("GetObject %s = %q, %v; want %q", key, got, err, data)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if objs := list(t, s, bucket, p); len(objs) != n {
		t.Errorf("listed %d objects after %d concurrent Puts", len(objs), n)
	}
}

func testPages(t *testing.T, s asl.ObjectStore, bucket string) {
	if testing.Short() {
		t.Skipf("-short: skipping %d Puts", PageSize+1)
	}
	p := prefix(t)
	want := make([]string, PageSize+1)
	for i := range want {
		want[i] = fmt.Sprintf("part-%05d", i)
		put(t, s, bucket, p+want[i], []byte{byte(i)})
	}
	if got := keys(list(t, s, bucket, p), p); !slices.Equal(got, want) {
		t.Errorf("listed %d keys (first %q, last %q), want all %d", len(got), first(got), last(got), len(want))
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func last(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}
