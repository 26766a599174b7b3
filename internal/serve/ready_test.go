package serve_test

import (
	"errors"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
)

// TestReadyTellsWhatPredictCanDo (#13 defect 11): behind the read-through
// cache `churnops serve` uses, /ready must still answer for the store
// /predict depends on. It said 200 from a cached probe while every /predict
// of an uncached user failed.
func TestReadyTellsWhatPredictCanDo(t *testing.T) {
	f := newFixture(t, func(f *fixture, cfg *serve.Config) {
		cfg.Features = featurestore.NewCache(f.env.Features, time.Minute, 1000)
	})
	user := knownUsers()[0].UserID
	if rec := do(t, f.h, "GET", "/ready", ""); rec.Code != 200 {
		t.Fatalf("/ready with the store up: %d %s", rec.Code, rec.Body)
	}
	f.env.Features.SetErr(errors.New("features unreadable"))
	predict := do(t, f.h, "POST", "/predict", `{"user_id":"`+user+`"}`)
	ready := do(t, f.h, "GET", "/ready", "")
	if predict.Code != 500 {
		t.Fatalf("/predict with the store down: %d %s, want 500", predict.Code, predict.Body)
	}
	if ready.Code != 503 || decodeError(t, ready).Code != serve.CodeNotReady {
		t.Errorf("/ready says %d %s while /predict fails: want 503 %s", ready.Code, ready.Body, serve.CodeNotReady)
	}
}
