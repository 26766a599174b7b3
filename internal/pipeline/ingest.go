package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/snapshot"
)

// The sharded ingest as steps: each action below is one Task (or one Map
// item) of the state machine's ingest states, and Ingest runs the same
// actions in this process. The data work is internal/ingest's; these steps
// add what the pipeline owns: where a month comes from (Incoming), the
// online features (written per shard by the builds, published after the
// commit unless a newer month is served), and the Lambda boundary's typed
// errors.

// IngestStep is the Ingest function's handler: it runs one action.
func (p *Pipeline) IngestStep(ctx context.Context, in IngestEvent) (any, error) {
	var (
		out any
		err error
	)
	switch in.Action {
	case IngestActionPlan:
		out, err = p.IngestPlan(ctx, in)
	case IngestActionPartition:
		out, err = p.IngestPartition(ctx, in)
	case IngestActionBuild:
		out, err = p.IngestBuild(ctx, in)
	case IngestActionCommit:
		out, err = p.IngestCommit(ctx, in)
	case IngestActionPrune:
		out, err = p.IngestPrune(ctx, in)
	default:
		err = &InvalidInputError{Msg: fmt.Sprintf("unknown ingest action %q (want plan, partition, build, commit or prune)", in.Action)}
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// source resolves where an incoming month is, and its as_of.
func (p *Pipeline) source(in *Incoming) (ingest.Source, string, error) {
	if in == nil {
		return nil, "", &InvalidInputError{Msg: "incoming is required: the marker's bucket and key, a prefix, or a directory"}
	}
	asOf := in.AsOf
	var src ingest.Source
	switch {
	case in.Dir != "" && (in.Key != "" || in.Prefix != ""):
		return nil, "", &InvalidInputError{Msg: "incoming: give a directory, a prefix or a marker's key, not several"}
	case in.Dir != "":
		if !p.LocalDirs {
			return nil, "", &InvalidInputError{Msg: "incoming.dir: this function reads months from its bucket only (incoming.key or incoming.prefix)"}
		}
		src = ingest.DirLimit(in.Dir, p.maxFileBytes())
		if asOf == "" {
			asOf = asOfSegment(filepath.ToSlash(in.Dir))
		}
	case in.Key != "" || in.Prefix != "":
		prefix := in.Prefix
		if in.Key != "" {
			if in.Prefix != "" {
				return nil, "", &InvalidInputError{Msg: "incoming: give a prefix or a marker's key, not both"}
			}
			if !slices.Contains(ingest.Markers, path.Base(in.Key)) {
				return nil, "", &InvalidInputError{Msg: fmt.Sprintf("incoming.key %q is not a marker (%s)", in.Key, strings.Join(ingest.Markers, ", "))}
			}
			prefix = path.Dir(in.Key) + "/"
		}
		if b, ok := p.Blobs.(interface{ Bucket() string }); ok && in.Bucket != "" && in.Bucket != b.Bucket() {
			return nil, "", &InvalidInputError{Msg: fmt.Sprintf("incoming.bucket %s: this pipeline reads its own bucket, %s", in.Bucket, b.Bucket())}
		}
		if !strings.HasSuffix(prefix, "/") {
			prefix += "/"
		}
		if err := blob.CheckKey(prefix + "_SUCCESS"); err != nil {
			return nil, "", &InvalidInputError{Msg: fmt.Sprintf("incoming prefix %q: %v", prefix, err)}
		}
		if asOf == "" {
			asOf = asOfSegment(prefix)
		}
		src = ingest.Blob(p.Blobs, prefix)
	default:
		return nil, "", &InvalidInputError{Msg: "incoming: give the marker's key, a prefix or a directory"}
	}
	if asOf == "" {
		return nil, "", &InvalidInputError{Msg: "incoming: as_of is required (no as_of=YYYY-MM-DD segment in the key)"}
	}
	return src, asOf, nil
}

// asOfSegment reads D from the last as_of=D segment of a prefix.
func asOfSegment(prefix string) string {
	segs := strings.Split(strings.Trim(prefix, "/"), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(segs[i], "as_of="); ok {
			return v
		}
	}
	return ""
}

// ClaimKey is where the execution ingesting the month whose marker has
// this ETag is recorded: a second delivery of the same S3 event finds it.
func ClaimKey(asOf, etag string) string {
	return "staging/claims/as_of=" + asOf + "/" + strings.Trim(etag, `"`) + ".json"
}

// IngestPlan plans an ingest of an incoming month: it sweeps attempts
// stale for a day, lists the month, counts its users, chooses K and stores
// the plan. Planned by an execution, the attempt is named after it (a
// retried plan finds its own), and a marker seen by another execution
// already (the same S3 event delivered twice) is reported as a duplicate.
func (p *Pipeline) IngestPlan(ctx context.Context, in IngestEvent) (IngestPlanOutput, error) {
	out, err := p.ingestPlan(ctx, in)
	return out, boundary("ingest plan", err)
}

func (p *Pipeline) ingestPlan(ctx context.Context, in IngestEvent) (IngestPlanOutput, error) {
	src, asOf, err := p.source(in.Incoming)
	if err != nil {
		return IngestPlanOutput{}, err
	}
	t, err := parseAsOf("as_of", asOf)
	if err != nil {
		return IngestPlanOutput{}, err
	}
	if err := checkNotFuture("as_of", t, p.now()); err != nil {
		return IngestPlanOutput{}, err
	}
	if in.RowBudget < 0 || in.ShardRows < 0 {
		return IngestPlanOutput{}, &InvalidInputError{Msg: fmt.Sprintf("row_budget %d and shard_rows %d must be >= 0", in.RowBudget, in.ShardRows)}
	}
	out := IngestPlanOutput{AsOf: asOf}
	if in.Incoming.ETag != "" && in.Execution != "" {
		if out.Duplicate, err = p.claim(ctx, asOf, in.Incoming.ETag, in.Execution); err != nil || out.Duplicate != "" {
			return out, err
		}
	}
	if _, err := ingest.RemoveStale(ctx, p.Blobs, p.now(), ingest.StaleAge); err != nil {
		return out, err
	}
	opts := ingest.PlanOptions{RowBudget: in.ShardRows, SampleRows: in.RowBudget, Now: p.now}
	if in.Execution != "" {
		started := in.Started
		if started.IsZero() {
			started = p.now()
		}
		opts.Attempt = ingest.AttemptFor(started, in.Execution)
	}
	plan, err := ingest.NewPlan(ctx, src, p.Blobs, t, opts)
	if err != nil {
		return out, sourceError(err)
	}
	out.Attempt, out.Source, out.K, out.Rows = plan.Attempt, plan.Source.String(), plan.K, plan.Rows
	out.Parts, out.Shards = seq(len(plan.Parts)), seq(plan.K)
	p.progress("ingest", "planned %s: %d files, %d shards (attempt %s)", asOf, len(plan.Parts), plan.K, plan.Attempt)
	return out, nil
}

// sourceError makes a month that cannot be read as given — a directory
// that does not exist, a file that is not a regular file or is over the
// size limit — an InvalidInputError: retrying cannot help.
func sourceError(err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, snapshot.ErrNotRegular) || errors.Is(err, snapshot.ErrTooLarge) ||
		errors.Is(err, syscall.ENOTDIR) || strings.Contains(err.Error(), "not a directory") {
		return &InvalidInputError{Msg: err.Error()}
	}
	return err
}

// claim records execution as the one ingesting the marker etag of asOf,
// and returns the execution that did first if another one did.
func (p *Pipeline) claim(ctx context.Context, asOf, etag, execution string) (string, error) {
	key := ClaimKey(asOf, etag)
	err := p.Blobs.Put(ctx, key, []byte(execution))
	if !errors.Is(err, blob.ErrExists) {
		return "", err
	}
	old, err := p.Blobs.Get(ctx, key)
	if err != nil {
		return "", fmt.Errorf("read claim %s: %w", key, err)
	}
	if string(old) == execution {
		return "", nil // a retry of this execution's plan
	}
	return string(old), nil
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// loadPlan finds the plan of an action's attempt.
func (p *Pipeline) loadPlan(ctx context.Context, in IngestEvent) (*ingest.Plan, error) {
	if _, err := parseAsOf("as_of", in.AsOf); err != nil {
		return nil, err
	}
	if in.Attempt == "" {
		return nil, &InvalidInputError{Msg: "attempt is required (the plan's)"}
	}
	plan, err := ingest.LoadPlan(ctx, p.Blobs, in.AsOf, in.Attempt)
	if errors.Is(err, blob.ErrNotFound) {
		return nil, &InvalidInputError{Msg: fmt.Sprintf("no ingest plan for as_of %s attempt %s (cleaned up by a commit, or never planned)", in.AsOf, in.Attempt)}
	}
	return plan, err
}

// IngestPartition streams one input file of the month into its shards'
// staging (one item of the partition Map).
func (p *Pipeline) IngestPartition(ctx context.Context, in IngestEvent) (IngestPartOutput, error) {
	out, err := p.ingestPartition(ctx, in)
	return out, boundary("ingest partition", err)
}

func (p *Pipeline) ingestPartition(ctx context.Context, in IngestEvent) (IngestPartOutput, error) {
	plan, err := p.loadPlan(ctx, in)
	if err != nil {
		return IngestPartOutput{}, err
	}
	if plan.Source.Kind == ingest.KindDir && !p.LocalDirs {
		return IngestPartOutput{}, &InvalidInputError{Msg: "the plan reads a local directory: this function reads months from its bucket only"}
	}
	src, err := ingest.OpenSource(plan.Source, p.Blobs)
	if err != nil {
		return IngestPartOutput{}, err
	}
	res, err := ingest.Partition(ctx, src, p.Blobs, plan, in.Index)
	if err != nil {
		return IngestPartOutput{}, sourceError(err)
	}
	return IngestPartOutput{Part: res.Part, File: res.File, Rows: res.Rows}, nil
}

// IngestBuild joins, validates and writes one shard of the month (one
// item of the build Map): its Parquet file, its drift summary and sample
// candidates (staged for the commit), and its online features — unless a
// newer month is served (a backfill), the shard has problems (the month
// will not be committed), or the month is already stored with other data
// in this shard (the commit refuses it).
func (p *Pipeline) IngestBuild(ctx context.Context, in IngestEvent) (IngestShardOutput, error) {
	out, err := p.ingestBuild(ctx, in)
	return out, boundary("ingest build", err)
}

func (p *Pipeline) ingestBuild(ctx context.Context, in IngestEvent) (IngestShardOutput, error) {
	plan, err := p.loadPlan(ctx, in)
	if err != nil {
		return IngestShardOutput{}, err
	}
	res, m, err := ingest.BuildShard(ctx, p.Blobs, plan, in.Index)
	if err != nil {
		return IngestShardOutput{}, err
	}
	out := IngestShardOutput{Shard: res.Shard, Rows: res.Rows}
	if m == nil || len(m.Customers) == 0 {
		return out, nil
	}
	write, err := p.featuresWanted(ctx, plan, res)
	if err != nil || !write {
		return out, err
	}
	recs := make([]featurestore.Record, len(m.Customers))
	for i := range m.Customers {
		c := &m.Customers[i]
		recs[i] = featurestore.Record{UserID: c.UserID, AsOf: plan.AsOf, Features: c.RawFeatures()}
	}
	m = nil // the records hold what the features need
	if err := p.Features.Write(ctx, plan.AsOf, in.Index, plan.K, recs); err != nil {
		return out, fmt.Errorf("write online features of shard %d: %w", in.Index, err)
	}
	out.OnlineFeatures = len(recs)
	return out, nil
}

// featuresWanted decides whether a built shard's online features are
// written. A new month's shard is written when its Parquet file was (no
// problem found so far); a stored month's (re-ingested: how damaged
// features are repaired) only when the shard holds the stored data. A
// backfill — a newer month is served — writes none: Publish would not
// serve it anyway. (Versions, not Current, which would read the served
// month's files to check them.)
func (p *Pipeline) featuresWanted(ctx context.Context, plan *ingest.Plan, res ingest.ShardResult) (bool, error) {
	switch plan.Committed {
	case ingest.CommittedNone:
		if res.Key == "" {
			return false, nil
		}
	default:
		same, err := p.sameAsStored(ctx, plan, res)
		if err != nil || !same {
			return false, err
		}
	}
	versions, err := p.Features.Versions(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return false, err
		}
		// Writing this month is also how damaged online features are
		// repaired, and Publish still refuses to roll back.
		p.log().Warn("online features unreadable; writing anew", "as_of", plan.AsOf, "err", err)
	}
	for _, v := range versions {
		if v.Served && v.AsOf > plan.AsOf {
			return false, nil
		}
	}
	return true, nil
}

// sameAsStored reports whether a shard built again holds the stored
// month's data for that shard.
func (p *Pipeline) sameAsStored(ctx context.Context, plan *ingest.Plan, res ingest.ShardResult) (bool, error) {
	m, err := dataset.Open(ctx, p.Blobs, plan.AsOf)
	if err != nil {
		return false, fmt.Errorf("open stored %s: %w", plan.AsOf, err)
	}
	if !m.Legacy {
		return res.Shard < len(m.Shards) && m.Shards[res.Shard].Fingerprint == res.Fingerprint, nil
	}
	stored, err := dataset.ReadShard(ctx, p.Blobs, m, 0) // a month stored before sharding: the lab's size
	if err != nil {
		return false, fmt.Errorf("read stored %s: %w", plan.AsOf, err)
	}
	return plan.K == 1 && stored.Fingerprint() == res.Fingerprint, nil
}

// IngestCommit makes the month visible (manifest last, after its drift
// summary and sample), then publishes its online features unless a newer
// month is served. Problems found by any task come back as one
// InvalidInputError listing them by file, line and column, and nothing of
// the month is visible then; other data for a stored as_of is a
// ConflictError.
func (p *Pipeline) IngestCommit(ctx context.Context, in IngestEvent) (IngestOutput, error) {
	out, err := p.ingestCommit(ctx, in)
	return out, boundary("ingest commit", err)
}

func (p *Pipeline) ingestCommit(ctx context.Context, in IngestEvent) (IngestOutput, error) {
	plan, err := p.loadPlan(ctx, in)
	if err != nil {
		return IngestOutput{}, err
	}
	res, err := ingest.Commit(ctx, p.Blobs, plan, p.now())
	var verrs *snapshot.ValidationErrors
	if errors.As(err, &verrs) && plan.Committed == ingest.CommittedNone {
		// The builds of the shards without problems wrote their online
		// features: an unpublished version nobody reads, removed so that
		// nothing of the month is left.
		if _, rerr := p.Features.Remove(context.WithoutCancel(ctx), plan.AsOf, false); rerr != nil && !errors.Is(rerr, featurestore.ErrLastVersion) {
			p.log().Warn("remove the online features of a refused month", "as_of", plan.AsOf, "err", rerr)
		}
	}
	if err != nil {
		return IngestOutput{}, err
	}
	m := res.Manifest
	out := IngestOutput{
		AsOf: plan.AsOf, Rows: m.Rows, Churners: m.Churners, Shards: m.K, DatasetKey: dataset.ManifestKey(plan.AsOf),
		Fingerprint: m.Fingerprint, AlreadyIngested: res.AlreadyIngested, Attempt: plan.Attempt,
	}
	if m.Legacy {
		out.DatasetKey = dataset.LegacyKey(plan.AsOf)
	}
	p.progress("ingest", "stored %s (%d customers in %d shards)", out.DatasetKey, out.Rows, out.Shards)
	if err := p.publish(ctx, &out); err != nil {
		return out, err
	}
	return out, nil
}

// publish serves the month's online features unless a newer month is
// served. Publish is what decides (it compares and switches atomically,
// so a concurrent ingest of a newer month wins whatever the timing).
func (p *Pipeline) publish(ctx context.Context, out *IngestOutput) error {
	versions, err := p.Features.Versions(ctx)
	if err != nil && ctx.Err() != nil {
		return err
	}
	for _, v := range versions {
		if v.Served && v.AsOf > out.AsOf {
			out.OnlineNewerAsOf = v.AsOf
			p.progress("ingest", "online features kept at the newer as_of %s", v.AsOf)
			return nil
		}
		if v.AsOf == out.AsOf {
			out.OnlineFeatures = v.Records
		}
	}
	served, switched, err := p.Features.Publish(ctx, out.AsOf)
	if err != nil {
		return fmt.Errorf("publish online features: %w", err)
	}
	if served != out.AsOf {
		out.OnlineNewerAsOf = served
		p.progress("ingest", "online features kept at the newer as_of %s", served)
		return nil
	}
	out.Published = switched
	p.progress("ingest", "published %d online feature records", out.OnlineFeatures)
	return nil
}

// IngestPrune deletes the online-feature versions older than the served
// one's predecessor: garbage once a month is published, so a failure
// loses nothing (the state machine catches it and goes on). Apart from the
// commit because on DynamoDB a month of millions of customers is millions
// of deletes.
func (p *Pipeline) IngestPrune(ctx context.Context, _ IngestEvent) (IngestPruneOutput, error) {
	removed, err := p.Features.Prune(ctx)
	if err != nil {
		return IngestPruneOutput{}, boundary("ingest prune", fmt.Errorf("prune online features: %w", err))
	}
	if len(removed) > 0 {
		p.progress("ingest", "pruned online features of %s", strings.Join(removed, ", "))
	}
	return IngestPruneOutput{Removed: append([]string{}, removed...)}, nil
}

// IngestOptions tune Ingest.
type IngestOptions struct {
	// ShardRows is the customers per shard (0: ingest.DefaultRowBudget).
	ShardRows int
	// RowBudget is the training sample the commit stores (0:
	// dataset.DefaultSampleRows).
	RowBudget int
	// Workers bounds the partition and build tasks run at once (0: 1).
	Workers int
	// OnProgress, when set, is told each phase's progress.
	OnProgress func(phase string, done, total int)
}

// Ingest runs a whole sharded ingest of an incoming month in this process,
// through the very actions the state machine runs as Tasks and Map items:
// plan, partition every file, build every shard, commit, prune. Nothing is
// visible until the commit, and a failed ingest leaves nothing of the
// month; run again, it starts a new attempt.
func (p *Pipeline) Ingest(ctx context.Context, in Incoming, opts IngestOptions) (IngestOutput, error) {
	plan, err := p.IngestPlan(ctx, IngestEvent{Action: IngestActionPlan, Incoming: &in, RowBudget: opts.RowBudget, ShardRows: opts.ShardRows})
	if err != nil {
		return IngestOutput{}, err
	}
	ev := func(action string, i int) IngestEvent {
		return IngestEvent{Action: action, AsOf: plan.AsOf, Attempt: plan.Attempt, Index: i}
	}
	workers := max(opts.Workers, 1)
	phase := func(name, action string, n int) error {
		var done int
		report := func() {
			if opts.OnProgress != nil {
				opts.OnProgress(name, done, n)
			}
		}
		report()
		return forEach(ctx, n, workers, func(ctx context.Context, i int) error {
			_, err := p.IngestStep(ctx, ev(action, i))
			return err
		}, func() { done++; report() })
	}
	if err := phase("partition", IngestActionPartition, len(plan.Parts)); err != nil {
		return IngestOutput{}, err
	}
	if err := phase("build", IngestActionBuild, plan.K); err != nil {
		return IngestOutput{}, err
	}
	out, err := p.IngestCommit(ctx, ev(IngestActionCommit, 0))
	if err != nil {
		return out, err
	}
	if out.Published {
		if _, err := p.IngestPrune(ctx, ev(IngestActionPrune, 0)); err != nil {
			// Older versions are garbage; failing to delete them loses nothing.
			p.log().Warn("prune online features", "err", err)
		}
	}
	return out, nil
}
