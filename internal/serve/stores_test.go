package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// Read-only stores with nothing but the methods the service asks for:
// no Register, Put, Promote or PutBatch to fake.
type production registry.Version

func (p production) Production(context.Context, string) (registry.Version, error) {
	return registry.Version(p), nil
}

type artifacts map[string][]byte

func (a artifacts) Get(_ context.Context, key string) ([]byte, error) { return a[key], nil }

type features map[string]featurestore.Record

func (f features) Get(_ context.Context, id string) (featurestore.Record, error) {
	r, ok := f[id]
	if !ok {
		return r, fmt.Errorf("%s: %w", id, featurestore.ErrNotFound)
	}
	return r, nil
}

func (f features) Current(context.Context) (string, error) { return "2024-01-31", nil }

// TestServiceOnlyReads: the service needs the read methods of three stores
// (the Production version, an artifact, a user's features and the served
// month) and nothing else of them.
func TestServiceOnlyReads(t *testing.T) {
	users := servetest.Users(2, 1, "2024-01-31")
	fs := features{}
	for _, u := range users {
		fs[u.UserID] = u
	}
	svc, err := serve.New(serve.Config{
		ModelName: "churn",
		Registry:  production{Model: "churn", Version: 7, Stage: registry.StageProduction, ArtifactKey: "models/churn/v7/model.json"},
		Blobs:     artifacts{"models/churn/v7/model.json": servetest.NewArtifact(0, 0.5)},
		Features:  fs,
		Loader:    servetest.Load,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/predict", strings.NewReader(`{"user_id":"`+users[0].UserID+`"}`))
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"model_version":7`) {
		t.Errorf("POST /predict: %d %s", rec.Code, rec.Body)
	}
}
