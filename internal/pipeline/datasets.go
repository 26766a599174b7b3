package pipeline

import (
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"strings"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/registry"
)

// Dataset layouts under datasets/as_of=D/. A month is visible (ingested)
// once the layout's marker exists: snapshot.parquet for a month stored in
// one file, manifest.json for a month stored in shards (part-NNNNN.parquet
// files, committed by the manifest).
const (
	LayoutSingle  = "single"  // snapshot.parquet
	LayoutSharded = "sharded" // manifest.json + part-NNNNN.parquet
	LayoutPartial = "partial" // keys without a marker: an unfinished ingest or removal
	LayoutNone    = "none"    // no dataset keys (online features only)

	datasetsPrefix = "datasets/as_of="
	manifestFile   = "manifest.json"
	snapshotFile   = "snapshot.parquet"
)

// DatasetDir is the key prefix of one as_of's dataset files.
func DatasetDir(asOf string) string { return datasetsPrefix + asOf + "/" }

// ModelRef names a registry version that depends on a dataset: it was
// trained (and validated) on that month.
type ModelRef struct {
	Model   string         `json:"model"`
	Version int            `json:"version"`
	Stage   registry.Stage `json:"stage"`
}

func (m ModelRef) String() string {
	stage := string(m.Stage)
	if m.Stage == registry.StageNone {
		stage = "candidate"
	}
	return fmt.Sprintf("%s v%d (%s)", m.Model, m.Version, stage)
}

// blocks reports whether removing the model's month must be forced: the
// Production version and candidates (not yet decided, or waiting for an
// approval) are judged on the metrics measured on that month.
func (m ModelRef) blocks() bool {
	return m.Stage == registry.StageProduction || m.Stage == registry.StageNone
}

// DatasetInfo describes one stored month.
type DatasetInfo struct {
	AsOf   string                `json:"as_of"`
	Layout string                `json:"layout"` // LayoutSingle, LayoutSharded, LayoutPartial or LayoutNone
	Keys   []string              `json:"keys"`
	Online *featurestore.Version `json:"online,omitempty"` // its online-feature version, if stored
	Models []ModelRef            `json:"models,omitempty"` // versions of the model trained on it
}

// Datasets lists the stored months — those with dataset keys, online
// features, or both — oldest first, with the versions of model trained on
// each.
func (p *Pipeline) Datasets(ctx context.Context, model string) ([]DatasetInfo, error) {
	keys, err := p.Blobs.List(ctx, datasetsPrefix)
	if err != nil {
		return nil, fmt.Errorf("list datasets: %w", err)
	}
	byAsOf := map[string]*DatasetInfo{}
	info := func(asOf string) *DatasetInfo {
		if byAsOf[asOf] == nil {
			byAsOf[asOf] = &DatasetInfo{AsOf: asOf, Layout: LayoutNone}
		}
		return byAsOf[asOf]
	}
	for _, k := range keys {
		asOf, _, ok := strings.Cut(strings.TrimPrefix(k, datasetsPrefix), "/")
		if ok {
			d := info(asOf)
			d.Keys = append(d.Keys, k)
		}
	}
	versions, err := p.Features.Versions(ctx)
	if err != nil {
		return nil, err
	}
	for _, v := range versions {
		info(v.AsOf).Online = &v
	}
	deps, err := p.dependents(ctx, model)
	if err != nil {
		return nil, err
	}
	for asOf, refs := range deps {
		if d := byAsOf[asOf]; d != nil {
			d.Models = refs
		}
	}
	out := make([]DatasetInfo, 0, len(byAsOf))
	for _, d := range byAsOf {
		d.Layout = layoutOf(d.Keys)
		out = append(out, *d)
	}
	slices.SortFunc(out, func(a, b DatasetInfo) int { return strings.Compare(a.AsOf, b.AsOf) })
	return out, nil
}

func layoutOf(keys []string) string {
	if len(keys) == 0 {
		return LayoutNone
	}
	layout := LayoutPartial
	for _, k := range keys {
		switch path.Base(k) {
		case manifestFile:
			return LayoutSharded
		case snapshotFile:
			layout = LayoutSingle
		}
	}
	return layout
}

// dependents maps as_of dates to the versions of model trained on them.
func (p *Pipeline) dependents(ctx context.Context, model string) (map[string][]ModelRef, error) {
	vs, err := p.Registry.List(ctx, model)
	if err != nil {
		return nil, fmt.Errorf("list %s versions: %w", model, err)
	}
	out := map[string][]ModelRef{}
	for _, v := range vs {
		if v.AsOf != "" {
			out[v.AsOf] = append(out[v.AsOf], ModelRef{Model: v.Model, Version: v.Version, Stage: v.Stage})
		}
	}
	return out, nil
}

// RemoveDatasetInput is what `churnops dataset rm` asks for.
type RemoveDatasetInput struct {
	AsOf      string `json:"as_of"`
	ModelName string `json:"model_name"` // whose versions may depend on the month
	// Force removes the month even when the Production version or a
	// candidate was trained on it, and even when it is the only month
	// online (nothing is served afterwards).
	Force bool `json:"force"`
}

// RemoveDatasetOutput is what was removed.
type RemoveDatasetOutput struct {
	AsOf        string     `json:"as_of"`
	DeletedKeys []string   `json:"deleted_keys"`
	Online      bool       `json:"online_removed"` // a version of online features was removed
	Served      string     `json:"served"`         // the online version served afterwards ("" for none)
	Models      []ModelRef `json:"models,omitempty"`
}

// RemoveDataset removes one month: its online features, then its dataset
// keys. It refuses, before removing anything, when the Production version
// or a candidate of the model was trained on the month, or when the month
// is the only one online (serving nothing would answer every /predict with
// an error); Force overrides both. Archived and rejected versions trained
// on it are reported, not protected: their artifacts and recorded metrics
// stay, only re-evaluating them on that month becomes impossible.
//
// If the month is the one online, the newest other complete version is
// served instead, atomically, before anything is deleted. The dataset keys
// go in the order that makes the month invisible first: the manifest of a
// sharded month (or the snapshot.parquet of a single-file month), then the
// rest. Every step can be repeated: a removal interrupted anywhere is
// finished by running it again.
func (p *Pipeline) RemoveDataset(ctx context.Context, in RemoveDatasetInput) (RemoveDatasetOutput, error) {
	out := RemoveDatasetOutput{AsOf: in.AsOf, DeletedKeys: []string{}}
	if _, err := parseAsOf("as_of", in.AsOf); err != nil {
		return out, err
	}
	if in.ModelName == "" {
		in.ModelName = DefaultModelName
	}
	keys, err := p.Blobs.List(ctx, DatasetDir(in.AsOf))
	if err != nil {
		return out, fmt.Errorf("list %s: %w", DatasetDir(in.AsOf), err)
	}
	versions, err := p.Features.Versions(ctx)
	if err != nil {
		return out, err
	}
	var online *featurestore.Version
	for _, v := range versions {
		if v.AsOf == in.AsOf {
			online = &v
		}
	}
	if len(keys) == 0 && online == nil {
		return out, &InvalidInputError{Msg: fmt.Sprintf("nothing is stored for as_of %s (see churnops dataset list)", in.AsOf)}
	}
	deps, err := p.dependents(ctx, in.ModelName)
	if err != nil {
		return out, err
	}
	out.Models = deps[in.AsOf]
	var blocking []string
	for _, m := range out.Models {
		if m.blocks() {
			blocking = append(blocking, m.String())
		}
	}
	if len(blocking) > 0 && !in.Force {
		return out, &DatasetInUseError{Msg: fmt.Sprintf("as_of %s is the month %s was trained and validated on: its metrics, and any re-evaluation, depend on it; pass --force to remove it anyway",
			in.AsOf, strings.Join(blocking, ", "))}
	}

	if online != nil {
		served, err := p.Features.Remove(ctx, in.AsOf, in.Force)
		if errors.Is(err, featurestore.ErrLastVersion) {
			return out, &DatasetInUseError{Msg: fmt.Sprintf("as_of %s is the only month of online features: without it /predict knows no customer; ingest another month first, or pass --force", in.AsOf)}
		}
		if err != nil {
			return out, err
		}
		out.Online, out.Served = true, served
	} else if served, err := p.Features.Current(ctx); err == nil {
		out.Served = served // unchanged; "" when nothing is (readably) served
	}

	// The marker first: the month is no longer ingested from then on.
	slices.SortStableFunc(keys, func(a, b string) int { return markerRank(a) - markerRank(b) })
	for _, k := range keys {
		if err := p.Blobs.Delete(ctx, k); err != nil {
			return out, fmt.Errorf("delete %s: %w", k, err)
		}
		out.DeletedKeys = append(out.DeletedKeys, k)
	}
	return out, nil
}

// markerRank orders a month's keys for deletion: the manifest, then the
// single-file snapshot, then everything else.
func markerRank(key string) int {
	switch path.Base(key) {
	case manifestFile:
		return 0
	case snapshotFile:
		return 1
	}
	return 2
}
