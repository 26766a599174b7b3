package asl

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// ItemReader and ResultWriter resources: the S3 calls a DISTRIBUTED Map
// makes itself, without a Task.
const (
	resListObjects = "arn:aws:states:::s3:listObjectsV2"
	resGetObject   = "arn:aws:states:::s3:getObject"
	resPutObject   = "arn:aws:states:::s3:putObject"
)

// maxReaderItems is the most items Step Functions reads (MaxItems' bound).
const maxReaderItems = 100000000

// itemReader is a compiled ItemReader: a listing of objects, or one
// object holding a JSON array, JSON Lines or CSV rows.
type itemReader struct {
	list       bool
	params     *tmpl    // Bucket and Prefix (list) or Key (get), ".$" allowed
	inputType  string   // JSON, JSONL or CSV (get)
	csvHeaders []string // CSVHeaderLocation GIVEN; nil reads the first row
	maxItems   limit
}

func (p *parser) parseItemReader(f objFields) *itemReader {
	rf, ok := f.object("ItemReader")
	if !ok {
		return nil
	}
	rf.unknown([]string{"Resource", "Parameters", "ReaderConfig"}, "an ItemReader")
	r := &itemReader{}
	res, ok := rf.str("Resource")
	switch {
	case !ok:
		if !rf.has("Resource") {
			rf.errf("Resource", "an ItemReader needs a Resource: %s or %s", resListObjects, resGetObject)
		}
	case res == resListObjects:
		r.list = true
		r.params = s3Params(rf, []string{"Bucket", "Prefix"}, []string{"Bucket"})
	case res == resGetObject:
		r.params = s3Params(rf, []string{"Bucket", "Key"}, []string{"Bucket", "Key"})
	default:
		rf.errf("Resource", "%q is not supported: this executor reads items with %s or %s", res, resListObjects, resGetObject)
	}
	cf, hasCfg := rf.object("ReaderConfig")
	if !hasCfg {
		if res == resGetObject {
			rf.errf("ReaderConfig", "an s3:getObject ItemReader needs ReaderConfig.InputType (JSON, JSONL or CSV)")
		}
		return r
	}
	allowed := []string{"MaxItems", "MaxItemsPath"}
	if !r.list {
		allowed = append(allowed, "InputType", "CSVHeaderLocation", "CSVHeaders")
	}
	for _, k := range sortedKeys(cf.m) {
		switch {
		case slices.Contains(allowed, k):
		case k == "Transformation" || k == "ItemsPointer" || k == "CSVDelimiter" || k == "ManifestType":
			cf.errf(k, "%s is not supported by this executor", k)
		case slices.Contains([]string{"InputType", "CSVHeaderLocation", "CSVHeaders"}, k):
			cf.errf(k, "not used by an s3:listObjectsV2 ItemReader")
		default:
			cf.errf(k, "unknown field in a ReaderConfig")
		}
	}
	r.maxItems = p.limit(cf, "MaxItems", true, 0, maxReaderItems)
	if r.list {
		return r
	}
	switch it, _ := cf.str("InputType"); it {
	case "JSON", "JSONL", "CSV":
		r.inputType = it
	case "":
		cf.errf("InputType", "an s3:getObject ItemReader needs InputType JSON, JSONL or CSV")
	case "MANIFEST", "PARQUET":
		cf.errf("InputType", "%s is not supported by this executor; use JSON, JSONL or CSV", it)
	default:
		cf.errf("InputType", "must be JSON, JSONL or CSV, got %q", it)
	}
	loc, hasLoc := cf.str("CSVHeaderLocation")
	switch {
	case (hasLoc || cf.has("CSVHeaders")) && r.inputType != "CSV":
		cf.errf("CSVHeaderLocation", "CSV headers apply to InputType CSV only")
	case loc == "GIVEN":
		hs, ok := cf.m["CSVHeaders"].([]any)
		if !ok || len(hs) == 0 {
			cf.errf("CSVHeaders", "CSVHeaderLocation GIVEN needs a non-empty CSVHeaders array of strings")
		}
		for i, h := range hs {
			s, ok := h.(string)
			if !ok {
				cf.errf(fmt.Sprintf("CSVHeaders[%d]", i), "must be a string, got %s", jsonTypeName(h))
			}
			r.csvHeaders = append(r.csvHeaders, s)
		}
	case hasLoc && loc != "FIRST_ROW":
		cf.errf("CSVHeaderLocation", "must be FIRST_ROW or GIVEN, got %q", loc)
	case cf.has("CSVHeaders"):
		cf.errf("CSVHeaders", "only with CSVHeaderLocation GIVEN")
	}
	return r
}

// s3Params compiles the Parameters of an ItemReader or ResultWriter,
// which may only name the given S3 parameters (each literal or ".$").
func s3Params(f objFields, allowed, required []string) *tmpl {
	pf, ok := f.object("Parameters")
	if !ok {
		if !f.has("Parameters") {
			f.errf("Parameters", "needs Parameters with %s", strings.Join(required, " and "))
		}
		return nil
	}
	for _, k := range sortedKeys(pf.m) {
		if !slices.Contains(allowed, strings.TrimSuffix(k, ".$")) {
			pf.errf(k, "not supported here (allowed: %s, each also as a path with .$)", strings.Join(allowed, ", "))
		}
	}
	for _, k := range required {
		if !pf.has(k) && !pf.has(k+".$") {
			pf.errf(k, "missing")
		}
	}
	return f.template("Parameters")
}

// s3Args evaluates an ItemReader's or ResultWriter's Parameters into
// strings.
func (x *run) s3Args(params *tmpl, env *evalEnv, field, errName string) (map[string]string, *stateError) {
	v, serr := params.eval(env, field)
	if serr != nil {
		return nil, serr
	}
	out := map[string]string{}
	for k, val := range v.(map[string]any) {
		s, ok := val.(string)
		if !ok {
			return nil, &stateError{Name: errName, Cause: fmt.Sprintf("%s.%s must be a string, got %s", field, k, rawJSON(val))}
		}
		out[k] = s
	}
	return out, nil
}

// readItems runs an ItemReader. Failures are States.ItemReaderFailed, as
// on AWS, except path errors in its Parameters (States.Runtime).
func (x *run) readItems(ctx context.Context, r *itemReader, env *evalEnv) ([]any, *stateError) {
	failed := func(format string, args ...any) *stateError {
		return &stateError{Name: ErrorItemReaderFailed, Cause: fmt.Sprintf(format, args...)}
	}
	store := x.r.ObjectStore
	if store == nil {
		return nil, failed("the Map reads items from S3 but Runner.ObjectStore is not set")
	}
	args, serr := x.s3Args(r.params, env, "ItemReader.Parameters", ErrorItemReaderFailed)
	if serr != nil {
		return nil, serr
	}
	max, serr := r.maxItems.resolve(env, true, 0, maxReaderItems)
	if serr != nil {
		return nil, serr
	}
	limit := int(max)
	if limit == 0 {
		limit = maxReaderItems
	}
	bucket := args["Bucket"]
	if r.list {
		objs, err := store.ListObjects(ctx, bucket, args["Prefix"])
		if err != nil {
			return nil, failed("listing s3://%s/%s: %v", bucket, args["Prefix"], err)
		}
		items := make([]any, 0, min(len(objs), limit))
		for _, o := range objs[:min(len(objs), limit)] {
			sc := o.StorageClass
			if sc == "" {
				sc = "STANDARD"
			}
			items = append(items, map[string]any{
				"Etag":         o.ETag,
				"Key":          o.Key,
				"LastModified": json.Number(strconv.FormatInt(o.LastModified.Unix(), 10)),
				"Size":         json.Number(strconv.FormatInt(o.Size, 10)),
				"StorageClass": sc,
			})
		}
		return items, nil
	}
	key := args["Key"]
	data, err := store.GetObject(ctx, bucket, key)
	if err != nil {
		return nil, failed("reading s3://%s/%s: %v", bucket, key, err)
	}
	items, err := decodeItems(data, r.inputType, r.csvHeaders, limit)
	if err != nil {
		return nil, failed("s3://%s/%s: %v", bucket, key, err)
	}
	return items, nil
}

// decodeItems reads up to limit items from one object: a JSON array, JSON
// Lines (blank lines skipped) or CSV rows, each row an object of strings
// keyed by the header (a missing field is "", an extra one dropped).
func decodeItems(data []byte, inputType string, headers []string, limit int) ([]any, error) {
	switch inputType {
	case "JSON":
		v, err := parseJSON(data)
		if err != nil {
			return nil, fmt.Errorf("not valid JSON: %v", err)
		}
		arr, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("InputType JSON needs a JSON array, got %s", jsonTypeName(v))
		}
		return arr[:min(len(arr), limit)], nil
	case "JSONL":
		var items []any
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, len(data)+1)
		for line := 1; sc.Scan() && len(items) < limit; line++ {
			if len(bytes.TrimSpace(sc.Bytes())) == 0 {
				continue
			}
			v, err := parseJSON(sc.Bytes())
			if err != nil {
				return nil, fmt.Errorf("line %d is not valid JSON: %v", line, err)
			}
			items = append(items, v)
		}
		return items, sc.Err()
	case "CSV":
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		if headers == nil {
			row, err := cr.Read()
			if err != nil {
				return nil, fmt.Errorf("CSV header: %v", err)
			}
			headers = row
		}
		var items []any
		for len(items) < limit {
			row, err := cr.Read()
			if err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("CSV: %v", err)
			}
			obj := make(map[string]any, len(headers))
			for i, h := range headers {
				obj[h] = ""
				if i < len(row) {
					obj[h] = row[i]
				}
			}
			items = append(items, obj)
		}
		return items, nil
	}
	return nil, fmt.Errorf("unknown InputType %q", inputType)
}
