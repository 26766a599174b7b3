package asl

import (
	"context"
	"fmt"
	"strings"
)

// resultWriter is a compiled ResultWriter: where a DISTRIBUTED Map writes
// its children's results instead of returning them.
type resultWriter struct {
	params *tmpl // Bucket and Prefix, ".$" allowed
}

func (p *parser) parseResultWriter(f objFields) *resultWriter {
	wf, ok := f.object("ResultWriter")
	if !ok {
		return nil
	}
	for _, k := range sortedKeys(wf.m) {
		switch k {
		case "Resource", "Parameters":
		case "WriterConfig":
			wf.errf(k, "WriterConfig is not supported by this executor; results are written as Step Functions writes them by default")
		default:
			wf.errf(k, "unknown field in a ResultWriter")
		}
	}
	if res, ok := wf.str("Resource"); res != resPutObject {
		if ok || !wf.has("Resource") {
			wf.errf("Resource", "a ResultWriter's Resource must be %s", resPutObject)
		}
	}
	return &resultWriter{params: s3Params(wf, []string{"Bucket", "Prefix"}, []string{"Bucket"})}
}

// writeResults writes what Step Functions writes for a Map Run, under
// Prefix/<map run id>/: SUCCEEDED_0.json, FAILED_0.json and PENDING_0.json
// (JSON arrays of the children's execution records, each written only
// when it has any) and manifest.json listing them. The state's result is
// {"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}, Key being the
// manifest's.
func (x *run) writeResults(ctx context.Context, mr *mapRun, env *evalEnv) (any, *stateError) {
	failed := func(format string, args ...any) *stateError {
		return &stateError{Name: ErrorResultWriterFailed, Cause: fmt.Sprintf(format, args...)}
	}
	store := x.r.ObjectStore
	if store == nil {
		return nil, failed("the Map writes its results to S3 but Runner.ObjectStore is not set")
	}
	args, serr := x.s3Args(mr.spec.writer.params, env, "ResultWriter.Parameters", ErrorResultWriterFailed)
	if serr != nil {
		return nil, serr
	}
	bucket, dir := args["Bucket"], args["Prefix"]
	if dir != "" && !strings.HasSuffix(dir, "/") {
		dir += "/"
	}
	dir += mr.id + "/"
	files := map[string][]any{"SUCCEEDED": {}, "FAILED": {}, "PENDING": {}}
	groups := map[string][]any{}
	for i := range mr.items {
		rec, group := mr.record(i)
		groups[group] = append(groups[group], rec)
	}
	for _, group := range []string{"SUCCEEDED", "FAILED", "PENDING"} {
		if len(groups[group]) == 0 {
			continue
		}
		key := dir + group + "_0.json"
		data, err := toJSON(groups[group])
		if err != nil {
			return nil, failed("encoding %s: %v", key, err)
		}
		if err := store.PutObject(ctx, bucket, key, data); err != nil {
			return nil, failed("writing s3://%s/%s: %v", bucket, key, err)
		}
		files[group] = append(files[group], map[string]any{"Key": key, "Size": len(data)})
	}
	manifest := map[string]any{"DestinationBucket": bucket, "MapRunArn": mr.arn, "ResultFiles": files}
	key := dir + "manifest.json"
	data, err := toJSON(manifest)
	if err != nil {
		return nil, failed("encoding %s: %v", key, err)
	}
	if err := store.PutObject(ctx, bucket, key, data); err != nil {
		return nil, failed("writing s3://%s/%s: %v", bucket, key, err)
	}
	return map[string]any{
		"MapRunArn":           mr.arn,
		"ResultWriterDetails": map[string]any{"Bucket": bucket, "Key": key},
	}, nil
}
