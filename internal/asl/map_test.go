package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// shardIn is what the fixtures' ItemSelector passes to an iteration.
type shardIn struct {
	Index int             `json:"index"`
	Shard json.RawMessage `json:"shard"`
	AsOf  string          `json:"as_of"`
	RunID string          `json:"run_id"`
}

// shards returns {"shards": [...], "as_of": ...} with n items {"id": i},
// plus extra fields.
func shards(n int, extra string) string {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"id": %d}`, i)
	}
	if extra != "" {
		extra = ", " + extra
	}
	return fmt.Sprintf(`{"shards": [%s], "as_of": "2024-01-31"%s}`, strings.Join(items, ", "), extra)
}

// outputOf decodes an execution's output.
func outputOf(tb testing.TB, ex *asl.Execution, v any) {
	tb.Helper()
	if err := json.Unmarshal(ex.Output, v); err != nil {
		tb.Fatalf("output %s: %v", ex.Output, err)
	}
}

// mapEvents returns the events of a Map Run (and its iterations), in order.
func mapEvents(h []asl.Event, types ...asl.EventType) []asl.Event {
	var out []asl.Event
	for _, e := range h {
		if e.Map != nil && slices.Contains(types, e.Type) {
			out = append(out, e)
		}
	}
	return out
}

// TestMapResultsInItemOrder: iterations finish in random order, results
// come back in item order, INLINE and DISTRIBUTED alike.
func TestMapResultsInItemOrder(t *testing.T) {
	const n = 40
	tests := []struct {
		name    string
		fixture string
		subs    map[string]string
		input   string
		result  string // where the results are in the output
	}{
		{"inline", "map_inline.asl.json", map[string]string{"MaxConcurrency": "0"}, shards(n, ""), "results"},
		{"inline, MaxConcurrency 7", "map_inline.asl.json", map[string]string{"MaxConcurrency": "7"}, shards(n, ""), "results"},
		{"distributed", "map_distributed.asl.json", map[string]string{"Tolerance": ""}, shards(n, `"max_concurrency": 0`), "shards_built"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var order []int
			var mu sync.Mutex
			h := func(_ context.Context, in shardIn) (shardIn, error) {
				time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) // real time: finish in any order
				mu.Lock()
				order = append(order, in.Index)
				mu.Unlock()
				return in, nil
			}
			r, _ := newRunner(load(t, tc.fixture, tc.subs), asl.Handlers{"score": asl.NewHandler(h), "build": asl.NewHandler(h)})
			r.MapWorkers = 8
			ex := run(t, r, tc.input)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			type result struct {
				shardIn
				Built shardIn `json:"built"` // distributed: the Pass state's wrapping
			}
			var out struct {
				Results     []result `json:"results"`
				ShardsBuilt []result `json:"shards_built"`
			}
			outputOf(t, ex, &out)
			got := out.Results
			if tc.result == "shards_built" {
				got = out.ShardsBuilt
			}
			if len(got) != n {
				t.Fatalf("%d results, want %d", len(got), n)
			}
			for i, res := range got {
				if res.Built.Shard != nil {
					res.shardIn = res.Built
				}
				if res.Index != i || string(res.Shard) != fmt.Sprintf(`{"id":%d}`, i) {
					t.Fatalf("result %d is index %d shard %s: results are not in item order", i, res.Index, res.Shard)
				}
			}
			if slices.IsSorted(order) {
				t.Logf("the iterations happened to finish in item order: %v", order)
			}
		})
	}
}

// inFlight counts concurrent calls and their maximum. A call waits (up to
// a deadline) until want calls are in flight, so a run that allows want
// reaches it, and one that allows more shows it.
type inFlight struct {
	now, max atomic.Int64
	calls    atomic.Int64
	want     int64
}

func (f *inFlight) handle(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
	f.calls.Add(1)
	n := f.now.Add(1)
	defer f.now.Add(-1)
	for {
		if m := f.max.Load(); n <= m || f.max.CompareAndSwap(m, n) {
			break
		}
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for f.now.Load() < f.want && time.Now().Before(deadline) {
		time.Sleep(100 * time.Microsecond)
	}
	time.Sleep(time.Millisecond) // overlap with the next ones
	return in, nil
}

func TestMapConcurrencyBound(t *testing.T) {
	cores := runtime.GOMAXPROCS(0)
	tests := []struct {
		name           string
		fixture        string
		maxConcurrency string
		mapWorkers     int
		items          int
		want           int64
	}{
		{"MaxConcurrency below the local bound", "map_inline.asl.json", "3", 8, 40, 3},
		{"unbounded Map: the local bound", "map_inline.asl.json", "0", 5, 40, 5},
		{"MaxConcurrency above the local bound", "map_inline.asl.json", "10", 4, 40, 4},
		{"unbounded Map, default local bound: the cores", "map_inline.asl.json", "0", 0, 40, int64(cores)},
		{"fewer items than either bound", "map_inline.asl.json", "0", 8, 3, 3},
		{"MaxConcurrency 1 runs one at a time", "map_inline.asl.json", "1", 8, 10, 1},
		{"MaxConcurrencyPath", "map_distributed.asl.json", "2", 8, 20, 2},
		{"MaxConcurrencyPath 0 is unbounded", "map_distributed.asl.json", "0", 6, 20, 6},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &inFlight{want: tc.want}
			m := load(t, tc.fixture, map[string]string{"MaxConcurrency": tc.maxConcurrency, "Tolerance": ""})
			r, _ := newRunner(m, asl.Handlers{"score": f.handle, "build": f.handle})
			r.MapWorkers = tc.mapWorkers
			ex := run(t, r, shards(tc.items, `"max_concurrency": `+tc.maxConcurrency))
			assertStatus(t, ex, asl.StatusSucceeded, "")
			if got := f.max.Load(); got != tc.want {
				t.Errorf("at most %d iterations in flight, want %d", got, tc.want)
			}
			if got := f.calls.Load(); got != int64(tc.items) {
				t.Errorf("%d calls, want one per item (%d)", got, tc.items)
			}
		})
	}
}

// failing returns its input, but fails the items whose "index" is in fail
// with errorName.
func failing(errorName string, fail ...int) asl.Handler {
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var item struct{ Index int }
		if err := json.Unmarshal(in, &item); err != nil {
			return nil, err
		}
		if slices.Contains(fail, item.Index) {
			return nil, namedError{name: errorName, msg: fmt.Sprintf("shard %d failed", item.Index)}
		}
		return in, nil
	}
}

// namedError is an error with the name Step Functions sees.
type namedError struct{ name, msg string }

func (e namedError) Error() string     { return e.msg }
func (e namedError) ErrorName() string { return e.name }

func TestMapToleratedFailures(t *testing.T) {
	tests := []struct {
		name      string
		tolerance string
		input     string
		fail      []int
		wantError string
	}{
		{"no tolerance: one failure fails the Map", "", "", []int{4}, asl.ErrorExceedToleratedFailureThreshold},
		{"no tolerance, no failure", "", "", nil, ""},
		{"count 2, 2 failed: at the threshold", `"ToleratedFailureCount": 2,`, "", []int{1, 7}, ""},
		{"count 2, 3 failed: over", `"ToleratedFailureCount": 2,`, "", []int{1, 7, 8}, asl.ErrorExceedToleratedFailureThreshold},
		{"count 0 tolerates nothing", `"ToleratedFailureCount": 0,`, "", []int{9}, asl.ErrorExceedToleratedFailureThreshold},
		{"20%, 2 of 10 failed: at the threshold", `"ToleratedFailurePercentage": 20,`, "", []int{0, 9}, ""},
		{"20%, 3 of 10 failed: over", `"ToleratedFailurePercentage": 20,`, "", []int{0, 5, 9}, asl.ErrorExceedToleratedFailureThreshold},
		{"25%, 3 of 10 failed (30%): over", `"ToleratedFailurePercentage": 25,`, "", []int{2, 3, 4}, asl.ErrorExceedToleratedFailureThreshold},
		{"100% tolerates all", `"ToleratedFailurePercentage": 100,`, "", []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, ""},
		{"CountPath", `"ToleratedFailureCountPath": "$.tolerate",`, `"tolerate": 3`, []int{1, 2, 3}, ""},
		{"CountPath, over", `"ToleratedFailureCountPath": "$.tolerate",`, `"tolerate": 3`, []int{1, 2, 3, 4}, asl.ErrorExceedToleratedFailureThreshold},
		{"PercentagePath", `"ToleratedFailurePercentagePath": "$.pct",`, `"pct": 10.5`, []int{6}, ""},
		{"PercentagePath not a number", `"ToleratedFailurePercentagePath": "$.pct",`, `"pct": "10"`, nil, asl.ErrorRuntime},
		{"both set: either exceeded fails", `"ToleratedFailureCount": 5, "ToleratedFailurePercentage": 10,`, "", []int{3, 4}, asl.ErrorExceedToleratedFailureThreshold},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := load(t, "map_distributed.asl.json", map[string]string{"Tolerance": tc.tolerance})
			r, _ := newRunner(m, asl.Handlers{"build": failing("ShardError", tc.fail...)})
			extra := `"max_concurrency": 0`
			if tc.input != "" {
				extra += ", " + tc.input
			}
			ex := run(t, r, shards(10, extra))
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
				return
			}
			assertStatus(t, ex, asl.StatusSucceeded, "")
			var out struct {
				Built []map[string]any `json:"shards_built"`
			}
			outputOf(t, ex, &out)
			for i, res := range out.Built {
				if slices.Contains(tc.fail, i) {
					// A tolerated failure is its child execution's record.
					if res["Status"] != "FAILED" || res["Error"] != "ShardError" || res["Cause"] != fmt.Sprintf(`{"errorMessage":"shard %d failed","errorType":"ShardError"}`, i) {
						t.Errorf("result %d = %v, want the failed child's record", i, res)
					}
					continue
				}
				if _, ok := res["built"]; !ok {
					t.Errorf("result %d = %v, want the iteration's output", i, res)
				}
			}
		})
	}
}

func TestMapInlineFailsWithTheItemsError(t *testing.T) {
	m := load(t, "map_inline.asl.json", map[string]string{"MaxConcurrency": "1"})
	r, _ := newRunner(m, asl.Handlers{"score": failing("ShardError", 2, 5)})
	ex := run(t, r, shards(8, ""))
	assertStatus(t, ex, asl.StatusFailed, "ShardError")
	if !strings.Contains(ex.Cause, "shard 2 failed") {
		t.Errorf("cause %q, want the first failed item's", ex.Cause)
	}
	// MaxConcurrency 1: items after the failed one never start.
	if started := mapEvents(ex.History, asl.EventMapIterationStarted); len(started) != 3 {
		t.Errorf("%d iterations started, want 3 (items 0, 1 and the failing 2)", len(started))
	}
}

func TestMapRetryThenCatch(t *testing.T) {
	tests := []struct {
		name       string
		mode       string
		flaky      int // item 1 raises Flaky this many times first
		fail       string
		wantRuns   int
		wantCaught string // the error the Map's Catch caught, "" if none
	}{
		{"a Flaky item retries the whole Map", "INLINE", 1, "", 2, ""},
		{"retries exhausted, then caught", "INLINE", 10, "", 3, "Flaky"},
		{"an item's error inside an inline Map is caught by the Map's Catch", "INLINE", 0, "ShardError", 1, "ShardError"},
		{"distributed: the threshold error is caught", "DISTRIBUTED", 0, "ShardError", 1, asl.ErrorExceedToleratedFailureThreshold},
		{"distributed: a Flaky item fails the Map Run, not retried", "DISTRIBUTED", 1, "", 1, asl.ErrorExceedToleratedFailureThreshold},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			et := ""
			if tc.mode == "DISTRIBUTED" {
				et = `, "ExecutionType": "STANDARD"`
			}
			m := load(t, "map_retry_catch.asl.json", map[string]string{"Mode": tc.mode, "ExecutionType": et})
			var flaky atomic.Int64
			h := asl.NewHandler(func(_ context.Context, in struct {
				ID int `json:"id"`
			}) (any, error) {
				switch {
				case in.ID == 1 && flaky.Add(1) <= int64(tc.flaky):
					return nil, namedError{"Flaky", "try again"}
				case in.ID == 1 && tc.fail != "":
					return nil, namedError{tc.fail, "bad shard"}
				}
				return in, nil
			})
			r, clock := newRunner(m, asl.Handlers{"shard": h})
			ex := run(t, r, shards(3, ""))
			assertStatus(t, ex, asl.StatusSucceeded, "")
			if got := len(findEvents(ex.History, asl.EventMapRunStarted)); got != tc.wantRuns {
				t.Errorf("%d Map Runs, want %d", got, tc.wantRuns)
			}
			var wantSleeps []time.Duration
			for i := range tc.wantRuns - 1 {
				wantSleeps = append(wantSleeps, time.Duration(3<<i)*time.Second)
			}
			if got := clock.Sleeps(); fmt.Sprint(got) != fmt.Sprint(wantSleeps) {
				t.Errorf("retry delays %v, want %v", got, wantSleeps)
			}
			var out struct {
				Done     []struct{ ID int } `json:"shards_done"`
				Error    *struct{ Error string }
				Recovery string
			}
			outputOf(t, ex, &out)
			if tc.wantCaught == "" {
				if out.Error != nil || len(out.Done) != 3 || out.Done[2].ID != 2 {
					t.Errorf("output %s, want the Map's results and no error", ex.Output)
				}
				return
			}
			if out.Error == nil || out.Error.Error != tc.wantCaught || out.Recovery != "recovered" {
				t.Errorf("output %s, want %s caught into $.error and Recover run", ex.Output, tc.wantCaught)
			}
			caught := findEvents(ex.History, asl.EventStateCaught)
			if len(caught) != 1 || caught[0].State != "Shards" || caught[0].Next != "Recover" {
				t.Errorf("caught events %+v, want one by Shards to Recover", caught)
			}
		})
	}
}

func TestMapContextObject(t *testing.T) {
	m := load(t, "map_distributed.asl.json", map[string]string{"Tolerance": ""})
	r, _ := newRunner(m, asl.Handlers{"build": asl.NewHandler(func(_ context.Context, in shardIn) (shardIn, error) { return in, nil })})
	ex := run(t, r, shards(2, `"max_concurrency": 1`))
	assertStatus(t, ex, asl.StatusSucceeded, "")
	var out struct {
		Built []struct {
			Built      shardIn         `json:"built"`
			Child      string          `json:"child"`
			ChildInput json.RawMessage `json:"child_input"`
		} `json:"shards_built"`
	}
	outputOf(t, ex, &out)
	runs := findEvents(ex.History, asl.EventMapRunStarted)
	if len(runs) != 1 || !strings.HasPrefix(runs[0].Map.RunARN, "arn:aws:states:local:000000000000:mapRun:retrain/Shards:") {
		t.Fatalf("Map Run events %+v, want one named after the machine and the Label", runs)
	}
	runID := runs[0].Map.RunARN[strings.LastIndexByte(runs[0].Map.RunARN, ':')+1:]
	for i, b := range out.Built {
		// ItemSelector runs in the parent: $$.Execution there is the execution's.
		if b.Built.RunID != ex.ID {
			t.Errorf("item %d: run_id %q, want the parent execution %q", i, b.Built.RunID, ex.ID)
		}
		// Inside a DISTRIBUTED iteration, $$.Execution is the child's.
		want := fmt.Sprintf("arn:aws:states:local:000000000000:execution:retrain/Shards:%s-%d", runID, i)
		if b.Child != want {
			t.Errorf("item %d: $$.Execution.Id %q, want the child's %q", i, b.Child, want)
		}
		assertJSON(t, b.ChildInput, fmt.Sprintf(`{"index": %d, "shard": {"id": %d}, "run_id": %q}`, i, i, ex.ID))
	}
}

func TestMapNested(t *testing.T) {
	m := load(t, "map_nested.asl.json", nil)
	r, _ := newRunner(m, asl.Handlers{"member": asl.NewHandler(func(_ context.Context, in struct {
		Group  int    `json:"group"`
		Member string `json:"member"`
	}) (string, error) {
		return fmt.Sprintf("%d/%s", in.Group, in.Member), nil
	})})
	r.MapWorkers = 3
	ex := run(t, r, `{"groups": [{"members": ["a", "b"]}, {"members": []}, {"members": ["c", "d", "e"]}]}`)
	assertStatus(t, ex, asl.StatusSucceeded, "")
	assertJSON(t, ex.Output, `[["0/a", "0/b"], [], ["2/c", "2/d", "2/e"]]`)
	for _, e := range ex.History {
		if e.State != "Member" {
			continue
		}
		if e.Map == nil || e.Map.State != "Members" || e.Map.Parent == nil || e.Map.Parent.State != "Groups" {
			t.Fatalf("event %s of Member: Map %+v, want the Members iteration inside a Groups iteration", e.Type, e.Map)
		}
	}
	if got := len(findEvents(ex.History, asl.EventMapRunStarted)); got != 4 {
		t.Errorf("%d Map Runs, want 4 (Groups and one Members per group)", got)
	}
}

// TestMapCancellation: when an item fails an INLINE Map, the items not
// started never start and the running ones see their context cancelled.
func TestMapCancellation(t *testing.T) {
	m := load(t, "map_inline.asl.json", map[string]string{"MaxConcurrency": "3"})
	var running atomic.Int64
	var mu sync.Mutex
	var started []int
	var handlers sync.WaitGroup // the executor does not wait for a cancelled handler to return
	cancelled := map[int]bool{}
	h := asl.NewHandler(func(ctx context.Context, in shardIn) (shardIn, error) {
		handlers.Add(1)
		defer handlers.Done()
		mu.Lock()
		started = append(started, in.Index)
		mu.Unlock()
		running.Add(1)
		if in.Index == 0 {
			for deadline := time.Now().Add(time.Second); running.Load() < 3 && time.Now().Before(deadline); {
				time.Sleep(100 * time.Microsecond)
			}
			return in, namedError{"ShardError", "shard 0 is corrupt"}
		}
		select {
		case <-ctx.Done():
			mu.Lock()
			cancelled[in.Index] = true
			mu.Unlock()
			return in, ctx.Err()
		case <-time.After(5 * time.Second):
			return in, nil
		}
	})
	r, _ := newRunner(m, asl.Handlers{"score": h})
	r.MapWorkers = 8
	begin := time.Now()
	ex := run(t, r, shards(10, ""))
	assertStatus(t, ex, asl.StatusFailed, "ShardError")
	if time.Since(begin) > 4*time.Second {
		t.Errorf("the Map waited %v for the cancelled iterations", time.Since(begin))
	}
	handlers.Wait()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(started)
	if !slices.Equal(started, []int{0, 1, 2}) {
		t.Errorf("items %v started, want only the first 3", started)
	}
	if !cancelled[1] || !cancelled[2] {
		t.Errorf("cancelled %v, want items 1 and 2 to see ctx.Done()", cancelled)
	}
	var aborted []int
	for _, e := range mapEvents(ex.History, asl.EventMapIterationAborted) {
		aborted = append(aborted, e.Map.Index)
	}
	slices.Sort(aborted)
	if !slices.Equal(aborted, []int{1, 2}) {
		t.Errorf("aborted iterations %v, want [1 2]", aborted)
	}
}

func TestMapExecutionAbort(t *testing.T) {
	m := load(t, "map_inline.asl.json", map[string]string{"MaxConcurrency": "0"})
	ctx, cancel := context.WithCancel(context.Background())
	var inFlight atomic.Int64
	h := func(hctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		if inFlight.Add(1) == 2 {
			cancel()
		}
		<-hctx.Done()
		return nil, hctx.Err()
	}
	r, _ := newRunner(m, asl.Handlers{"score": h})
	r.MapWorkers = 2
	ex, err := r.Run(ctx, "aborted", json.RawMessage(shards(6, "")))
	if !errors.Is(err, context.Canceled) || ex == nil || ex.Status != asl.StatusAborted {
		t.Fatalf("Run = %+v, %v; want ABORTED with context.Canceled", ex, err)
	}
	if got := len(mapEvents(ex.History, asl.EventMapRunFailed, asl.EventMapRunSucceeded)); got != 0 {
		t.Errorf("%d Map Run end events, want none for an aborted execution", got)
	}
}

// TestMapProgressEvents: an Observer can show "n of K items done".
func TestMapProgressEvents(t *testing.T) {
	const n = 12
	m := load(t, "map_distributed.asl.json", map[string]string{"Tolerance": `"ToleratedFailureCount": 1,`})
	var mu sync.Mutex
	var seen []asl.Event
	r, _ := newRunner(m, asl.Handlers{"build": failing("ShardError", 5)})
	r.MapWorkers = 4
	r.Observer = func(e asl.Event) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, e)
	}
	ex := run(t, r, shards(n, `"max_concurrency": 0`))
	assertStatus(t, ex, asl.StatusSucceeded, "")
	if len(seen) != len(ex.History) {
		t.Fatalf("the Observer saw %d events, the history has %d", len(seen), len(ex.History))
	}
	done, lastDone := map[int]asl.EventType{}, 0
	var started bool
	for i, e := range seen {
		if e.ID != i+1 {
			t.Fatalf("event %d has ID %d", i, e.ID)
		}
		switch e.Type {
		case asl.EventMapRunStarted:
			started = true
			if e.Map.Items != n || e.Map.Index != -1 {
				t.Errorf("MapRunStarted %+v, want %d items", e.Map, n)
			}
		case asl.EventMapIterationSucceeded, asl.EventMapIterationFailed:
			if !started {
				t.Fatal("an iteration ended before MapRunStarted")
			}
			if _, dup := done[e.Map.Index]; dup {
				t.Errorf("item %d ended twice", e.Map.Index)
			}
			done[e.Map.Index] = e.Type
			if now := e.Map.Succeeded + e.Map.Failed; now != lastDone+1 {
				t.Errorf("%s of item %d: %d of %d done, previous event had %d", e.Type, e.Map.Index, now, n, lastDone)
			} else {
				lastDone = now
			}
		case asl.EventMapRunSucceeded:
			if e.Map.Succeeded != n-1 || e.Map.Failed != 1 {
				t.Errorf("MapRunSucceeded counts %+v, want %d succeeded and 1 failed", e.Map, n-1)
			}
		}
	}
	if len(done) != n || done[5] != asl.EventMapIterationFailed {
		t.Errorf("iteration ends %v, want all %d items, item 5 failed", done, n)
	}
}

func TestMapTransitionsPerIteration(t *testing.T) {
	def := `{"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "A", "States": {
		"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "C"}, "C": {"Type": "Choice",
		"Choices": [{"Variable": "$.loop", "BooleanEquals": true, "Next": "A"}], "Default": "D"}, "D": {"Type": "Succeed"}}}, "End": true}}}`
	m, err := asl.Parse([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(m, nil)
	r.MaxTransitions = 5
	// Every iteration has its own budget: 30 items of 4 transitions each pass.
	items := strings.Repeat(`{"loop": false}, `, 29) + `{"loop": false}`
	assertStatus(t, run(t, r, "["+items+"]"), asl.StatusSucceeded, "")
	// An endless loop in one iteration is still caught, and fails the run.
	assertStatus(t, run(t, r, `[{"loop": false}, {"loop": true}]`), asl.StatusFailed, asl.ErrorMaxTransitions)
}

func TestMapMachineTimeout(t *testing.T) {
	def := `{"StartAt": "M", "TimeoutSeconds": 60, "States": {"M": {"Type": "Map", "ItemProcessor": {"StartAt": "W", "States": {
		"W": {"Type": "Wait", "Seconds": 45, "End": true}}}, "MaxConcurrency": 1, "End": true}}}`
	m, err := asl.Parse([]byte(def), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := newRunner(m, nil)
	ex := run(t, r, `[1, 2, 3]`)
	assertStatus(t, ex, asl.StatusTimedOut, asl.ErrorTimeout)
}

func TestMapItemsPath(t *testing.T) {
	tests := []struct {
		name, input, want, wantError string
	}{
		{"empty array", `{"shards": []}`, `{"shards": [], "results": []}`, ""},
		{"not an array", `{"shards": {"id": 1}}`, "", asl.ErrorRuntime},
		{"missing", `{}`, "", asl.ErrorRuntime},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(load(t, "map_inline.asl.json", map[string]string{"MaxConcurrency": "0"}), asl.Handlers{"score": (&static{out: `{}`}).handle})
			ex := run(t, r, tc.input)
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
				return
			}
			assertStatus(t, ex, asl.StatusSucceeded, "")
			assertJSON(t, ex.Output, tc.want)
		})
	}
}
