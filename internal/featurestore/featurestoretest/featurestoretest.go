// Package featurestoretest is the contract suite for featurestore.Store:
// the embedded store, the DynamoDB adapter and the in-memory fake all run
// it, so /predict reads the same features, with the same JSON types and
// the same versioning rules, on a laptop, on AWS and in tests.
//
//	func TestStore(t *testing.T) {
//		featurestoretest.Run(t, func(t *testing.T) featurestore.Store { return newEmptyStore(t) })
//	}
//
// newStore is called once per subtest and must return an empty store.
package featurestoretest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/shard"
)

// BigVersion is the size of the large-version test: a month of a small
// service.
const BigVersion = 10_000

// Run runs the featurestore.Store contract against stores made by newStore.
func Run(t *testing.T, newStore func(t *testing.T) featurestore.Store) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, s featurestore.Store)
	}{
		{"nothing served yet", testEmpty},
		{"feature types round-trip", testTypes},
		{"a version is invisible until published", testInvisible},
		{"a version holds exactly its month's users", testExactMonth},
		{"an older version never replaces a newer one", testNoRollback},
		{"an incomplete version cannot be published", testIncomplete},
		{"rewriting a shard replaces it", testRewrite},
		{"later duplicates in a write win", testDuplicates},
		{"shards written concurrently", testConcurrentWrites},
		{"concurrent publishes serve the newest", testConcurrentPublishes},
		{"remove of the served version falls back", testRemove},
		{"prune keeps the served version and its predecessor", testPrune},
		{"invalid writes write nothing", testInvalid},
		{"big version", testBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newStore(t)) })
	}
}

// month builds the records of version asOf: one per user, with features
// that tell the version and the user apart.
func month(asOf string, users ...string) []featurestore.Record {
	recs := make([]featurestore.Record, len(users))
	for i, u := range users {
		recs[i] = featurestore.Record{UserID: u, AsOf: asOf, Features: map[string]any{
			"as_of": asOf, "user": u, "n": float64(len(u) + i), "flag": i%2 == 0, "missing": nil,
		}}
	}
	return recs
}

// split returns the records of shard k of shards.
func split(recs []featurestore.Record, k, shards int) []featurestore.Record {
	var out []featurestore.Record
	for _, r := range recs {
		if shard.Of(r.UserID, shards) == k {
			out = append(out, r)
		}
	}
	return out
}

// writeAll writes recs as a version of `shards` shards.
func writeAll(t *testing.T, s featurestore.Store, asOf string, shards int, recs []featurestore.Record) {
	t.Helper()
	for k := range shards {
		if err := s.Write(t.Context(), asOf, k, shards, split(recs, k, shards)); err != nil {
			t.Fatalf("Write %s shard %d of %d: %v", asOf, k, shards, err)
		}
	}
}

func publish(t *testing.T, s featurestore.Store, asOf, wantCurrent string, wantSwitched bool) {
	t.Helper()
	cur, switched, err := s.Publish(t.Context(), asOf)
	if err != nil {
		t.Fatalf("Publish %s: %v", asOf, err)
	}
	if cur != wantCurrent || switched != wantSwitched {
		t.Fatalf("Publish %s = %q, switched %v; want %q, %v", asOf, cur, switched, wantCurrent, wantSwitched)
	}
}

// writePublish writes recs as a one-shard version and publishes it.
func writePublish(t *testing.T, s featurestore.Store, asOf string, recs []featurestore.Record) {
	t.Helper()
	writeAll(t, s, asOf, 1, recs)
	publish(t, s, asOf, asOf, true)
}

func current(t *testing.T, s featurestore.Store, want string) {
	t.Helper()
	got, err := s.Current(t.Context())
	if want == "" {
		if !errors.Is(err, featurestore.ErrNoVersion) {
			t.Fatalf("Current = %q, %v; want ErrNoVersion", got, err)
		}
		return
	}
	if err != nil || got != want {
		t.Fatalf("Current = %q, %v; want %q", got, err, want)
	}
}

func get(t *testing.T, s featurestore.Store, userID string) featurestore.Record {
	t.Helper()
	r, err := s.Get(t.Context(), userID)
	if err != nil {
		t.Fatalf("Get %s: %v", userID, err)
	}
	return r
}

func getErr(t *testing.T, s featurestore.Store, userID string, want error) {
	t.Helper()
	if r, err := s.Get(t.Context(), userID); !errors.Is(err, want) {
		t.Fatalf("Get %s = %+v, %v; want %v", userID, r, err, want)
	}
}

// servesExactly checks that the served version is asOf and answers each of
// recs, and ErrNotFound for each of absent.
func servesExactly(t *testing.T, s featurestore.Store, asOf string, recs []featurestore.Record, absent ...string) {
	t.Helper()
	current(t, s, asOf)
	for _, r := range recs {
		assertRecord(t, get(t, s, r.UserID), r)
	}
	for _, u := range absent {
		getErr(t, s, u, featurestore.ErrNotFound)
	}
}

// assertRecord compares values and their dynamic types: a number must come
// back as float64, a boolean as bool, a missing value as nil.
func assertRecord(t *testing.T, got, want featurestore.Record) {
	t.Helper()
	if got.UserID != want.UserID || got.AsOf != want.AsOf {
		t.Errorf("record %s/%s, want %s/%s", got.UserID, got.AsOf, want.UserID, want.AsOf)
	}
	if len(got.Features) != len(want.Features) {
		t.Errorf("%s: %d features %v, want %d %v", want.UserID, len(got.Features), got.Features, len(want.Features), want.Features)
	}
	for name, w := range want.Features {
		g, ok := got.Features[name]
		if !ok {
			t.Errorf("%s: feature %s missing", want.UserID, name)
			continue
		}
		if fmt.Sprintf("%T", g) != fmt.Sprintf("%T", w) || g != w {
			t.Errorf("%s: feature %s = %#v (%T), want %#v (%T)", want.UserID, name, g, g, w, w)
		}
	}
}

func versions(t *testing.T, s featurestore.Store) []featurestore.Version {
	t.Helper()
	vs, err := s.Versions(t.Context())
	if err != nil {
		t.Fatalf("Versions: %v", err)
	}
	return vs
}

func asOfs(vs []featurestore.Version) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.AsOf)
	}
	return out
}

func testEmpty(t *testing.T, s featurestore.Store) {
	current(t, s, "")
	getErr(t, s, "u1", featurestore.ErrNoVersion)
	if vs := versions(t, s); len(vs) != 0 {
		t.Errorf("Versions of an empty store = %+v", vs)
	}
	if removed, err := s.Prune(t.Context()); err != nil || len(removed) != 0 {
		t.Errorf("Prune of an empty store = %v, %v", removed, err)
	}
	if cur, err := s.Remove(t.Context(), "2024-01-31", false); err != nil || cur != "" {
		t.Errorf("Remove of a version that does not exist = %q, %v; want success", cur, err)
	}
	if _, _, err := s.Publish(t.Context(), "2024-01-31"); !errors.Is(err, featurestore.ErrIncomplete) {
		t.Errorf("Publish of a version never written: %v, want ErrIncomplete", err)
	}
}

func testTypes(t *testing.T, s featurestore.Store) {
	const asOf = "2024-01-31"
	cases := []struct {
		name     string
		features map[string]any
	}{
		{"numbers", map[string]any{"monthly_fee": 12.99, "months_active": 14.0, "zero": 0.0, "negative": -3.5, "large": 1e12, "tiny": 1e-9, "negzero": math.Copysign(0, -1)}},
		{"booleans", map[string]any{"paperless_billing": true, "plan_stream_tv": false}},
		{"missing values", map[string]any{"net_service": nil, "plan_stream_movies": nil}},
		{"strings", map[string]any{"net_service": "Fiber optic", "empty": "", "unicode": "été ☂"}},
		{"mixed", map[string]any{"monthly_fee": 7.0, "net_service": "DSL", "plan_stream_tv": nil, "paperless_billing": false}},
		{"no features", map[string]any{}},
	}
	var recs []featurestore.Record
	for i, tc := range cases {
		recs = append(recs, featurestore.Record{UserID: fmt.Sprintf("u%d", i), AsOf: asOf, Features: tc.features})
	}
	writePublish(t, s, asOf, recs)
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { assertRecord(t, get(t, s, recs[i].UserID), recs[i]) })
	}
	t.Run("an empty as_of takes the version's", func(t *testing.T) {
		r := featurestore.Record{UserID: "noasof", Features: map[string]any{"a": 1.0}}
		writePublish(t, s, "2024-02-29", []featurestore.Record{r})
		r.AsOf = "2024-02-29"
		assertRecord(t, get(t, s, r.UserID), r)
	})
}

func testInvisible(t *testing.T, s featurestore.Store) {
	jan := month("2024-01-31", "a", "b")
	writeAll(t, s, "2024-01-31", 1, jan)
	current(t, s, "")
	getErr(t, s, "a", featurestore.ErrNoVersion)
	vs := versions(t, s)
	if len(vs) != 1 || vs[0] != (featurestore.Version{AsOf: "2024-01-31", Shards: 1, Written: 1, Records: 2, Complete: true}) {
		t.Fatalf("Versions = %+v; want 2024-01-31 complete and not served", vs)
	}
	publish(t, s, "2024-01-31", "2024-01-31", true)
	servesExactly(t, s, "2024-01-31", jan, "c")

	feb := month("2024-02-29", "a", "b")
	writeAll(t, s, "2024-02-29", 2, feb)
	servesExactly(t, s, "2024-01-31", jan) // written, not yet published
	publish(t, s, "2024-02-29", "2024-02-29", true)
	servesExactly(t, s, "2024-02-29", feb)
	vs = versions(t, s)
	if got := asOfs(vs); !slices.Equal(got, []string{"2024-01-31", "2024-02-29"}) || vs[0].Served || !vs[1].Served {
		t.Errorf("Versions = %+v; want both, oldest first, 2024-02-29 served", vs)
	}
}

func testExactMonth(t *testing.T, s featurestore.Store) {
	jan := month("2024-01-31", "left", "stays")
	feb := month("2024-02-29", "stays", "joined")
	writePublish(t, s, "2024-01-31", jan)
	writePublish(t, s, "2024-02-29", feb)
	servesExactly(t, s, "2024-02-29", feb, "left", "", "stay", "stays2")
}

func testNoRollback(t *testing.T, s featurestore.Store) {
	feb := month("2024-02-29", "a", "b")
	writePublish(t, s, "2024-02-29", feb)
	jan := month("2024-01-31", "a", "c")
	writeAll(t, s, "2024-01-31", 1, jan)
	publish(t, s, "2024-01-31", "2024-02-29", false)
	publish(t, s, "2024-02-29", "2024-02-29", false) // again: no switch
	servesExactly(t, s, "2024-02-29", feb, "c")
	// An older version need not even be complete to be refused quietly.
	if err := s.Write(t.Context(), "2023-12-31", 0, 2, split(month("2023-12-31", "a", "b", "c", "d"), 0, 2)); err != nil {
		t.Fatal(err)
	}
	publish(t, s, "2023-12-31", "2024-02-29", false)
}

func testIncomplete(t *testing.T, s featurestore.Store) {
	const shards = 3
	users := []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"}
	jan := month("2024-01-31", users...)
	feb := month("2024-02-29", users...)
	writePublish(t, s, "2024-01-31", jan)
	for k := range shards - 1 {
		if err := s.Write(t.Context(), "2024-02-29", k, shards, split(feb, k, shards)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Publish(t.Context(), "2024-02-29"); !errors.Is(err, featurestore.ErrIncomplete) {
			t.Fatalf("Publish with %d of %d shards written: %v, want ErrIncomplete", k+1, shards, err)
		}
		servesExactly(t, s, "2024-01-31", jan)
	}
	vs := versions(t, s)
	if len(vs) != 2 || vs[1].AsOf != "2024-02-29" || vs[1].Complete || vs[1].Shards != shards || vs[1].Written != shards-1 {
		t.Fatalf("Versions = %+v; want 2024-02-29 with %d of %d shards written", vs, shards-1, shards)
	}
	if err := s.Write(t.Context(), "2024-02-29", shards-1, shards, split(feb, shards-1, shards)); err != nil {
		t.Fatal(err)
	}
	publish(t, s, "2024-02-29", "2024-02-29", true)
	servesExactly(t, s, "2024-02-29", feb)
	if vs := versions(t, s); vs[1].Records != len(users) {
		t.Errorf("Versions = %+v; want %d records in 2024-02-29", vs, len(users))
	}
}

func testRewrite(t *testing.T, s featurestore.Store) {
	const shards = 2
	users := []string{"a", "b", "c", "d", "e", "f"}
	first := month("2024-01-31", users...)
	writeAll(t, s, "2024-01-31", shards, first)
	writeAll(t, s, "2024-01-31", shards, first) // a retry
	second := month("2024-01-31", users...)
	for i := range second {
		second[i].Features = map[string]any{"retry": true}
	}
	if err := s.Write(t.Context(), "2024-01-31", 1, shards, split(second, 1, shards)); err != nil {
		t.Fatal(err)
	}
	publish(t, s, "2024-01-31", "2024-01-31", true)
	for _, r := range first {
		want := r
		if shard.Of(r.UserID, shards) == 1 {
			want.Features = map[string]any{"retry": true}
		}
		assertRecord(t, get(t, s, r.UserID), want)
	}
	if vs := versions(t, s); len(vs) != 1 || vs[0].Records != len(users) || vs[0].Written != shards {
		t.Errorf("Versions = %+v; a rewritten shard counts once", vs)
	}
}

func testDuplicates(t *testing.T, s featurestore.Store) {
	first := featurestore.Record{UserID: "dup", Features: map[string]any{"a": 1.0}}
	other := featurestore.Record{UserID: "other", Features: map[string]any{"a": 5.0}}
	last := featurestore.Record{UserID: "dup", Features: map[string]any{"a": 2.0}}
	writePublish(t, s, "2024-01-31", []featurestore.Record{first, other, last})
	last.AsOf, other.AsOf = "2024-01-31", "2024-01-31"
	assertRecord(t, get(t, s, "dup"), last)
	assertRecord(t, get(t, s, "other"), other)
	if vs := versions(t, s); len(vs) != 1 || vs[0].Records != 2 {
		t.Errorf("Versions = %+v; want 2 records", vs)
	}
}

func testConcurrentWrites(t *testing.T, s featurestore.Store) {
	const shards = 4
	var users []string
	for i := range 200 {
		users = append(users, fmt.Sprintf("user-%03d", i))
	}
	recs := month("2024-01-31", users...)
	var wg sync.WaitGroup
	errs := make([]error, shards)
	for k := range shards {
		wg.Go(func() { errs[k] = s.Write(t.Context(), "2024-01-31", k, shards, split(recs, k, shards)) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	publish(t, s, "2024-01-31", "2024-01-31", true)
	servesExactly(t, s, "2024-01-31", recs, "user-200")
}

func testConcurrentPublishes(t *testing.T, s featurestore.Store) {
	dates := []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30", "2024-05-31", "2024-06-30"}
	months := map[string][]featurestore.Record{}
	for i, d := range dates {
		months[d] = month(d, "a", "b", fmt.Sprintf("only-%d", i))
		writeAll(t, s, d, 1, months[d])
	}
	var wg sync.WaitGroup
	type result struct {
		cur      string
		switched bool
		err      error
	}
	results := make([]result, len(dates))
	for i, d := range slices.Backward(dates) { // the newest starts first
		wg.Go(func() {
			cur, switched, err := s.Publish(t.Context(), d)
			results[i] = result{cur, switched, err}
		})
	}
	wg.Wait()
	newest := dates[len(dates)-1]
	for i, r := range results {
		if r.err != nil {
			t.Fatalf("Publish %s: %v", dates[i], r.err)
		}
		if r.cur < dates[i] || (r.switched && r.cur != dates[i]) {
			t.Errorf("Publish %s = %q, switched %v: it may only report itself or a newer version", dates[i], r.cur, r.switched)
		}
	}
	if !results[len(dates)-1].switched {
		t.Errorf("the newest version's Publish did not switch")
	}
	servesExactly(t, s, newest, months[newest], "only-0", "only-4")
}

func testRemove(t *testing.T, s featurestore.Store) {
	jan := month("2024-01-31", "a", "jan-only")
	feb := month("2024-02-29", "a", "feb-only")
	mar := month("2024-03-31", "a", "mar-only")
	writePublish(t, s, "2024-01-31", jan)
	writePublish(t, s, "2024-02-29", feb)
	writePublish(t, s, "2024-03-31", mar)
	if err := s.Write(t.Context(), "2024-04-30", 0, 2, split(month("2024-04-30", "a", "b", "c", "d"), 0, 2)); err != nil {
		t.Fatal(err) // an incomplete newer version: never a fall-back
	}

	remove := func(asOf string, force bool, want string) {
		t.Helper()
		cur, err := s.Remove(t.Context(), asOf, force)
		if err != nil || cur != want {
			t.Fatalf("Remove %s (force %v) = %q, %v; want %q", asOf, force, cur, err, want)
		}
	}
	remove("2024-03-31", false, "2024-02-29")
	servesExactly(t, s, "2024-02-29", feb, "mar-only", "jan-only")
	remove("2024-01-31", false, "2024-02-29") // not served: just gone
	servesExactly(t, s, "2024-02-29", feb)
	remove("2024-04-30", false, "2024-02-29")
	if got := asOfs(versions(t, s)); !slices.Equal(got, []string{"2024-02-29"}) {
		t.Fatalf("Versions after the removals = %v, want [2024-02-29]", got)
	}
	if _, err := s.Remove(t.Context(), "2024-02-29", false); !errors.Is(err, featurestore.ErrLastVersion) {
		t.Fatalf("Remove of the last version: %v, want ErrLastVersion", err)
	}
	servesExactly(t, s, "2024-02-29", feb)
	remove("2024-02-29", true, "")
	current(t, s, "")
	getErr(t, s, "a", featurestore.ErrNoVersion)
	if vs := versions(t, s); len(vs) != 0 {
		t.Errorf("Versions after removing everything = %+v", vs)
	}
	// A removed version can be written and published again.
	writePublish(t, s, "2024-01-31", jan)
	servesExactly(t, s, "2024-01-31", jan)
}

func testPrune(t *testing.T, s featurestore.Store) {
	dates := []string{"2024-01-31", "2024-02-29", "2024-03-31", "2024-04-30"}
	for _, d := range dates[:3] {
		writePublish(t, s, d, month(d, "a", d))
	}
	if err := s.Write(t.Context(), dates[3], 0, 2, split(month(dates[3], "a", "b", "c", "d"), 0, 2)); err != nil {
		t.Fatal(err)
	}
	removed, err := s.Prune(t.Context())
	if err != nil || !slices.Equal(removed, dates[:1]) {
		t.Fatalf("Prune = %v, %v; want %v", removed, err, dates[:1])
	}
	if got := asOfs(versions(t, s)); !slices.Equal(got, dates[1:]) {
		t.Fatalf("Versions after Prune = %v, want %v", got, dates[1:])
	}
	if removed, err := s.Prune(t.Context()); err != nil || len(removed) != 0 {
		t.Fatalf("a second Prune = %v, %v; want nothing", removed, err)
	}
	if cur, err := s.Remove(t.Context(), dates[2], false); err != nil || cur != dates[1] {
		t.Fatalf("Remove of the served version after Prune = %q, %v; want the kept predecessor %s", cur, err, dates[1])
	}
	servesExactly(t, s, dates[1], month(dates[1], "a", dates[1]), dates[2])
}

func testInvalid(t *testing.T, s featurestore.Store) {
	good := featurestore.Record{UserID: "good", Features: map[string]any{"a": 1.0}}
	with := func(r featurestore.Record, f func(*featurestore.Record)) []featurestore.Record {
		f(&r)
		return []featurestore.Record{good, r}
	}
	// a user of shard 0 of 2 and one of shard 1
	var in0, in1 string
	for i := 0; in0 == "" || in1 == ""; i++ {
		u := fmt.Sprintf("u%d", i)
		if shard.Of(u, 2) == 0 {
			in0 = u
		} else {
			in1 = u
		}
	}
	cases := []struct {
		name          string
		asOf          string
		shard, shards int
		recs          []featurestore.Record
	}{
		{"empty user ID", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID = "" })},
		{"NaN", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID, r.Features = "nan", map[string]any{"x": math.NaN()} })},
		{"+Inf", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID, r.Features = "inf", map[string]any{"x": math.Inf(1)} })},
		{"an int", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID, r.Features = "int", map[string]any{"x": 3} })},
		{"a nested map", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID, r.Features = "map", map[string]any{"x": map[string]any{}} })},
		{"another as_of", "2024-01-31", 0, 1, with(good, func(r *featurestore.Record) { r.UserID, r.AsOf = "other", "2024-02-29" })},
		{"a user of another shard", "2024-01-31", 0, 2, []featurestore.Record{{UserID: in0}, {UserID: in1}}},
		{"shard out of range", "2024-01-31", 2, 2, nil},
		{"negative shard", "2024-01-31", -1, 2, nil},
		{"no shards", "2024-01-31", 0, 0, nil},
		{"as_of not a date", "2024-1-31", 0, 1, []featurestore.Record{good}},
		{"as_of with a path", "../x", 0, 1, []featurestore.Record{good}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.Write(t.Context(), tc.asOf, tc.shard, tc.shards, tc.recs); !errors.Is(err, featurestore.ErrInvalid) {
				t.Errorf("Write: %v, want ErrInvalid", err)
			}
		})
	}
	if vs := versions(t, s); len(vs) != 0 {
		t.Errorf("invalid writes left versions behind: %+v", vs)
	}
	if _, _, err := s.Publish(t.Context(), "not-a-date"); err == nil {
		t.Error("Publish of an invalid as_of succeeded")
	}
	t.Run("an empty shard is a shard", func(t *testing.T) {
		writeAll(t, s, "2024-01-31", 1, nil)
		publish(t, s, "2024-01-31", "2024-01-31", true)
		getErr(t, s, "good", featurestore.ErrNotFound)
	})
}

func testBig(t *testing.T, s featurestore.Store) {
	const shards = 3
	recs := make([]featurestore.Record, BigVersion)
	for i := range recs {
		recs[i] = featurestore.Record{
			UserID: fmt.Sprintf("%04d-%06d", i%9973, i),
			AsOf:   "2024-01-31",
			Features: map[string]any{
				"months_active":     float64(i % 72),
				"monthly_fee":       float64(i%40) + 0.99,
				"paperless_billing": i%2 == 0,
				"net_service":       []any{"DSL", "Fiber optic", nil}[i%3],
			},
		}
	}
	writeAll(t, s, "2024-01-31", shards, recs)
	publish(t, s, "2024-01-31", "2024-01-31", true)
	// A spread of records, first and last included, rather than all of
	// them, so the suite stays quick against a remote table.
	for i := 0; i < BigVersion; i += BigVersion / 100 {
		assertRecord(t, get(t, s, recs[i].UserID), recs[i])
	}
	assertRecord(t, get(t, s, recs[BigVersion-1].UserID), recs[BigVersion-1])
	if vs := versions(t, s); len(vs) != 1 || vs[0].Records != BigVersion || !vs[0].Complete {
		t.Errorf("Versions = %+v; want %d records, complete", vs, BigVersion)
	}
}
