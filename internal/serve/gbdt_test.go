package serve_test

import (
	"context"
	"log/slog"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
	"github.com/churnops/churnops/internal/training"
)

// trainTiny trains a small real model over spec on the users' features
// with a synthetic label, and returns its artifact bytes.
func trainTiny(t testing.TB, spec []gbdt.Feature, users []featurestore.Record, rounds int) ([]byte, *gbdt.Model) {
	t.Helper()
	d := gbdt.Dataset{Features: spec, Cols: make([][]float64, len(spec))}
	for j := range spec {
		d.Cols[j] = make([]float64, len(users))
	}
	r := rand.New(rand.NewPCG(1, 2))
	row := make([]float64, len(spec))
	for i, u := range users {
		if err := gbdt.Encode(spec, u.Features, row); err != nil {
			t.Fatal(err)
		}
		for j := range spec {
			d.Cols[j][i] = row[j]
		}
		churn := u.Features["months_active"].(float64) < 12 || r.Float64() < 0.1
		d.Label = append(d.Label, map[bool]float64{true: 1, false: 0}[churn])
	}
	p := training.DefaultParams().GBDT // the shape churnops trains
	p.Rounds, p.EarlyStoppingRounds = rounds, 0
	m, err := gbdt.Train(d, p)
	if err != nil {
		t.Fatal(err)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b, m
}

// TestGBDTLoader serves a real gbdt artifact through GBDTLoader.
func TestGBDTLoader(t *testing.T) {
	ctx := context.Background()
	users := append(knownUsers(), servetest.Users(400, 5, "2024-01-31")...)
	env := servetest.NewEnv(users)
	artifact, m := trainTiny(t, training.Spec(), users, 20)
	v, err := env.AddVersion(ctx, model, "2024-01-31", artifact)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Promote(ctx, model, v); err != nil {
		t.Fatal(err)
	}
	clock := newClock()
	cfg := env.Config(model)
	cfg.Loader = serve.GBDTLoader(training.Spec())
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.Clock = clock.Now
	svc, err := serve.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := svc.Handler()

	t.Run("prediction matches the model", func(t *testing.T) {
		rec := do(t, h, "POST", "/predict", `{"user_id":"7590-VHVEG"}`)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		var got prediction
		decodeStrict(t, rec.Body.Bytes(), &got)
		row := make([]float64, m.NumFeatures())
		if err := m.Encode(knownUsers()[0].Features, row); err != nil {
			t.Fatal(err)
		}
		if want := m.PredictProba(row); math.Abs(got.ChurnProbability-want) > 1e-12 {
			t.Fatalf("churn_probability %v, want %v", got.ChurnProbability, want)
		}
	})
	t.Run("reasons are the model's contributions", func(t *testing.T) {
		loaded, err := serve.GBDTLoader(training.Spec())(artifact)
		if err != nil {
			t.Fatal(err)
		}
		ex, ok := loaded.(serve.Explainer)
		if !ok {
			t.Fatal("a gbdt model with covers is not an Explainer")
		}
		for _, u := range knownUsers() {
			rec := do(t, h, "POST", "/predict/details", `{"user_id":"`+u.UserID+`","include":["reasons"],"reasons_k":14}`)
			if rec.Code != http.StatusOK {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			var got explained
			decodeStrict(t, rec.Body.Bytes(), &got)
			want := wantReasons(t, ex, u.Features, 14)
			checkReasons(t, got.Reasons, want, 1e-12)
			// Every feature the model uses is listed: bias + contributions
			// is the log-odds of the answer's probability.
			s := got.Reasons.Bias
			for _, r := range got.Reasons.Top {
				s += r.Contribution
			}
			if lo := math.Log(got.ChurnProbability / (1 - got.ChurnProbability)); math.Abs(s-lo) > 1e-9 {
				t.Errorf("%s: bias + contributions = %v, log-odds %v", u.UserID, s, lo)
			}
		}
	})
	t.Run("inline wrong type names the feature", func(t *testing.T) {
		rec := do(t, h, "POST", "/predict", readTestdata(t, "inline_wrong_type.json"))
		if rec.Code != 400 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if e := decodeError(t, rec); e.Code != serve.CodeInvalidRequest || e.Feature != "monthly_fee" {
			t.Fatalf("error %+v", e)
		}
	})
	t.Run("inline unknown category is refused", func(t *testing.T) {
		rec := do(t, h, "POST", "/predict", readTestdata(t, "inline_bad_category.json"))
		if rec.Code != 400 {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		e := decodeError(t, rec)
		if e.Code != serve.CodeInvalidRequest || e.Feature != "net_service" || !strings.Contains(e.Message, `"Fiber optic"`) {
			t.Fatalf("error %+v, want invalid_request on net_service listing its categories", e)
		}
	})
	t.Run("stored unknown category is scored as missing", func(t *testing.T) {
		rec := knownUsers()[0]
		rec.UserID = "0000-NEWLEVEL"
		rec.Features["net_service"] = "Satellite" // a level the model never saw
		env.Features.Upsert(rec.AsOf, rec)
		resp := do(t, h, "POST", "/predict", `{"user_id":"0000-NEWLEVEL"}`)
		if resp.Code != http.StatusOK {
			t.Fatalf("status %d: %s", resp.Code, resp.Body)
		}
		var got prediction
		decodeStrict(t, resp.Body.Bytes(), &got)
		missing := maps.Clone(rec.Features)
		missing["net_service"] = nil
		row := make([]float64, m.NumFeatures())
		if err := m.Encode(missing, row); err != nil {
			t.Fatal(err)
		}
		if want := m.PredictProba(row); got.ChurnProbability != want {
			t.Fatalf("churn_probability %v, want %v (net_service missing)", got.ChurnProbability, want)
		}
	})
	t.Run("artifact with another spec is refused", func(t *testing.T) {
		other := training.Spec()
		other[0].Name = "tenure_months"
		for i := range users {
			users[i].Features["tenure_months"] = users[i].Features["months_active"]
		}
		bad, _ := trainTiny(t, other, users, 20)
		for i := range users {
			delete(users[i].Features, "tenure_months")
		}
		v2, err := env.AddVersion(ctx, model, "2024-02-29", bad)
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Promote(ctx, model, v2); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute)
		if v := servedVersion(t, h); v != 1 {
			t.Fatalf("served v%d, want v1 (v%d has another feature spec)", v, v2)
		}
		if st := svc.Stats(); st.Failures != 1 {
			t.Fatalf("stats %+v", st)
		}
	})
}

// BenchmarkPredictSingleGBDT is BenchmarkPredictSingle with a real
// 200-tree gbdt model instead of the fake, reading the feature store
// directly (as Lambda does) or through a featurestore.Cache (as churnops
// serve does), whose entries keep each user's prepared row and features;
// the in-memory fake, and the embedded store's files (local, local+cache),
// side by side.
func BenchmarkPredictSingleGBDT(b *testing.B) {
	users := servetest.Users(10000, 7, "2024-01-31")
	env := servetest.NewEnv(users)
	artifact, _ := trainTiny(b, training.Spec(), users[:2000], 200)
	v, err := env.AddVersion(b.Context(), model, "2024-01-31", artifact)
	if err != nil {
		b.Fatal(err)
	}
	if err := env.Promote(b.Context(), model, v); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	st, err := localstore.Open(b.TempDir(), localstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	if err := st.Features.Write(b.Context(), "2024-01-31", 0, 1, users); err != nil {
		b.Fatal(err)
	}
	if _, _, err := st.Features.Publish(b.Context(), "2024-01-31"); err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name     string
		features serve.FeatureReader
	}{
		{"store", env.Features},
		{"cache", featurestore.NewCache(env.Features, time.Hour, len(users))},
		{"local", st.Features},
		{"local+cache", featurestore.NewCache(st.Features, time.Hour, len(users))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := env.Config(model)
			cfg.Features = bc.features
			cfg.Loader = serve.GBDTLoader(training.Spec())
			cfg.Logger = slog.New(slog.DiscardHandler)
			svc, err := serve.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			benchLatency(b, svc.Handler(), newBenchRequest(`{"user_id":"x"}`), ids)
		})
	}
}

// BenchmarkPredictReasons is the in-process cost of reasons: POST /predict,
// POST /predict/details without includes, with "features" (the same
// request decoding as with reasons) and with "reasons" (top 3), side by
// side, through a featurestore.Cache (as churnops serve reads), on a
// 200-tree depth-2 gbdt model (the shape the default recipe picks on the
// lab's months, compiled to lookup tables) and, when
// $CHURNOPS_BENCH_LARGE_MODEL names its model.json, the default model of a
// large month (31-leaf trees, walked; see internal/training's
// BenchmarkLatency for how to make it).
func BenchmarkPredictReasons(b *testing.B) {
	users := servetest.Users(10000, 7, "2024-01-31")
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.UserID
	}
	depth2, _ := trainTiny(b, training.Spec(), users[:2000], 200)
	models := []struct {
		name     string
		artifact []byte
	}{{"depth2", depth2}}
	if path := os.Getenv("CHURNOPS_BENCH_LARGE_MODEL"); path != "" {
		large, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		models = append(models, struct {
			name     string
			artifact []byte
		}{"large", large})
	}
	for _, mm := range models {
		env := servetest.NewEnv(users)
		v, err := env.AddVersion(b.Context(), model, "2024-01-31", mm.artifact)
		if err != nil {
			b.Fatal(err)
		}
		if err := env.Promote(b.Context(), model, v); err != nil {
			b.Fatal(err)
		}
		cfg := env.Config(model)
		cfg.Features = featurestore.NewCache(env.Features, time.Hour, len(users))
		cfg.Loader = serve.GBDTLoader(training.Spec())
		cfg.Logger = slog.New(slog.DiscardHandler)
		svc, err := serve.New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		for _, rc := range []struct{ name, path, body string }{
			{"predict", "/predict", `{"user_id":%q}`},
			{"details", "/predict/details", `{"user_id":%q}`},
			{"details+features", "/predict/details", `{"user_id":%q,"include":["features"]}`},
			{"details+reasons", "/predict/details", `{"user_id":%q,"include":["reasons"]}`},
		} {
			b.Run(mm.name+"/"+rc.name, func(b *testing.B) {
				benchLatency(b, svc.Handler(), newBenchRequestTo(rc.path, rc.body), ids)
			})
		}
	}
}
