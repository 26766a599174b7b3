package serve_test

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
	"github.com/churnops/churnops/internal/training"
)

// preparedPair serves env's users twice: reading the store directly, and
// through a featurestore.Cache, whose entries let the service prepare each
// record once (encoded row and features_used) instead of per request.
type preparedPair struct {
	env           *servetest.Env
	clock         *fakeClock
	cache         *featurestore.Cache
	plain, cached http.Handler
	ids           []string
}

func newPreparedPair(t *testing.T, env *servetest.Env, users []featurestore.Record, loader serve.Loader) *preparedPair {
	t.Helper()
	pp := &preparedPair{env: env, clock: newClock(), cache: featurestore.NewCache(env.Features, time.Hour, 10_000)}
	service := func(features serve.FeatureReader) http.Handler {
		cfg := env.Config(model)
		cfg.Features = features
		cfg.Loader = loader
		cfg.Logger = slog.New(slog.DiscardHandler)
		cfg.Clock = pp.clock.Now
		cfg.ReloadInterval = time.Second
		svc, err := serve.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return svc.Handler()
	}
	pp.plain, pp.cached = service(env.Features), service(pp.cache)
	pp.ids = []string{"no-such-user"}
	for _, u := range users {
		pp.ids = append(pp.ids, u.UserID)
	}
	return pp
}

// ask asks h for id's prediction with its features_used, which the cached
// service renders once per record and model.
func (pp *preparedPair) ask(t *testing.T, h http.Handler, id string) string {
	return pp.askAt(t, h, "/predict/details", fmt.Sprintf(`{"user_id":%q,"include":["features"]}`, id))
}

func (pp *preparedPair) askAt(t *testing.T, h http.Handler, path, body string) string {
	rec := do(t, h, "POST", path, body)
	return fmt.Sprint(rec.Code, " ", rec.Body.String())
}

// compare checks every user's answer from both services, twice and
// concurrently (the first read of a user prepares its record, the second
// uses the memo), one by one and in batches.
func (pp *preparedPair) compare(t *testing.T, what string) {
	t.Helper()
	for range 2 {
		var wg sync.WaitGroup
		errs := make(chan string, len(pp.ids))
		for _, id := range pp.ids {
			wg.Go(func() {
				if got, want := pp.ask(t, pp.cached, id), pp.ask(t, pp.plain, id); got != want {
					errs <- fmt.Sprintf("%s: %s\ncached: %s\nplain:  %s", what, id, got, want)
				}
				q := fmt.Sprintf(`{"user_id":%q}`, id) // the default answer, without features
				if got, want := pp.askAt(t, pp.cached, "/predict", q), pp.askAt(t, pp.plain, "/predict", q); got != want {
					errs <- fmt.Sprintf("%s: %s by default\ncached: %s\nplain:  %s", what, id, got, want)
				}
			})
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Fatal(e)
		}
		// Batches take the same path, an unknown user included.
		for lo := 0; lo < len(pp.ids); lo += 50 {
			for _, inc := range [][]string{{}, {"features"}} {
				q, _ := json.Marshal(map[string][]string{"user_ids": pp.ids[lo:min(lo+50, len(pp.ids))], "include": inc})
				got := do(t, pp.cached, "POST", "/predict/details", string(q))
				want := do(t, pp.plain, "POST", "/predict/details", string(q))
				if got.Code != http.StatusOK || got.Body.String() != want.Body.String() {
					t.Fatalf("%s: batch from %d, include %v: %d\ncached: %s\nplain:  %s", what, lo, inc, got.Code, got.Body, want.Body)
				}
			}
		}
	}
}

// promote promotes artifact and waits until both services serve it.
func (pp *preparedPair) promote(t *testing.T, asOf string, artifact []byte) int {
	t.Helper()
	v := publish(t, pp.env, asOf, artifact)
	pp.clock.Advance(time.Minute)
	for _, h := range []http.Handler{pp.plain, pp.cached} { // the check runs in the background
		deadline := time.Now().Add(5 * time.Second)
		for servedVersion(t, h) != v {
			if time.Now().After(deadline) {
				t.Fatalf("v%d not served after its promotion", v)
			}
			time.Sleep(time.Millisecond)
		}
	}
	return v
}

// TestPreparedRecordsMatchPlainReads: with the real model, answers through
// prepared records are byte for byte those of plain reads, before and after
// a promotion, and a write through the cache is served at once.
func TestPreparedRecordsMatchPlainReads(t *testing.T) {
	users := append(knownUsers(), servetest.Users(300, 9, "2024-01-31")...)
	pp := newPreparedPair(t, servetest.NewEnv(users), users, serve.GBDTLoader(training.Spec()))
	v1, _ := trainTiny(t, training.Spec(), users, 30)
	pp.promote(t, "2024-01-31", v1)
	pp.compare(t, "v1")
	v2, _ := trainTiny(t, training.Spec(), users[:150], 10)
	pp.promote(t, "2024-02-29", v2)
	pp.compare(t, "v2")

	// A new month is published: the cache serves it at once.
	next := slices.Clone(users[1:]) // the first user left
	changed := knownUsers()[1]
	changed.Features["monthly_fee"] = 99.5
	next[0] = changed
	pp.env.Features.Upsert("2024-02-29", next...)
	got := pp.ask(t, pp.cached, changed.UserID)
	if !strings.Contains(got, `"monthly_fee":99.5`) || !strings.Contains(got, `"as_of":"2024-02-29"`) {
		t.Fatalf("after a new month is published: %s", got)
	}
	if got := pp.ask(t, pp.cached, users[0].UserID); !strings.HasPrefix(got, "404 ") {
		t.Fatalf("a user absent from the new month: %s, want 404", got)
	}
	pp.compare(t, "after a new month")
}

// TestPreparedRecordsFollowTheModel: a record prepared for one model is not
// used for the next, whose feature order (and so row and features_used)
// differs.
func TestPreparedRecordsFollowTheModel(t *testing.T) {
	users := append(knownUsers(), servetest.Users(200, 4, "2024-01-31")...)
	pp := newPreparedPair(t, servetest.NewEnv(users), users, servetest.Load)
	pp.promote(t, "2024-01-31", servetest.NewArtifact(-0.5, 0.5))
	pp.compare(t, "v1")

	var a servetest.Artifact
	if err := json.Unmarshal(servetest.NewArtifact(0.3, 0.5), &a); err != nil {
		t.Fatal(err)
	}
	slices.Reverse(a.Spec)
	for i := range a.Weights {
		a.Weights[i] = 0.1 * float64(i%3-1)
	}
	reversed, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	pp.promote(t, "2024-02-29", reversed)
	pp.compare(t, "v2, features reversed")
	if got := pp.ask(t, pp.cached, users[0].UserID); !strings.Contains(got, `"features_used":{"`+a.Spec[0].Name+`"`) {
		t.Fatalf("features_used not in the new model's order: %s", got)
	}
}
