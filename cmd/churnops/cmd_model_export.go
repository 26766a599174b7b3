package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/training"
)

// ExportFormats are the formats `model export` writes.
var exportFormats = map[string]func(*gbdt.Model) ([]byte, error){
	"xgboost-json": (*gbdt.Model).MarshalXGBoostJSON,
}

// cmdModel works on one registered model version: export it to another
// format, or explain a month's customers with it.
func cmdModel(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return usagef("missing subcommand: export or explain")
	}
	switch sub := args[0]; sub {
	case "export":
		return cmdModelExport(ctx, a, args[1:])
	case "explain":
		return cmdModelExplain(ctx, a, args[1:])
	default:
		return usagef("unknown model subcommand %q: want export or explain", sub)
	}
}

func cmdModelExport(ctx context.Context, a *app, args []string) error {
	fs := a.flags("model export")
	version := fs.String("version", "", "model version: N, vN or production")
	format := fs.String("format", "xgboost-json", "output format: xgboost-json (XGBoost's JSON model format)")
	out := fs.String("out", "", "file to write")
	force := fs.Bool("force", false, "overwrite --out if it exists")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "version", "out"); err != nil {
		return err
	}
	marshal, ok := exportFormats[*format]
	if !ok {
		return usagef("--format %q: want xgboost-json", *format)
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	v, model, err := loadVersion(ctx, a, *version)
	if err != nil {
		return err
	}
	data, err := marshal(model)
	if errors.Is(err, gbdt.ErrNoCovers) {
		return fmt.Errorf("%s v%d was trained before exports and reasons were supported (its artifact has no node covers, which %s needs): retrain it", a.model, v.Version, *format)
	}
	if err != nil {
		return err
	}
	if err := writeFileAtomic(*out, data); err != nil {
		return err
	}
	a.printf("wrote %s v%d as %s to %s (%d trees, %d bytes)\n", a.model, v.Version, *format, *out, model.NumTrees(), len(data))
	return a.emit(map[string]any{"model": a.model, "version": v.Version, "format": *format, "out": *out, "bytes": len(data)})
}

// cmdModelExplain writes every customer's churn probability, log-odds and
// per-feature contributions (TreeSHAP, in log-odds) for a month directory.
func cmdModelExplain(ctx context.Context, a *app, args []string) error {
	fs := a.flags("model explain")
	version := fs.String("version", "", "model version: N, vN or production")
	data := fs.String("data", "", "month directory in the lab's layout")
	asOf := fs.String("as-of", "", "snapshot date YYYY-MM-DD")
	out := fs.String("out", "", "CSV file to write: user_id, churn_probability, log_odds, one column per feature, bias")
	force := fs.Bool("force", false, "overwrite --out if it exists")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "version", "data", "as-of", "out"); err != nil {
		return err
	}
	if err := refuseExisting(*out, *force); err != nil {
		return err
	}
	v, model, err := loadVersion(ctx, a, *version)
	if err != nil {
		return err
	}
	if err := model.CheckFeatures(training.Spec()); err != nil {
		return fmt.Errorf("%s v%d: %w", a.model, v.Version, err)
	}
	if err := model.PrepareContributions(); errors.Is(err, gbdt.ErrNoCovers) {
		return fmt.Errorf("%s v%d was trained before reasons were supported (its artifact has no node covers): retrain it", a.model, v.Version)
	}
	m, err := loadMonthDir(ctx, a, *data, *asOf)
	if err != nil {
		return err
	}
	d := training.DatasetOf(m.Customers)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	header := []string{"user_id", "churn_probability", "log_odds"}
	for _, f := range d.Features {
		header = append(header, f.Name)
	}
	if err := w.Write(append(header, "bias")); err != nil {
		return err
	}
	nf := len(d.Features)
	x, contrib := make([]float64, nf), make([]float64, nf+1)
	rec := make([]string, 0, nf+4)
	num := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	for i, c := range m.Customers {
		for j, col := range d.Cols {
			x[j] = col[i]
		}
		if err := model.Contributions(x, contrib); err != nil {
			return err
		}
		raw := model.PredictRaw(x)
		rec = append(rec[:0], c.UserID, num(model.PredictProba(x)), num(raw))
		for _, v := range contrib {
			rec = append(rec, num(v))
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	if err := writeFileAtomic(*out, buf.Bytes()); err != nil {
		return err
	}
	a.printf("explained %d customers of %s with %s v%d: wrote %s\n", len(m.Customers), *asOf, a.model, v.Version, *out)
	return a.emit(map[string]any{"model": a.model, "version": v.Version, "customers": len(m.Customers), "out": *out})
}

// refuseExisting refuses to overwrite path unless force is set.
func refuseExisting(path string, force bool) error {
	if _, err := os.Stat(path); err == nil && !force {
		return fmt.Errorf("%s exists: remove it or pass --force", path)
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// loadVersion reads a registered version ("3", "v3" or "production") and
// decodes its artifact.
func loadVersion(ctx context.Context, a *app, version string) (registry.Version, *gbdt.Model, error) {
	st, err := a.openStores(ctx, false)
	if err != nil {
		return registry.Version{}, nil, err
	}
	var v registry.Version
	if strings.EqualFold(version, "production") {
		v, err = st.Registry.Production(ctx, a.model)
	} else {
		n, perr := parseVersion(version)
		if perr != nil {
			return registry.Version{}, nil, usagef("--version %q: want N, vN or production", version)
		}
		v, err = st.Registry.Get(ctx, a.model, n)
	}
	if err != nil {
		return registry.Version{}, nil, fmt.Errorf("%s version %s: %w", a.model, version, err)
	}
	raw, err := st.Blobs.Get(ctx, v.ArtifactKey)
	if err != nil {
		return v, nil, fmt.Errorf("%s v%d: read artifact %s: %w", a.model, v.Version, v.ArtifactKey, err)
	}
	model, err := gbdt.Unmarshal(raw)
	if err != nil {
		return v, nil, fmt.Errorf("%s v%d: %w", a.model, v.Version, err)
	}
	return v, model, nil
}
