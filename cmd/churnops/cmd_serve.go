package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/training"
)

// service builds the /predict service on the stores, reading online
// features from features.
func (a *app) service(st *stores, features featurestore.Store, reload time.Duration, access bool) (*serve.Service, error) {
	cfg := serve.Config{
		ModelName:      a.model,
		Registry:       st.Registry,
		Blobs:          st.Blobs,
		Features:       features,
		Loader:         serve.GBDTLoader(training.Spec()),
		ReloadInterval: reload,
		Logger:         slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if access {
		cfg.AccessLog = cfg.Logger
	}
	return serve.New(cfg)
}

// predictOne answers POST /predict for one user through the very handler
// the server and the Lambda function use, so the CLI prints what they send.
func predictOne(ctx context.Context, a *app, st *stores, userID string) error {
	svc, err := a.service(st, st.Features, time.Minute, false)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(map[string]string{"user_id": userID})
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/predict", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
		pretty = *rec.Body
	}
	fmt.Fprintln(a.stdout, pretty.String())
	if rec.Code != http.StatusOK {
		return fmt.Errorf("predict %s: HTTP %d", userID, rec.Code)
	}
	return nil
}

func cmdPredict(ctx context.Context, a *app, args []string) error {
	fs := a.flags("predict")
	user := fs.String("user-id", "", "customer id, e.g. 7590-VHVEG")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "user-id"); err != nil {
		return err
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	return predictOne(ctx, a, st, *user)
}

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.flags("serve")
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	reload := fs.Duration("reload", 5*time.Second, "how often the Production version is re-checked (a promotion is served within this)")
	access := fs.Bool("access-log", true, "log one line per request")
	featuresTTL := fs.Duration("features-ttl", time.Minute, "how long online features are cached (an ingest is served within this)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	// Features change at ingest (monthly): a read-through cache spares the
	// embedded store's per-read file locking on every request; an ingest is
	// served within featuresTTL.
	cache := featurestore.NewCache(st.Features, *featuresTTL, 1<<20)
	svc, err := a.service(st, cache, *reload, *access)
	if err != nil {
		return err
	}
	if err := primeFeatures(ctx, st, cache); err != nil {
		fmt.Fprintf(a.stderr, "churnops serve: features not preloaded (%v); they load on first use\n", err)
	}
	if err := svc.Reload(ctx); err != nil {
		fmt.Fprintf(a.stderr, "churnops serve: no model loaded yet (%v); /ready answers 503 until one is promoted\n", err)
	}
	// Bind before saying so: a taken port is an error, not a false
	// "listening".
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stderr, "churnops serve: listening on http://%s (POST /predict, GET /health /ready /model /metrics); Ctrl-C stops\n", ln.Addr())
	return svc.Serve(ctx, ln)
}

// primeFeatures loads every online feature record into cache in one read,
// on the embedded default (the AWS table is read on demand).
func primeFeatures(ctx context.Context, st *stores, cache *featurestore.Cache) error {
	if st.Local == nil {
		return nil
	}
	recs, err := st.Local.Features.All(ctx)
	if err != nil {
		return err
	}
	cache.Prime(recs)
	return nil
}
