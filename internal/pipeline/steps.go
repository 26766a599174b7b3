package pipeline

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/dataset"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/training"
)

// Drift compares the current month with the reference month column by
// column (Evidently's default rules) and stores the JSON and HTML reports.
func (p *Pipeline) Drift(ctx context.Context, in DriftInput) (DriftOutput, error) {
	out, err := p.drift(ctx, in)
	return out, boundary("drift", err)
}

func (p *Pipeline) drift(ctx context.Context, in DriftInput) (DriftOutput, error) {
	if in.Threshold < 0 || in.Threshold > 1 {
		return DriftOutput{}, &InvalidInputError{Msg: fmt.Sprintf("threshold %v must be within [0, 1]", in.Threshold)}
	}
	var err error
	if in.ReferenceAsOf, in.CurrentAsOf, err = p.ResolveAsOfs(ctx, in.ReferenceAsOf, in.CurrentAsOf); err != nil {
		return DriftOutput{}, err
	}
	// Each month's drift summary is what its ingest stored (the shards'
	// summaries merged): the comparison reads two summaries of about a
	// megabyte, never the months, and gives the numbers the whole months
	// would.
	var (
		sums  [2]*drift.Summary
		prov  [2]drift.Provenance
		field = [2]string{"reference_as_of", "current_as_of"}
	)
	for i, asOf := range []string{in.ReferenceAsOf, in.CurrentAsOf} {
		m, err := p.openMonth(ctx, field[i], asOf)
		if err != nil {
			return DriftOutput{}, err
		}
		if sums[i], err = p.summary(ctx, m); err != nil {
			return DriftOutput{}, err
		}
		prov[i] = drift.Provenance{Dataset: dataset.ManifestKey(asOf), Fingerprint: m.Fingerprint, Shards: m.K}
		if m.Legacy {
			prov[i].Dataset = dataset.LegacyKey(asOf)
		}
	}
	rep, err := drift.CompareSummariesContext(ctx, sums[0], sums[1], drift.Options{
		Threshold: in.Threshold, Gate: DriftGate, ReferenceData: prov[0], CurrentData: prov[1],
	})
	if err != nil {
		return DriftOutput{}, fmt.Errorf("compare %s with %s: %w", in.ReferenceAsOf, in.CurrentAsOf, err)
	}
	rep.Reference, rep.Current = in.ReferenceAsOf, in.CurrentAsOf

	out := DriftOutput{
		ReferenceAsOf:  in.ReferenceAsOf,
		CurrentAsOf:    in.CurrentAsOf,
		DriftShare:     rep.DriftShare,
		DriftedColumns: rep.DriftedColumns,
		Columns:        len(rep.Columns),
		Drifted:        []string{},
		Threshold:      in.Threshold,
		ReportJSONKey:  DriftReportKey(in.ReferenceAsOf, in.CurrentAsOf, "json"),
		ReportHTMLKey:  DriftReportKey(in.ReferenceAsOf, in.CurrentAsOf, "html"),
	}
	for _, c := range rep.Columns {
		if c.Drifted {
			out.Drifted = append(out.Drifted, c.Column)
		}
	}
	var js, html bytes.Buffer
	if err := rep.WriteJSON(&js); err != nil {
		return out, fmt.Errorf("render drift json: %w", err)
	}
	if err := rep.WriteHTML(&html); err != nil {
		return out, fmt.Errorf("render drift html: %w", err)
	}
	if out.ReportJSONKey, err = p.putVariant(ctx, out.ReportJSONKey, js.Bytes()); err != nil {
		return out, fmt.Errorf("store drift report: %w", err)
	}
	if out.ReportHTMLKey, err = p.putVariant(ctx, out.ReportHTMLKey, html.Bytes()); err != nil {
		return out, fmt.Errorf("store drift report: %w", err)
	}
	return out, nil
}

// putVariant stores data under key, or — when key already holds another
// report for the same months (say, computed with another threshold) —
// under key with a content hash before its extension, since keys are never
// overwritten. It returns the key that holds data.
func (p *Pipeline) putVariant(ctx context.Context, key string, data []byte) (string, error) {
	err := p.putOnce(ctx, key, data)
	if !errors.Is(err, blob.ErrExists) {
		return key, err
	}
	sum := sha256.Sum256(data)
	ext := path.Ext(key)
	variant := strings.TrimSuffix(key, ext) + "-" + hex.EncodeToString(sum[:4]) + ext
	return variant, p.putOnce(ctx, variant, data)
}

// Train fits a candidate on the month's training users, validates it on
// its validation users (the user-hash split), registers it as a new version
// in stage None and stores its artifact, metrics and validation predictions
// under models/<name>/v<N>/.
func (p *Pipeline) Train(ctx context.Context, in TrainInput) (TrainOutput, error) {
	out, err := p.train(ctx, in)
	return out, boundary("train", err)
}

func (p *Pipeline) train(ctx context.Context, in TrainInput) (TrainOutput, error) {
	if in.ModelName == "" {
		return TrainOutput{}, &InvalidInputError{Msg: "model_name is required"}
	}
	if err := registry.CheckModelName(in.ModelName); err != nil {
		return TrainOutput{}, &InvalidInputError{Msg: err.Error()}
	}
	if in.Seed < 0 {
		return TrainOutput{}, &InvalidInputError{Msg: fmt.Sprintf("seed %d must be >= 0", in.Seed)}
	}
	stored, m, err := p.sampleMonth(ctx, "as_of", in.AsOf, in.RowBudget)
	if err != nil {
		return TrainOutput{}, err
	}
	// A version whose run died between registering it and storing its
	// artifact can never be promoted: mark it before adding another.
	if _, err := p.MarkOrphans(ctx, in.ModelName, in.runKey()); err != nil {
		return TrainOutput{}, err
	}
	// Lambda invocations are at least once and the state machine retries
	// transient failures: a retry of the same run adopts the version an
	// earlier attempt registered instead of registering another one.
	v, adopted, err := p.versionOfRun(ctx, in)
	if err != nil {
		return TrainOutput{}, err
	}
	var (
		res      *training.Result
		artifact []byte // to store; nil when the adopted version's is stored
	)
	if adopted {
		if v.AsOf != in.AsOf {
			return TrainOutput{}, &InvalidInputError{Msg: fmt.Sprintf("run %s already trained %s v%d on %s, not %s: an execution trains on one month (start a new execution)", in.RunID, v.Model, v.Version, v.AsOf, in.AsOf)}
		}
		model, lerr := p.LoadModel(ctx, v)
		var missing *ModelNotFoundError
		switch {
		case lerr == nil:
			// The earlier attempt stored its model: score that very model.
			if res, err = training.Evaluate(model, m); err != nil {
				return TrainOutput{}, fmt.Errorf("adopt v%d: %w", v.Version, err)
			}
		case errors.As(lerr, &missing):
			// It died before storing the artifact, whose bytes (stamped with
			// the training time) are gone with it: that version is an
			// orphan, and this attempt trains a version of its own.
			if err := p.markOrphan(ctx, v, "the run's retry found it missing"); err != nil {
				return TrainOutput{}, err
			}
			adopted = false
		default:
			return TrainOutput{}, fmt.Errorf("adopt v%d of run %s: %w", v.Version, in.RunID, lerr)
		}
	}
	if res == nil {
		params := training.DefaultParams()
		params.GBDT.Seed = uint64(in.Seed)
		p.progress("train", "fitting on the train users of %s (a sample of %d of its %d customers)", in.AsOf, len(m.Customers), max(stored.Rows, len(m.Customers)))
		if res, err = training.TrainContext(ctx, m, params); err != nil {
			return TrainOutput{}, fmt.Errorf("train on %s: %w", in.AsOf, err)
		}
		if artifact, err = res.Model.Marshal(); err != nil {
			return TrainOutput{}, fmt.Errorf("encode artifact: %w", err)
		}
	}
	metrics := res.Metrics.Map()
	if !adopted {
		v, err = p.Registry.Register(ctx, registry.Version{
			Model:           in.ModelName,
			Metrics:         metrics,
			Importance:      res.Importance,
			AsOf:            in.AsOf,
			DataFingerprint: monthFingerprint(stored, m),
			ArtifactSHA256:  ArtifactSHA256(artifact),
			RunID:           in.runKey(),
		})
		if err != nil {
			return TrainOutput{}, fmt.Errorf("register candidate: %w", err)
		}
	}
	out := TrainOutput{
		ModelName:         in.ModelName,
		Version:           v.Version,
		AsOf:              in.AsOf,
		ArtifactKey:       v.ArtifactKey,
		MetricsKey:        ModelKey(in.ModelName, v.Version, "metrics.json"),
		ValPredictionsKey: ModelKey(in.ModelName, v.Version, "val_predictions.csv"),
		Metrics:           metrics,
	}
	metricsJSON, _ := json.MarshalIndent(metrics, "", "  ")
	var preds bytes.Buffer
	if err := training.WritePredictionsCSV(&preds, res.Predictions); err != nil {
		return out, fmt.Errorf("render predictions: %w", err)
	}
	for _, f := range []struct {
		key  string
		data []byte
	}{{out.ArtifactKey, artifact}, {out.MetricsKey, metricsJSON}, {out.ValPredictionsKey, preds.Bytes()}} {
		if f.data == nil {
			continue // the adopted version's artifact, already stored
		}
		if err := p.putOnce(ctx, f.key, f.data); err != nil {
			// A retry registers a version of its own (it adopts only a
			// version whose files are stored): reject this one now, even if
			// the failure was an interruption, so it is never promoted.
			if derr := p.Registry.Decide(context.WithoutCancel(ctx), in.ModelName, v.Version, registry.StageRejected, registry.Decision{
				Outcome: registry.OutcomeRejected, CandidateAUC: metrics["val_auc"], Reason: fmt.Sprintf("storing %s failed: %v", f.key, err), DecidedAt: p.now(),
			}); derr != nil {
				err = errors.Join(err, derr)
			}
			return out, fmt.Errorf("store %s: %w", f.key, err)
		}
	}
	p.log().Info("candidate registered", "model", in.ModelName, "version", v.Version, "val_auc", metrics["val_auc"], "adopted", adopted)
	return out, nil
}

// versionOfRun finds the version an earlier attempt of the same run
// registered, if any.
func (p *Pipeline) versionOfRun(ctx context.Context, in TrainInput) (registry.Version, bool, error) {
	if in.RunID == "" {
		return registry.Version{}, false, nil
	}
	vs, err := p.Registry.List(ctx, in.ModelName)
	if err != nil {
		return registry.Version{}, false, fmt.Errorf("list %s: %w", in.ModelName, err)
	}
	for i := len(vs) - 1; i >= 0; i-- {
		if vs[i].RunID == in.runKey() && vs[i].Stage == registry.StageNone {
			return vs[i], true, nil
		}
	}
	return registry.Version{}, false, nil
}

// Evaluate scores the current Production model on the month's validation
// users — exactly the users the candidate was validated on — and computes
// the bar a candidate must beat: Production AUC + delta, or min_auc when
// there is no Production model yet (the first run bootstraps). Without
// as_of it only reports whether a Production model exists, with the bar
// from its recorded training metrics.
func (p *Pipeline) Evaluate(ctx context.Context, in EvaluateInput) (EvaluateOutput, error) {
	out, err := p.evaluate(ctx, in)
	return out, boundary("evaluate", err)
}

func (p *Pipeline) evaluate(ctx context.Context, in EvaluateInput) (EvaluateOutput, error) {
	if in.ModelName == "" {
		return EvaluateOutput{}, &InvalidInputError{Msg: "model_name is required"}
	}
	if in.Delta < 0 || in.Delta >= 1 || in.MinAUC < 0 || in.MinAUC >= 1 {
		return EvaluateOutput{}, &InvalidInputError{Msg: fmt.Sprintf("delta %v and min_auc %v must be within [0, 1)", in.Delta, in.MinAUC)}
	}
	out := EvaluateOutput{ModelName: in.ModelName}
	if in.AsOf == "" && (in.ReferenceAsOf != "" || in.CurrentAsOf != "") {
		// CheckProduction, the execution's first step: resolve its months
		// once, for every path (bootstrap or not), before anything runs.
		var err error
		if out.ReferenceAsOf, out.CurrentAsOf, err = p.ResolveAsOfs(ctx, in.ReferenceAsOf, in.CurrentAsOf); err != nil {
			return out, err
		}
	}
	prod, err := p.Registry.Production(ctx, in.ModelName)
	if errors.Is(err, registry.ErrNoProduction) {
		out.Bar = in.MinAUC
		return out, nil
	}
	if err != nil {
		return out, fmt.Errorf("read production: %w", err)
	}
	out.HasProduction = true
	out.Version = prod.Version
	if in.AsOf == "" {
		// Only asked whether a Production model exists (CheckProduction).
		out.ValAUC = prod.Metrics["val_auc"]
		out.Bar = out.ValAUC + in.Delta
		return out, nil
	}
	_, m, err := p.sampleMonth(ctx, "as_of", in.AsOf, in.RowBudget)
	if err != nil {
		return out, err
	}
	model, err := p.LoadModel(ctx, prod)
	if err != nil {
		return out, err
	}
	res, err := training.Evaluate(model, m)
	if err != nil {
		return out, fmt.Errorf("evaluate v%d on %s: %w", prod.Version, in.AsOf, err)
	}
	out.Metrics = res.Metrics.Map()
	out.ValAUC = out.Metrics["val_auc"]
	out.Bar = out.ValAUC + in.Delta
	return out, nil
}

// Compare applies the action the state machine chose: promote (archive the
// old Production and promote the candidate in one transaction, conditioned
// on the Production version Evaluate saw), skip, reject, or record a pending
// approval.
func (p *Pipeline) Compare(ctx context.Context, in CompareInput) (CompareOutput, error) {
	out, err := p.compare(ctx, in)
	return out, boundary("compare", err)
}

func (p *Pipeline) compare(ctx context.Context, in CompareInput) (CompareOutput, error) {
	if in.ModelName == "" || in.CandidateVersion <= 0 {
		return CompareOutput{}, &InvalidInputError{Msg: "model_name and a positive candidate_version are required"}
	}
	d := registry.Decision{
		CandidateAUC:      in.CandidateAUC,
		ProductionAUC:     in.ProductionAUC,
		ProductionVersion: in.ProductionVersion,
		Delta:             in.Delta,
		Bar:               in.Bar,
		Execution:         in.Execution,
		DecidedAt:         p.now(),
	}
	out := CompareOutput{
		Action: in.Action, ModelName: in.ModelName,
		CandidateVersion: in.CandidateVersion, CandidateAUC: in.CandidateAUC,
		ProductionVersion: in.ProductionVersion, ProductionAUC: in.ProductionAUC,
		Delta: in.Delta, Bar: in.Bar,
	}
	if prev, ok, err := p.decidedBefore(ctx, in); err != nil || ok {
		// A retried Lambda, or a local run resumed again after an
		// interrupted approval: this execution already decided.
		if ok && in.Action == ActionPromote {
			out.ProductionVersion, out.ProductionAUC = in.CandidateVersion, in.CandidateAUC
		}
		out.Outcome, out.Decision = prev.Outcome, prev
		return out, err
	}
	var err error
	switch in.Action {
	case ActionPromote:
		d.Outcome = registry.OutcomePromoted
		if in.Approval != nil {
			d.DecidedBy = in.Approval.ApprovedBy
		}
		err = p.PromoteVersion(ctx, in.ModelName, in.CandidateVersion, in.ProductionVersion, d)
		var bad *InvalidArtifactError
		var missing *ModelNotFoundError
		switch {
		case errors.As(err, &bad):
			return out, bad
		case errors.As(err, &missing):
			return out, missing
		}
		out.ProductionVersion, out.ProductionAUC = in.CandidateVersion, in.CandidateAUC
	case ActionSkip:
		d.Outcome = registry.OutcomeSkipped
		d.Reason = fmt.Sprintf("candidate AUC %.4f does not beat the bar %.4f", in.CandidateAUC, in.Bar)
		err = p.Registry.Decide(ctx, in.ModelName, in.CandidateVersion, registry.StageNone, d)
	case ActionReject:
		d.Outcome = registry.OutcomeRejected
		d.Reason = "approval refused"
		if e := in.ApprovalError; e != nil {
			r := e.rejection()
			d.Reason, d.DecidedBy = fmt.Sprintf("approval refused (%s): %s", e.Error, r.Reason), r.DecidedBy
		}
		err = p.Registry.Decide(ctx, in.ModelName, in.CandidateVersion, registry.StageRejected, d)
	case ActionRequestApproval:
		// The token is recorded on the candidate so that whoever approves can
		// find it with `churnops registry list` (locally and on AWS alike).
		if in.TaskToken == "" {
			return out, &InvalidInputError{Msg: "task_token is required for request_approval"}
		}
		d.Outcome = OutcomePendingApproval
		d.ApprovalToken = in.TaskToken
		d.Reason = "waiting for approval; execution " + in.Execution
		err = p.Registry.Decide(ctx, in.ModelName, in.CandidateVersion, registry.StageNone, d)
	default:
		return out, &InvalidInputError{Msg: fmt.Sprintf("unknown action %q (want promote, skip, reject or request_approval)", in.Action)}
	}
	if errors.Is(err, registry.ErrNotFound) {
		return out, &ModelNotFoundError{Msg: err.Error()}
	}
	if errors.Is(err, registry.ErrConflict) {
		return out, &RegistryConflictError{Msg: err.Error()}
	}
	if err != nil {
		return out, fmt.Errorf("%s %s v%d: %w", in.Action, in.ModelName, in.CandidateVersion, err)
	}
	out.Outcome = d.Outcome
	out.Decision = d
	return out, nil
}

// decidedBefore returns the decision in.Execution already recorded on the
// candidate for a promote or a reject, if it did. (A skip and a request for
// approval may simply be recorded again.)
func (p *Pipeline) decidedBefore(ctx context.Context, in CompareInput) (registry.Decision, bool, error) {
	want := map[string]string{ActionPromote: registry.OutcomePromoted, ActionReject: registry.OutcomeRejected}[in.Action]
	if want == "" || in.Execution == "" {
		return registry.Decision{}, false, nil
	}
	v, err := p.Registry.Get(ctx, in.ModelName, in.CandidateVersion)
	switch {
	case errors.Is(err, registry.ErrNotFound):
		return registry.Decision{}, false, nil // Compare reports it
	case err != nil:
		return registry.Decision{}, false, fmt.Errorf("read %s v%d: %w", in.ModelName, in.CandidateVersion, err)
	}
	if d := v.Decision; d != nil && d.Execution == in.Execution && d.Outcome == want {
		return *d, true, nil
	}
	return registry.Decision{}, false, nil
}
