package dashboard

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/drift"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/registry"
)

// Sources are the stores the page is built from: the ones the pipeline
// writes to, on a laptop (internal/localstore) or on AWS (S3, DynamoDB).
type Sources struct {
	// Model is the registry model name, e.g. "churn".
	Model    string
	Registry registry.Registry
	// Blobs holds the execution records (reports/executions/), the drift
	// reports (reports/drift/) and the batch-score summaries
	// (reports/scores/).
	Blobs blob.Store
	// Approvals, when set, lists the executions paused for approval (the
	// embedded default keeps them there). Nil on AWS, where Step Functions
	// holds them: the page then lists the versions whose decision is
	// pending_approval, with the token recorded on them.
	Approvals registry.Approvals
	// Target is appended to the commands the page prints, so that they
	// work when pasted anywhere: the flags that address the stores and
	// the model, ready for a shell ("--state /abs/path" locally, "--backend
	// aws" on AWS, plus "--model-name NAME" for another model than churn).
	Target string
	// Now stamps the page; default time.Now.
	Now func() time.Time
	// Cache, if set, keeps decoded documents across builds (a server).
	Cache *Cache
}

// Build reads the sources and computes the page. Only the registry is
// essential: an unreadable execution record, drift report or score
// summary is left out and named in Page.Problems.
func Build(ctx context.Context, src Sources) (*Page, error) {
	switch {
	case src.Model == "":
		return nil, errors.New("dashboard: Sources.Model is required")
	case src.Registry == nil || src.Blobs == nil:
		return nil, errors.New("dashboard: Sources.Registry and Sources.Blobs are required")
	}
	now := time.Now
	if src.Now != nil {
		now = src.Now
	}
	p := &Page{Model: src.Model, GeneratedAt: now().UTC(), Target: src.Target}
	versions, err := src.Registry.List(ctx, src.Model)
	if err != nil {
		return nil, fmt.Errorf("dashboard: registry: %w", err)
	}
	b := &builder{src: src, page: p}
	if err := b.readRecords(ctx); err != nil {
		return nil, err
	}
	if err := b.readReports(ctx); err != nil {
		return nil, err
	}
	b.collectDecisions()
	b.executions()
	b.versions(versions)
	b.health(versions)
	b.drift()
	b.reliance()
	if err := b.approvals(ctx, versions); err != nil {
		return nil, err
	}
	scores, err := latestScores(ctx, src.Blobs)
	if err != nil {
		p.Problems = append(p.Problems, err.Error())
	}
	p.Scores = scores
	return p, nil
}

// builder carries what Build has read between its steps.
type builder struct {
	src     Sources
	page    *Page
	records []recordState // oldest first
	reports []reportAt    // by current month, then reference
	// decisions are the run decisions by candidate version.
	decisions map[int]runDecision
	anchors   map[string]string // execution ARN -> row anchor
}

type recordState struct {
	execlog.Record
	state pipeline.ExecutionState
}

type reportAt struct {
	key string
	*driftScores
}

type runDecision struct {
	registry.Decision
	run string // execution name
}

func (b *builder) problem(err error) { b.page.Problems = append(b.page.Problems, err.Error()) }

// readRecords reads the execution records of this model.
func (b *builder) readRecords(ctx context.Context) error {
	keys, err := execlog.Keys(ctx, b.src.Blobs)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	var recs []execlog.Record
	for _, k := range keys {
		r, ok := b.src.Cache.record(k)
		if !ok {
			if r, err = execlog.Read(ctx, b.src.Blobs, k); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.problem(err)
				continue
			}
			b.src.Cache.putRecord(k, r)
		}
		recs = append(recs, r)
	}
	execlog.SortByStart(recs)
	for _, r := range recs {
		s, err := r.State()
		if err != nil {
			b.problem(err)
			continue
		}
		if model := cmp.Or(s.ModelName, pipeline.DefaultModelName); model != b.src.Model {
			continue
		}
		b.records = append(b.records, recordState{Record: r, state: s})
	}
	return nil
}

// readReports reads the drift reports' scores.
func (b *builder) readReports(ctx context.Context) error {
	keys, err := b.src.Blobs.List(ctx, "reports/drift/")
	if err != nil {
		return fmt.Errorf("dashboard: list drift reports: %w", err)
	}
	for _, k := range keys {
		if !strings.HasSuffix(k, ".json") {
			continue
		}
		r, ok := b.src.Cache.report(k)
		if !ok {
			if r, err = readReport(ctx, b.src.Blobs, k); err != nil {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				b.problem(err)
				continue
			}
			b.src.Cache.putReport(k, r)
		}
		b.reports = append(b.reports, reportAt{key: k, driftScores: r})
	}
	slices.SortStableFunc(b.reports, func(x, y reportAt) int {
		return cmp.Or(strings.Compare(x.Current, y.Current), strings.Compare(x.Reference, y.Reference))
	})
	return nil
}

func readReport(ctx context.Context, s blob.Store, key string) (*driftScores, error) {
	data, err := s.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("read drift report: %w", err)
	}
	var rep drift.Report
	if err := json.Unmarshal(data, &rep); err != nil {
		return nil, fmt.Errorf("drift report %s: %w", key, err)
	}
	if rep.Reference == "" || rep.Current == "" || len(rep.Columns) == 0 {
		return nil, fmt.Errorf("drift report %s: no months or no columns", key)
	}
	d := &driftScores{Reference: rep.Reference, Current: rep.Current, Share: rep.DriftShare, Threshold: rep.Threshold,
		Drifted: rep.DriftedColumns, Columns: len(rep.Columns), Retrain: rep.Retrain}
	for _, c := range rep.Columns {
		d.Tests = append(d.Tests, drift.ColumnResult{Column: c.Column, Type: c.Type, Test: c.Test, Score: c.Score,
			StatThreshold: c.StatThreshold, Drifted: c.Drifted, Constant: c.Constant})
	}
	return d, nil
}

// collectDecisions gathers the decision each run made on each candidate:
// a bootstrap's and a retrain's (an execution can make both), and the
// comparison of a candidate still waiting for approval.
func (b *builder) collectDecisions() {
	b.decisions = map[int]runDecision{}
	for _, r := range b.records {
		s := r.state
		if d := s.Bootstrap; d != nil && d.CandidateVersion > 0 {
			b.decisions[d.CandidateVersion] = runDecision{d.Decision, r.Name}
		}
		if s.Compare != nil && s.Compare.Decision.CandidateVersion > 0 {
			d := s.Compare.Decision
			b.decisions[d.CandidateVersion] = runDecision{d.Decision, r.Name}
		}
		if r.Status == "PAUSED" && s.Candidate != nil && s.Production != nil {
			b.decisions[s.Candidate.Version] = runDecision{registry.Decision{
				Outcome: pipeline.OutcomePendingApproval, CandidateAUC: s.Candidate.ValAUC,
				ProductionAUC: s.Production.ValAUC, ProductionVersion: s.Production.Version,
				Delta: s.Delta, Bar: s.Production.Bar, DecidedAt: r.Stop,
			}, r.Name}
		}
	}
}

// executions fills Page.Executions, newest first.
func (b *builder) executions() {
	b.anchors = map[string]string{}
	used := map[string]bool{}
	for i := len(b.records) - 1; i >= 0; i-- {
		r := b.records[i]
		anchor := "run-" + slug(r.Name)
		for n := 2; used[anchor]; n++ {
			anchor = fmt.Sprintf("run-%s-%d", slug(r.Name), n)
		}
		used[anchor] = true
		b.anchors[r.ExecutionARN] = anchor
		e := Execution{
			Name: r.Name, Anchor: anchor, Start: r.Start, Duration: r.Duration(),
			Reference: r.ReferenceAsOf, Current: r.CurrentAsOf,
			Status: r.Status, Outcome: r.Outcome, Error: r.Error, Cause: causeMessage(r.Cause),
		}
		for _, v := range r.States {
			e.Path = append(e.Path, Step{Name: v.Name, Type: v.Type, Duration: v.Duration, Retries: v.Retries, Error: v.Error, Waiting: v.Waiting})
		}
		s := r.state
		if s.Run != nil && s.Run.Phase == "retrain" && s.Candidate != nil {
			e.Candidate = s.Candidate.Version
		}
		if d := s.Drift; d != nil {
			e.HasDrift, e.DriftShare = true, d.DriftShare
			e.ReportHref = reportHref(d.ReportHTMLKey)
		}
		b.page.Executions = append(b.page.Executions, e)
	}
}

// manual reports a decision a person made by hand: a rollback, or a
// promotion with a reason (a run's promotions have none; see
// cmd/churnops registry promote).
func manual(d *registry.Decision) bool {
	return d != nil && (d.Outcome == registry.OutcomeRolledBack || d.Outcome == registry.OutcomePromoted && d.Reason != "")
}

// versions fills Page.Versions (newest first), Production and Manual.
func (b *builder) versions(vs []registry.Version) {
	for i := len(vs) - 1; i >= 0; i-- {
		v := vs[i]
		row := Version{Number: v.Version, Stage: v.Stage, AsOf: v.AsOf, Metrics: v.Metrics, Fingerprint: v.DataFingerprint, Created: v.CreatedAt,
			Importance: registry.RankImportance(v.Importance)}
		if v.RunID != "" {
			arn, phase, _ := strings.Cut(v.RunID, "#")
			row.Run, row.Phase, row.RunAnchor = arn[strings.LastIndexByte(arn, ':')+1:], phase, b.anchors[arn]
		}
		if d, ok := b.decisions[v.Version]; ok {
			dd := d.Decision
			row.Decision = &dd
		} else if v.Decision != nil && !manual(v.Decision) {
			row.Decision = v.Decision
		}
		if manual(v.Decision) {
			row.Last = v.Decision
			d := v.Decision
			b.page.Manual = append(b.page.Manual, ManualChange{Outcome: d.Outcome, Version: v.Version, Replaced: d.ProductionVersion, At: d.DecidedAt, Reason: d.Reason})
		}
		b.page.Versions = append(b.page.Versions, row)
		if v.Stage == registry.StageProduction {
			prod := row
			b.page.Production = &prod
		}
	}
	slices.SortStableFunc(b.page.Manual, func(x, y ManualChange) int { return y.At.Compare(x.At) })
}

// health fills Page.Health: every candidate a run (or, without a record,
// the registry) compared with Production, by training month.
func (b *builder) health(vs []registry.Version) {
	for _, v := range vs {
		var d registry.Decision
		run := ""
		if rd, ok := b.decisions[v.Version]; ok {
			d, run = rd.Decision, rd.run
		} else if v.Decision != nil && !manual(v.Decision) {
			d = *v.Decision
		} else {
			continue
		}
		auc := d.CandidateAUC
		if auc == 0 {
			auc = v.Metrics["val_auc"]
		}
		b.page.Health = append(b.page.Health, HealthPoint{
			Month: v.AsOf, Run: run, CandidateVersion: v.Version, CandidateAUC: auc,
			HasProduction: d.ProductionVersion > 0, ProductionVersion: d.ProductionVersion, ProductionAUC: d.ProductionAUC,
			Bar: d.Bar, Outcome: d.Outcome,
		})
	}
	slices.SortStableFunc(b.page.Health, func(x, y HealthPoint) int {
		return cmp.Or(strings.Compare(x.Month, y.Month), x.CandidateVersion-y.CandidateVersion)
	})
}

// drift fills Page.Drift: a point per run that measured drift (plus one
// per report no recorded run produced), and the heatmap of the reports.
func (b *builder) drift() {
	dr := &b.page.Drift
	measured := map[string]bool{}
	type at struct {
		DriftPoint
		start time.Time
	}
	var points []at
	for _, r := range b.records {
		d := r.state.Drift
		if d == nil {
			continue
		}
		thr := d.Threshold
		if thr == 0 {
			thr = r.state.Threshold
		}
		href := reportHref(d.ReportHTMLKey)
		measured[href] = true
		points = append(points, at{DriftPoint{
			Reference: d.ReferenceAsOf, Current: d.CurrentAsOf, Share: d.DriftShare, Threshold: thr,
			Drifted: d.DriftedColumns, Columns: d.Columns, Retrain: d.DriftShare >= thr, Run: r.Name, ReportHref: href,
		}, r.Start})
	}
	for _, rep := range b.reports {
		href := reportHref(strings.TrimSuffix(rep.key, ".json") + ".html")
		dr.Months = append(dr.Months, DriftMonth{Reference: rep.Reference, Current: rep.Current, Share: rep.Share, ReportHref: href})
		if !measured[href] {
			points = append(points, at{DriftPoint{
				Reference: rep.Reference, Current: rep.Current, Share: rep.Share, Threshold: rep.Threshold,
				Drifted: rep.Drifted, Columns: rep.Columns, Retrain: rep.Retrain, ReportHref: href,
			}, time.Time{}})
		}
	}
	slices.SortStableFunc(points, func(x, y at) int {
		return cmp.Or(strings.Compare(x.Current, y.Current), x.start.Compare(y.start))
	})
	for _, p := range points {
		dr.Points = append(dr.Points, p.DriftPoint)
	}
	// Columns in the newest report's order, then any only older ones have.
	seen := map[string]int{}
	for i := len(b.reports) - 1; i >= 0; i-- {
		for _, c := range b.reports[i].Tests {
			if _, ok := seen[c.Column]; !ok {
				seen[c.Column] = len(dr.Columns)
				dr.Columns = append(dr.Columns, c.Column)
			}
		}
	}
	dr.Cells = make([][]DriftCell, len(dr.Columns))
	for i := range dr.Cells {
		dr.Cells[i] = make([]DriftCell, len(b.reports))
	}
	for j, rep := range b.reports {
		for _, c := range rep.Tests {
			dr.Cells[seen[c.Column]][j] = DriftCell{Present: true, Test: c.Test, Score: c.Score,
				StatThreshold: c.StatThreshold, Drifted: c.Drifted, Level: level(c)}
		}
	}
}

// reliance fills Drift.Shares and Drift.Relied from the Production
// version's importance.
func (b *builder) reliance() {
	dr := &b.page.Drift
	prod := b.page.Production
	if prod == nil || len(prod.Importance) == 0 || len(dr.Columns) == 0 {
		return
	}
	share, rank := map[string]float64{}, map[string]int{}
	for i, f := range prod.Importance {
		share[f.Feature], rank[f.Feature] = f.Share, i
	}
	dr.Shares, dr.Relied = make([]float64, len(dr.Columns)), make([]bool, len(dr.Columns))
	newest := len(dr.Months) - 1
	for i, c := range dr.Columns {
		dr.Shares[i] = share[c]
		r, ok := rank[c]
		dr.Relied[i] = ok && r < 3 && newest >= 0 && dr.Cells[i][newest].Drifted
	}
}

// level places a column's score against its test's threshold on one
// scale for every test: 0 is no sign of drift, 1 the threshold, 2 (the
// cap) twice as far. Distances (Wasserstein, Jensen-Shannon) drift at or
// above their threshold: score / threshold. p-values drift below theirs:
// log p / log threshold, so p = threshold is 1 and p = threshold² is 2.
func level(c drift.ColumnResult) float64 {
	var l float64
	switch c.Test {
	case drift.TestKS, drift.TestChiSquare, drift.TestZ:
		switch {
		case c.Score <= 0:
			l = 2
		case c.Score >= 1 || c.StatThreshold <= 0 || c.StatThreshold >= 1:
			l = 0
		default:
			l = math.Log(c.Score) / math.Log(c.StatThreshold)
		}
	default:
		if c.StatThreshold > 0 {
			l = c.Score / c.StatThreshold
		}
	}
	if math.IsNaN(l) {
		l = 0
	}
	l = min(max(l, 0), 2)
	// The report's verdict decides which side of the threshold a cell is.
	if c.Drifted {
		return max(l, 1)
	}
	return min(l, 0.999)
}

// approvals fills Page.Approvals.
func (b *builder) approvals(ctx context.Context, vs []registry.Version) error {
	p := b.page
	if b.src.Approvals != nil {
		aps, err := b.src.Approvals.List(ctx)
		if err != nil {
			return fmt.Errorf("dashboard: approvals: %w", err)
		}
		for _, ap := range aps {
			if ap.Info.Model != "" && ap.Info.Model != b.src.Model {
				continue
			}
			a := Approval{Token: ap.Token, Version: ap.Info.Version, CandidateAUC: ap.Info.CandidateAUC,
				ProductionAUC: ap.Info.ProductionAUC, Since: ap.Info.CreatedAt}
			if d, ok := b.decisions[ap.Info.Version]; ok && d.Outcome == pipeline.OutcomePendingApproval {
				a.Bar = d.Bar
			}
			p.Approvals = append(p.Approvals, a)
		}
	} else {
		for _, v := range vs {
			if d := v.Decision; d != nil && d.Outcome == pipeline.OutcomePendingApproval && d.ApprovalToken != "" {
				p.Approvals = append(p.Approvals, Approval{Token: d.ApprovalToken, Version: v.Version,
					CandidateAUC: d.CandidateAUC, ProductionAUC: d.ProductionAUC, Bar: d.Bar, Since: d.DecidedAt})
			}
		}
	}
	for i := range p.Approvals {
		a := &p.Approvals[i]
		a.Approve, a.Reject = b.command("approve", a.Token), b.command("reject", a.Token)
	}
	slices.SortStableFunc(p.Approvals, func(x, y Approval) int { return x.Since.Compare(y.Since) })
	return nil
}

// command is the CLI command that answers an approval.
func (b *builder) command(verb, token string) string {
	return strings.TrimSpace("churnops registry " + verb + " " + token + " " + b.src.Target)
}

// reportHref is a report's link relative to reports/ ("" for a key
// outside reports/).
func reportHref(key string) string {
	href, ok := strings.CutPrefix(key, "reports/")
	if !ok {
		return ""
	}
	return href
}

// causeMessage is the message of a failure's cause: Lambda-style causes
// are JSON ({"errorMessage": …, "errorType": …}), others plain text.
func causeMessage(cause string) string {
	var lambda struct {
		Message string `json:"errorMessage"`
	}
	if json.Unmarshal([]byte(cause), &lambda) == nil && lambda.Message != "" {
		cause = lambda.Message
	}
	const max = 600
	if len(cause) > max {
		cause = cause[:max] + "…"
	}
	return cause
}

// slug keeps letters, digits and '-' of s for an HTML id.
func slug(s string) string {
	var b strings.Builder
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	return b.String()
}
