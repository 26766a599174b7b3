package serve_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"

	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/serve/servetest"
)

// A service over in-memory fakes: Lambda serves svc.Handler() through
// internal/apigw, `churnops serve` calls svc.ListenAndServe(ctx, addr).
func ExampleNew() {
	ctx := context.Background()
	users := servetest.Users(1, 1, "2024-01-31")
	env := servetest.NewEnv(users)
	v, _ := env.AddVersion(ctx, "churn", "2024-01-31", servetest.NewArtifact(-0.5, 0.5))
	_ = env.Promote(ctx, "churn", v)

	svc, err := serve.New(serve.Config{
		ModelName: "churn",
		Registry:  env.Registry,
		Blobs:     env.Blobs,
		Features:  env.Features,
		Loader:    servetest.Load, // in main: an adapter over the gbdt artifact loader
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = svc.Reload(ctx) // load now rather than on the first request

	req := httptest.NewRequest("POST", "/predict", strings.NewReader(`{"user_id":"`+users[0].UserID+`"}`))
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	fmt.Println(rec.Code, strings.Contains(rec.Body.String(), `"model_version":1`))
	// Output: 200 true
}
