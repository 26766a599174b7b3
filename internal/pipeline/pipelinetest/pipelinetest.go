// Package pipelinetest helps tests of the pipeline and its users store
// generated months the way `churnops ingest` stores a month directory:
// through the sharded ingest's steps.
package pipelinetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/churnops/churnops/internal/pipeline"
	"github.com/churnops/churnops/internal/snapshot"
)

// IngestMonth writes m in the lab's CSV layout under a new directory of
// tmp and ingests it with p (which it lets read local directories), as
// `churnops ingest --data DIR --as-of m.AsOf` does.
func IngestMonth(ctx context.Context, p *pipeline.Pipeline, m *snapshot.Month, tmp string, opts pipeline.IngestOptions) (pipeline.IngestOutput, error) {
	dir, err := os.MkdirTemp(tmp, "month-")
	if err != nil {
		return pipeline.IngestOutput{}, err
	}
	defer os.RemoveAll(dir)
	month := filepath.Join(dir, "m")
	if err := snapshot.WriteCSVDir(month, m); err != nil {
		return pipeline.IngestOutput{}, fmt.Errorf("pipelinetest: %w", err)
	}
	p.LocalDirs = true
	return p.Ingest(ctx, pipeline.Incoming{Dir: month, AsOf: m.AsOf.Format(snapshot.DateLayout)}, opts)
}
