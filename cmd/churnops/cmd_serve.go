package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/dashboard"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/serve"
	"github.com/churnops/churnops/internal/training"
)

// service builds the /predict service on the stores, reading online
// features from features.
func (a *app) service(st *stores, features serve.FeatureReader, reload time.Duration, access bool, token string) (*serve.Service, error) {
	cfg := serve.Config{
		Token:          token,
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
	cfg.Pages = a.pages
	return serve.New(cfg)
}

// predictOne answers POST /predict for one user through the very handler
// the server and the Lambda function use, so the CLI prints what they send.
// With include (e.g. ["features", "reasons"]) it asks POST /predict/details
// for those per-customer parts, with reasonsK reasons when it is not 0:
// whoever can run the CLI on the state can read them.
// When the answer is an error because of the online features (none
// published, a damaged file), the command's error says why and what to do,
// which the API answer does not.
func predictOne(ctx context.Context, a *app, st *stores, userID string, include []string, reasonsK int) error {
	svc, err := a.service(st, st.Features, time.Minute, false, "")
	if err != nil {
		return err
	}
	_, ferr := st.Features.Get(ctx, userID)
	q := map[string]any{"user_id": userID}
	path := "/predict"
	if len(include) > 0 {
		q["include"], path = include, "/predict/details"
	}
	if reasonsK != 0 {
		q["reasons_k"] = reasonsK
	}
	body, _ := json.Marshal(q)
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, req)
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, rec.Body.Bytes(), "", "  "); err != nil {
		pretty = *rec.Body
	}
	fmt.Fprintln(a.stdout, pretty.String())
	if rec.Code != http.StatusOK {
		if ferr != nil && !errors.Is(ferr, featurestore.ErrNotFound) {
			return fmt.Errorf("predict %s: HTTP %d: %w", userID, rec.Code, ferr)
		}
		return fmt.Errorf("predict %s: HTTP %d", userID, rec.Code)
	}
	return nil
}

func cmdPredict(ctx context.Context, a *app, args []string) error {
	fs := a.flags("predict")
	user := fs.String("user-id", "", "customer id, e.g. 7590-VHVEG")
	include := fs.String("include", "", "per-customer parts to add, comma-separated: features (features_used), reasons (the top contributions)")
	reasonsK := fs.Int("reasons-k", 0, "how many reasons with --include reasons (default 3)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "user-id"); err != nil {
		return err
	}
	var parts []string
	if *include != "" {
		parts = strings.Split(*include, ",")
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	return predictOne(ctx, a, st, *user, parts, *reasonsK)
}

func cmdServe(ctx context.Context, a *app, args []string) error {
	fs := a.flags("serve")
	addr := fs.String("addr", "127.0.0.1:8000", "listen address")
	reload := fs.Duration("reload", 5*time.Second, "how often the Production version is re-checked (a promotion is served within this)")
	access := fs.Bool("access-log", true, "log one line per request")
	featuresTTL := fs.Duration("features-ttl", time.Minute, "how long a user's online features stay cached while the served month does not change (0: no cache)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token every route but /health requires (default $"+envToken+"; none: loopback --addr only)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	token, err := serveToken(*tokenFile)
	if err != nil {
		return err
	}
	if err := checkBind(*addr, token); err != nil {
		return err
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	// Features are read on demand, from the served month only: nothing
	// is loaded up front (a month of millions of customers does not fit
	// in memory, and need not). The cache keeps each user's record, and
	// what the service derives from it, while the month stays the same.
	var features serve.FeatureReader = st.Features
	if *featuresTTL > 0 {
		features = featurestore.NewCache(st.Features, *featuresTTL, 1<<20)
	}
	// The dashboard and the reports it links to are served inside the
	// API's handler chain (serve.Config.Pages): behind the same checks.
	a.pages = dashboard.Handler(a.dashboardSources(st), a.logger())
	svc, err := a.service(st, features, *reload, *access, token)
	if err != nil {
		return err
	}
	// Opening the served month now checks its files before the first
	// request, and says what /ready will say.
	if asOf, err := st.Features.Current(ctx); err != nil {
		fmt.Fprintf(a.stderr, "churnops serve: no online features can be served (%v); /ready answers 503 until a month is published (churnops ingest)\n", err)
	} else {
		fmt.Fprintf(a.stderr, "churnops serve: serving the online features of as_of=%s\n", asOf)
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
	if token != "" {
		fmt.Fprintf(a.stderr, "churnops serve: every route but /health requires Authorization: Bearer <token>; in a browser, open http://%s/?token=<token> once (a cookie keeps the dashboard open)\n", ln.Addr())
	}
	fmt.Fprintf(a.stderr, "churnops serve: listening on http://%s (POST /predict /predict/details, GET /health /ready /model /metrics, the dashboard at /); Ctrl-C stops\n", ln.Addr())
	return svc.Serve(ctx, ln)
}
