package serve_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// servedVersion asks /predict for a known user and returns the model
// version that answered, failing the test on any non-200.
func servedVersion(t testing.TB, h http.Handler) int {
	t.Helper()
	rec := do(t, h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	var p prediction
	decodeStrict(t, rec.Body.Bytes(), &p)
	return p.ModelVersion
}

// addAndPromote registers artifact as a new version and promotes it.
func addAndPromote(t testing.TB, f *fixture, artifact []byte) int {
	t.Helper()
	return publish(t, f.env, "2024-01-31", artifact)
}

// publish registers artifact as a new version of model on env and
// promotes it to Production, returning its version.
func publish(t testing.TB, env *servetest.Env, asOf string, artifact []byte) int {
	t.Helper()
	v, err := env.AddVersion(context.Background(), model, asOf, artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Promote(context.Background(), model, v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestReloadWaitsForInterval(t *testing.T) {
	f := newFixture(t)
	if v := servedVersion(t, f.h); v != 1 {
		t.Fatalf("served v%d, want v1", v)
	}
	v2 := addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
	reads := f.env.Registry.ProductionReads()
	for _, step := range []struct {
		advance time.Duration
		want    int
	}{
		{0, 1},
		{10 * time.Second, 1},
		{19 * time.Second, 1},
		{time.Second, v2}, // 30s after the last check
		{time.Second, v2},
	} {
		f.clock.Advance(step.advance)
		for range 5 {
			if v := servedVersion(t, f.h); v != step.want {
				t.Fatalf("after +%v: served v%d, want v%d", step.advance, v, step.want)
			}
		}
	}
	// 25 requests over 31s of fake time: exactly one more registry read.
	if got := f.env.Registry.ProductionReads() - reads; got != 1 {
		t.Errorf("%d registry reads, want 1", got)
	}
}

// TestPromotionUnderLoad promotes a new version while requests are running
// and checks that every request succeeds, that each client sees versions
// only move forward, and that the switch lands within the reload interval.
func TestPromotionUnderLoad(t *testing.T) {
	const interval = 50 * time.Millisecond
	f := newFixture(t, func(_ *fixture, c *serve.Config) {
		c.Clock = time.Now
		c.ReloadInterval = interval
	})
	if v := servedVersion(t, f.h); v != 1 {
		t.Fatalf("served v%d, want v1", v)
	}
	const workers = 8
	var (
		stop      atomic.Bool
		requests  atomic.Int64
		failures  atomic.Int64
		promoted  atomic.Int64 // unix nanos of the promotion
		firstV2   atomic.Int64 // unix nanos of the first v2 answer
		wg        sync.WaitGroup
		sawV2     [workers]atomic.Bool
		backwards atomic.Int64
	)
	deadline := time.Now().Add(5 * time.Second) // bound, whatever happens
	for w := range workers {
		wg.Go(func() {
			last := 0
			for !stop.Load() && time.Now().Before(deadline) {
				rec := do(t, f.h, "POST", "/predict", `{"user_id":"5575-GNVDE"}`)
				requests.Add(1)
				if rec.Code != 200 {
					failures.Add(1)
					continue
				}
				var p prediction
				decodeStrict(t, rec.Body.Bytes(), &p)
				if p.ModelVersion < last {
					backwards.Add(1)
				}
				last = p.ModelVersion
				if p.ModelVersion == 2 {
					firstV2.CompareAndSwap(0, time.Now().UnixNano())
					sawV2[w].Store(true)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	promoted.Store(time.Now().UnixNano())
	addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
	// Let every worker see v2, then stop.
	for time.Now().Before(deadline) {
		all := true
		for i := range sawV2 {
			all = all && sawV2[i].Load()
		}
		if all {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	if failures.Load() != 0 || backwards.Load() != 0 {
		t.Fatalf("%d failed requests, %d version regressions out of %d", failures.Load(), backwards.Load(), requests.Load())
	}
	if firstV2.Load() == 0 {
		t.Fatalf("v2 never served in %d requests", requests.Load())
	}
	lag := time.Duration(firstV2.Load() - promoted.Load())
	t.Logf("%d requests, 0 failures; v2 served %v after promotion (interval %v)", requests.Load(), lag, interval)
	// The interval plus a generous allowance for a loaded 2-core machine.
	if lag > interval+500*time.Millisecond {
		t.Errorf("switch took %v, interval is %v", lag, interval)
	}
	if st := f.svc.Stats(); st.Version != 2 || st.Reloads != 2 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
}

// TestPromotionUnderLoadFakeClock is the deterministic variant: the switch
// happens on the first requests after the interval elapses, never before.
func TestPromotionUnderLoadFakeClock(t *testing.T) {
	f := newFixture(t)
	servedVersion(t, f.h)
	addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
	var wg sync.WaitGroup
	var early, failed atomic.Int64
	for range 4 {
		wg.Go(func() {
			for range 200 {
				rec := do(t, f.h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
				if rec.Code != 200 {
					failed.Add(1)
					continue
				}
				if strings.Contains(rec.Body.String(), `"model_version":2`) {
					early.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 || early.Load() != 0 {
		t.Fatalf("%d failed, %d served v2 before the interval", failed.Load(), early.Load())
	}
	f.clock.Advance(30 * time.Second)
	for range 4 {
		wg.Go(func() {
			for range 50 {
				rec := do(t, f.h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
				// A request racing the swap may still answer v1: allowed.
				if rec.Code != 200 {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if failed.Load() != 0 {
		t.Fatalf("%d failed requests", failed.Load())
	}
	if v := servedVersion(t, f.h); v != 2 {
		t.Fatalf("after the interval: v%d", v)
	}
}

// flakyRegistry can fail Production or report no Production.
type flakyRegistry struct {
	*servetest.Registry
	delay time.Duration
}

func (r *flakyRegistry) Production(ctx context.Context, m string) (registry.Version, error) {
	time.Sleep(r.delay)
	return r.Registry.Production(ctx, m)
}

func TestFailedReloadKeepsServing(t *testing.T) {
	validBut := func(mut func(*servetest.Artifact)) []byte {
		a := servetest.Artifact{Spec: servetest.ChurnSpec(), Weights: make([]float64, 14), Threshold: 0.5}
		mut(&a)
		return mustJSON(t, a)
	}
	tests := []struct {
		name    string
		break_  func(*fixture) // makes the next reload fail
		repair  func(*fixture) // makes it succeed
		wantLog string
	}{
		{"corrupt artifact",
			func(f *fixture) { addAndPromote(t, f, []byte("{not json")) },
			func(f *fixture) { addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5)) },
			"decode artifact"},
		{"threshold out of range",
			func(f *fixture) { addAndPromote(t, f, validBut(func(a *servetest.Artifact) { a.Threshold = 1.5 })) },
			func(f *fixture) { addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5)) },
			"threshold 1.5"},
		{"duplicate feature",
			func(f *fixture) {
				addAndPromote(t, f, validBut(func(a *servetest.Artifact) { a.Spec[1].Name = a.Spec[0].Name }))
			},
			func(f *fixture) { addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5)) },
			"listed twice"},
		{"blob store down",
			func(f *fixture) {
				addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
				f.env.Blobs.SetErr(errors.New("s3: SlowDown"))
			},
			func(f *fixture) { f.env.Blobs.SetErr(nil) },
			"s3: SlowDown"},
		{"registry down",
			func(f *fixture) {
				addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
				f.env.Registry.SetErr(errors.New("dynamodb: throttled"))
			},
			func(f *fixture) { f.env.Registry.SetErr(nil) },
			"dynamodb: throttled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			if v := servedVersion(t, f.h); v != 1 {
				t.Fatalf("v%d", v)
			}
			tc.break_(f)
			f.clock.Advance(30 * time.Second)
			for range 3 {
				if v := servedVersion(t, f.h); v != 1 {
					t.Fatalf("after a failed reload: v%d, want v1", v)
				}
			}
			st := f.svc.Stats()
			if st.Failures != 1 || st.Version != 1 {
				t.Fatalf("stats %+v, want 1 failure serving v1", st)
			}
			if logs := f.logs.String(); !strings.Contains(logs, "model reload failed; serving the previous model") ||
				!strings.Contains(logs, tc.wantLog) {
				t.Fatalf("failure not logged with %q:\n%s", tc.wantLog, logs)
			}
			// No retry before the interval…
			tc.repair(f)
			f.clock.Advance(29 * time.Second)
			if v := servedVersion(t, f.h); v != 1 {
				t.Fatalf("retried early: v%d", v)
			}
			// …and a retry after it.
			f.clock.Advance(time.Second)
			want := len(mustList(t, f))
			if v := servedVersion(t, f.h); v != want {
				t.Fatalf("after repair: v%d, want v%d", v, want)
			}
			if rec := do(t, f.h, "GET", "/ready", ""); rec.Code != 200 {
				t.Fatalf("/ready %d", rec.Code)
			}
		})
	}
}

func TestFailedFirstLoad(t *testing.T) {
	f := newFixture(t, noModel)
	addAndPromote(t, f, []byte("garbage"))
	rec := do(t, f.h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
	if rec.Code != 503 || decodeError(t, rec).Code != serve.CodeNoProductionModel {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if err := f.svc.Reload(t.Context()); err == nil || !strings.Contains(err.Error(), "decode artifact") {
		t.Fatalf("Reload error %v", err)
	}
	addAndPromote(t, f, servetest.NewArtifact(0, 0.5))
	if err := f.svc.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := servedVersion(t, f.h); v != 3 {
		t.Fatalf("v%d", v)
	}
}

func TestRollback(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	steps := []struct {
		name    string
		promote func() int
	}{
		{"v2", func() int { return addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5)) }},
		{"rollback to v1", func() int {
			if err := f.env.Registry.Promote(ctx, model, 1, 2, registry.Decision{Outcome: registry.OutcomeRolledBack}); err != nil {
				t.Fatal(err)
			}
			return 1
		}},
		{"forward to v2 again", func() int {
			if err := f.env.Registry.Promote(ctx, model, 2, 1, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
				t.Fatal(err)
			}
			return 2
		}},
	}
	servedVersion(t, f.h)
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			want := st.promote()
			f.clock.Advance(30 * time.Second)
			if v := servedVersion(t, f.h); v != want {
				t.Fatalf("served v%d, want v%d", v, want)
			}
			rec := do(t, f.h, "GET", "/model", "")
			var info serve.ModelInfo
			decodeStrict(t, rec.Body.Bytes(), &info)
			if info.ModelVersion != want || info.Stage != string(registry.StageProduction) {
				t.Fatalf("/model %+v", info)
			}
		})
	}
	if st := f.svc.Stats(); st.Reloads != 4 || st.Failures != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestRegistryLosesProductionKeepsModel(t *testing.T) {
	f := newFixture(t)
	servedVersion(t, f.h)
	f.env.Registry.SetErr(fmt.Errorf("churn: %w", registry.ErrNoProduction))
	f.clock.Advance(time.Minute)
	if v := servedVersion(t, f.h); v != 1 {
		t.Fatalf("v%d", v)
	}
	if !strings.Contains(f.logs.String(), "keeping the loaded one") {
		t.Error("not logged")
	}
}

func TestNoModelThenPromotion(t *testing.T) {
	f := newFixture(t, noModel)
	for range 10 {
		if rec := do(t, f.h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`); rec.Code != 503 {
			t.Fatalf("status %d", rec.Code)
		}
	}
	if n := f.env.Registry.ProductionReads(); n != 1 {
		t.Errorf("%d registry reads for 10 requests in one interval, want 1", n)
	}
	if err := f.env.Promote(t.Context(), model, 1); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(30 * time.Second)
	if v := servedVersion(t, f.h); v != 1 {
		t.Fatalf("v%d", v)
	}
	if st := f.svc.Stats(); st.Failures != 0 {
		t.Errorf("no Production yet counted as a failure: %+v", st)
	}
}

// TestFirstLoadIsShared checks that concurrent first requests wait for one
// shared load instead of each reading the registry or answering 503.
func TestFirstLoadIsShared(t *testing.T) {
	f := newFixture(t)
	cfg := f.cfg
	slow := &flakyRegistry{Registry: f.env.Registry, delay: 50 * time.Millisecond}
	cfg.Registry = slow
	svc, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := svc.Handler()
	reads := f.env.Registry.ProductionReads()
	var wg sync.WaitGroup
	var non200 atomic.Int64
	for range 16 {
		wg.Go(func() {
			if rec := do(t, h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`); rec.Code != 200 {
				non200.Add(1)
			}
		})
	}
	wg.Wait()
	if non200.Load() != 0 {
		t.Fatalf("%d requests failed", non200.Load())
	}
	if n := f.env.Registry.ProductionReads() - reads; n != 1 {
		t.Fatalf("%d registry reads, want 1", n)
	}
	if n := f.env.Blobs.Gets(); n != 1 {
		t.Fatalf("%d artifact reads, want 1", n)
	}
}

// gatedFeatures blocks Get for one user until released.
type gatedFeatures struct {
	*servetest.Features
	user    string
	entered chan struct{}
	release chan struct{}
}

func (g *gatedFeatures) Get(ctx context.Context, id string) (featurestore.Record, error) {
	if id == g.user {
		close(g.entered)
		<-g.release
	}
	return g.Features.Get(ctx, id)
}

// gatedService is f's service on features whose Get for 3668-QPYBK blocks
// until the gate is released, to hold a request in flight.
func gatedService(t *testing.T, f *fixture) (*serve.Service, *gatedFeatures) {
	t.Helper()
	gate := &gatedFeatures{Features: f.env.Features, user: "3668-QPYBK",
		entered: make(chan struct{}), release: make(chan struct{})}
	cfg := f.cfg
	cfg.Features = gate
	svc, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc, gate
}

func TestInFlightRequestKeepsItsModel(t *testing.T) {
	f := newFixture(t)
	svc, gate := gatedService(t, f)
	h := svc.Handler()
	slowDone := make(chan int)
	go func() {
		rec := do(t, h, "POST", "/predict", `{"user_id":"3668-QPYBK"}`)
		var p prediction
		if rec.Code == 200 {
			decodeStrict(t, rec.Body.Bytes(), &p)
		}
		slowDone <- p.ModelVersion
	}()
	<-gate.entered // the slow request holds v1
	addAndPromote(t, f, servetest.NewArtifact(0.5, 0.5))
	if err := svc.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if v := servedVersion(t, h); v != 2 {
		t.Fatalf("new request served v%d, want v2", v)
	}
	close(gate.release)
	if v := <-slowDone; v != 1 {
		t.Fatalf("in-flight request answered with v%d, want the v1 it started with", v)
	}
}

func mustList(t testing.TB, f *fixture) []registry.Version {
	t.Helper()
	vs, err := f.env.Registry.List(context.Background(), model)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}
