package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/churnops/churnops/internal/gbdt"
	"github.com/churnops/churnops/internal/snapshot"
	"github.com/churnops/churnops/internal/training"
)

// loadMonthDir loads a month directory with a required as_of.
func loadMonthDir(ctx context.Context, a *app, dir, asOf string) (*snapshot.Month, error) {
	t, err := snapshot.ParseAsOf(asOf)
	if err != nil {
		return nil, usagef("--as-of: %v", err)
	}
	return a.loadMonth(ctx, dir, t)
}

// writeRunFiles writes metrics.json and val_predictions.csv into out.
func writeRunFiles(out string, res *training.Result) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := writeJSONFile(filepath.Join(out, "metrics.json"), res.Metrics); err != nil {
		return err
	}
	var preds bytes.Buffer
	if err := training.WritePredictionsCSV(&preds, res.Predictions); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(out, "val_predictions.csv"), preds.Bytes())
}

func printMetrics(a *app, what string, m training.Metrics) {
	a.printf("%s: val_auc=%.4f val_f1=%.4f val_acc=%.4f val_precision=%.4f val_recall=%.4f val_logloss=%.4f (train_rows=%d val_rows=%d, fit %.2fs)\n",
		what, m.AUC, m.F1, m.Accuracy, m.Precision, m.Recall, m.LogLoss, m.TrainRows, m.ValRows, m.TrainTimeS)
}

func cmdTrain(ctx context.Context, a *app, args []string) error {
	fs := a.flags("train")
	a.monthFlags(fs)
	data := fs.String("data", "", "month directory in the lab's layout")
	asOf := fs.String("as-of", "", "snapshot date YYYY-MM-DD")
	out := fs.String("out", "", "output directory for model.json, metrics.json, val_predictions.csv")
	seed := fs.Uint64("seed", 42, "random seed (same data and seed, same model)")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "data", "as-of", "out"); err != nil {
		return err
	}
	m, err := loadMonthDir(ctx, a, *data, *asOf)
	if err != nil {
		return err
	}
	p := training.DefaultParams()
	p.GBDT.Seed = *seed
	a.progress("train", fmt.Sprintf("fitting on the train users of %s (%d customers)", *asOf, len(m.Customers)))
	start := time.Now()
	res, err := training.TrainContext(ctx, m, p)
	if err != nil {
		return err
	}
	artifact, err := res.Model.Marshal()
	if err != nil {
		return err
	}
	if err := writeRunFiles(*out, res); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(*out, "model.json"), artifact); err != nil {
		return err
	}
	printMetrics(a, "trained", res.Metrics)
	a.printf("wrote %s/{model.json,metrics.json,val_predictions.csv} [%s]\n", *out, seconds(time.Since(start)))
	return a.emit(res.Metrics)
}

func cmdEvaluate(ctx context.Context, a *app, args []string) error {
	fs := a.flags("evaluate")
	a.monthFlags(fs)
	modelPath := fs.String("model", "", "model artifact (model.json)")
	data := fs.String("data", "", "month directory in the lab's layout")
	asOf := fs.String("as-of", "", "snapshot date YYYY-MM-DD")
	out := fs.String("out", "", "output directory for metrics.json and val_predictions.csv")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	if err := required(fs, "model", "data", "as-of", "out"); err != nil {
		return err
	}
	raw, err := os.ReadFile(*modelPath)
	if err != nil {
		return err
	}
	model, err := gbdt.Unmarshal(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	if err := model.CheckFeatures(training.Spec()); err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	m, err := loadMonthDir(ctx, a, *data, *asOf)
	if err != nil {
		return err
	}
	res, err := training.Evaluate(model, m)
	if err != nil {
		return err
	}
	if err := writeRunFiles(*out, res); err != nil {
		return err
	}
	printMetrics(a, "evaluated", res.Metrics)
	a.printf("wrote %s/{metrics.json,val_predictions.csv}\n", *out)
	return a.emit(res.Metrics)
}
