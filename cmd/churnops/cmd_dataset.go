package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
)

func cmdDataset(ctx context.Context, a *app, args []string) error {
	if len(args) == 0 {
		return usagef("want a subcommand: list, rm AS_OF")
	}
	switch args[0] {
	case "list", "ls":
		return cmdDatasetList(ctx, a, args[1:])
	case "rm":
		return cmdDatasetRm(ctx, a, args[1:])
	}
	return usagef("unknown subcommand %q: want list or rm", args[0])
}

func cmdDatasetList(ctx context.Context, a *app, args []string) error {
	fs := a.flags("dataset list")
	if err := parse(fs, args, 0); err != nil {
		return err
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	ds, err := a.pipeline(st).Datasets(ctx, a.model)
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(ds)
	}
	if len(ds) == 0 {
		a.printf("no month is stored (churnops ingest --data MONTH_DIR --as-of DATE)\n")
		return nil
	}
	a.printf("%-10s  %-18s  %-34s  %s\n", "AS_OF", "DATASET", "ONLINE FEATURES", "MODELS TRAINED ON IT")
	for _, d := range ds {
		dataset := fmt.Sprintf("%s (%d key", d.Layout, len(d.Keys))
		if len(d.Keys) != 1 {
			dataset += "s"
		}
		dataset += ")"
		if d.Layout == pipeline.LayoutNone {
			dataset = "-"
		}
		online := "-"
		if v := d.Online; v != nil {
			online = fmt.Sprintf("%d records, %d/%d shards", v.Records, v.Written, v.Shards)
			switch {
			case v.Served:
				online = "SERVED " + online
			case !v.Complete:
				online = "incomplete " + online
			}
		}
		var models []string
		for _, m := range d.Models {
			models = append(models, m.String())
		}
		a.printf("%-10s  %-18s  %-34s  %s\n", d.AsOf, dataset, online, strings.Join(models, ", "))
	}
	return nil
}

func cmdDatasetRm(ctx context.Context, a *app, args []string) error {
	fs := a.flags("dataset rm")
	force := fs.Bool("force", false, "remove it even if the Production model or a candidate was trained on it, or if it is the only month online")
	if err := parse(fs, args, 1); err != nil {
		return err
	}
	asOf := fs.Arg(0)
	if asOf == "" {
		return usagef("which month? churnops dataset rm AS_OF (see churnops dataset list)")
	}
	if _, err := snapshot.ParseAsOf(asOf); err != nil {
		return usagef("%v", err)
	}
	st, err := a.openStores(ctx, false)
	if err != nil {
		return err
	}
	out, err := a.pipeline(st).RemoveDataset(ctx, pipeline.RemoveDatasetInput{AsOf: asOf, ModelName: a.model, Force: *force})
	if err != nil {
		return err
	}
	if a.json {
		return a.emit(out)
	}
	a.printf("removed as_of=%s: %d dataset key(s)", asOf, len(out.DeletedKeys))
	if out.Online {
		a.printf(" and its online features")
	}
	if out.Served != "" {
		a.printf("; online features served: as_of=%s\n", out.Served)
	} else {
		a.printf("; no online features are served now: /predict knows no customer until a month is ingested\n")
	}
	for _, m := range out.Models {
		a.printf("  note: %s was trained on it; its artifact and metrics stay, re-evaluating it on this month no longer can\n", m)
	}
	return nil
}
