package asl_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/churnops/churnops/internal/asl"
	"github.com/churnops/churnops/internal/asl/objectstoretest"
)

const bucket = "churnops-data"

// readerRun runs map_reader.asl.json with reader as its ItemReader over
// store, and returns the inputs its iterations received, in item order.
func readerRun(t *testing.T, reader string, store asl.ObjectStore, input string) (*asl.Execution, []json.RawMessage) {
	t.Helper()
	m := load(t, "map_reader.asl.json", map[string]string{"Reader": reader})
	var mu sync.Mutex
	var got []json.RawMessage
	r, _ := newRunner(m, asl.Handlers{"part": func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, in)
		return json.RawMessage(`"ok"`), nil
	}})
	r.ObjectStore = store
	return run(t, r, input), got // MaxConcurrency 1: in item order
}

func TestMapItemReaderListObjects(t *testing.T) {
	store := objectstoretest.NewMemory(bucket)
	parts := []string{
		"incoming/as_of=2024-01-31/users/part-00000.csv",
		"incoming/as_of=2024-01-31/users/part-00001.csv",
		"incoming/as_of=2024-01-31/usage_agg_30d/part-00000.csv",
	}
	for i, k := range append(parts, "incoming/as_of=2024-02-29/users/part-00000.csv", "other/x") {
		if err := store.PutObject(context.Background(), bucket, k, []byte(strings.Repeat("x", 10*i+1))); err != nil {
			t.Fatal(err)
		}
	}
	listing, err := store.ListObjects(context.Background(), bucket, "incoming/as_of=2024-01-31/")
	if err != nil || len(listing) != 3 {
		t.Fatalf("listing %v, %v", listing, err)
	}
	tests := []struct {
		name, reader string
		want         int
	}{
		{"Bucket and Prefix from the input", `{"Resource": "arn:aws:states:::s3:listObjectsV2",
			"Parameters": {"Bucket.$": "$.bucket", "Prefix.$": "States.Format('incoming/as_of={}/', $.as_of)"}}`, 3},
		{"MaxItems", `{"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"MaxItems": 2},
			"Parameters": {"Bucket": "churnops-data", "Prefix": "incoming/as_of=2024-01-31/"}}`, 2},
		{"MaxItemsPath", `{"Resource": "arn:aws:states:::s3:listObjectsV2", "ReaderConfig": {"MaxItemsPath": "$.max_items"},
			"Parameters": {"Bucket": "churnops-data", "Prefix": "incoming/as_of=2024-01-31/"}}`, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, got := readerRun(t, tc.reader, store, `{"bucket": "churnops-data", "as_of": "2024-01-31", "max_items": 1}`)
			assertStatus(t, ex, asl.StatusSucceeded, "")
			if len(got) != tc.want {
				t.Fatalf("%d iterations, want %d", len(got), tc.want)
			}
			for i, in := range got {
				o := listing[i] // sorted by key, as S3 lists
				assertJSON(t, in, fmt.Sprintf(`{"index": %d, "item": {"Etag": %q, "Key": %q, "LastModified": %d, "Size": %d, "StorageClass": "STANDARD"}}`,
					i, o.ETag, o.Key, o.LastModified.Unix(), o.Size))
			}
		})
	}
}

func TestMapItemReaderGetObject(t *testing.T) {
	store := objectstoretest.NewMemory(bucket)
	objects := map[string]string{
		"manifest.json":   `{"shards": 2}`,
		"shards.json":     `[{"shard": 0, "rows": 250000}, {"shard": 1, "rows": 249731}, {"shard": 2, "rows": 12}]`,
		"shards.jsonl":    "{\"shard\": 0}\n\n{\"shard\": 1}\n",
		"users.csv":       "user_id,plan\n7590-VHVEG,basic\n\"5575-GNVDE\",\"premium, yearly\"\n",
		"headerless.csv":  "7590-VHVEG,basic\n5575-GNVDE\n",
		"broken.jsonl":    "{\"shard\": 0}\n{\"shard\":\n",
		"broken.csv":      "user_id,plan\n\"7590-VHVEG,basic\n",
		"not-json.json":   `[{"shard": 0}`,
		"empty-list.json": `[]`,
	}
	for k, v := range objects {
		if err := store.PutObject(context.Background(), bucket, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	reader := func(key, config string) string {
		return fmt.Sprintf(`{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": %s, "Parameters": {"Bucket": %q, "Key": %q}}`, config, bucket, key)
	}
	tests := []struct {
		name, reader string
		want         []string // iteration items
		wantError    string
	}{
		{"JSON array", reader("shards.json", `{"InputType": "JSON"}`),
			[]string{`{"shard": 0, "rows": 250000}`, `{"shard": 1, "rows": 249731}`, `{"shard": 2, "rows": 12}`}, ""},
		{"JSON with MaxItems", reader("shards.json", `{"InputType": "JSON", "MaxItems": 1}`), []string{`{"shard": 0, "rows": 250000}`}, ""},
		{"JSON, empty", reader("empty-list.json", `{"InputType": "JSON"}`), nil, ""},
		{"JSON Lines", reader("shards.jsonl", `{"InputType": "JSONL"}`), []string{`{"shard": 0}`, `{"shard": 1}`}, ""},
		{"CSV with a header row", reader("users.csv", `{"InputType": "CSV"}`),
			[]string{`{"user_id": "7590-VHVEG", "plan": "basic"}`, `{"user_id": "5575-GNVDE", "plan": "premium, yearly"}`}, ""},
		{"CSV with given headers", reader("headerless.csv", `{"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["user_id", "plan"]}`),
			[]string{`{"user_id": "7590-VHVEG", "plan": "basic"}`, `{"user_id": "5575-GNVDE", "plan": ""}`}, ""},
		{"missing object", reader("nope.json", `{"InputType": "JSON"}`), nil, asl.ErrorItemReaderFailed},
		{"JSON that is not an array", reader("manifest.json", `{"InputType": "JSON"}`), nil, asl.ErrorItemReaderFailed},
		{"invalid JSON", reader("not-json.json", `{"InputType": "JSON"}`), nil, asl.ErrorItemReaderFailed},
		{"invalid JSON line", reader("broken.jsonl", `{"InputType": "JSONL"}`), nil, asl.ErrorItemReaderFailed},
		{"invalid CSV", reader("broken.csv", `{"InputType": "CSV"}`), nil, asl.ErrorItemReaderFailed},
		{"unknown bucket", `{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
			"Parameters": {"Bucket": "elsewhere", "Key": "shards.json"}}`, nil, asl.ErrorItemReaderFailed},
		{"Key path selects nothing", `{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
			"Parameters": {"Bucket": "churnops-data", "Key.$": "$.manifest_key"}}`, nil, asl.ErrorRuntime},
		{"Key path to a number", `{"Resource": "arn:aws:states:::s3:getObject", "ReaderConfig": {"InputType": "JSON"},
			"Parameters": {"Bucket": "churnops-data", "Key.$": "$.n"}}`, nil, asl.ErrorItemReaderFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ex, got := readerRun(t, tc.reader, store, `{"n": 3}`)
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
				return
			}
			assertStatus(t, ex, asl.StatusSucceeded, "")
			if len(got) != len(tc.want) {
				t.Fatalf("%d iterations %s, want %d", len(got), got, len(tc.want))
			}
			for i, in := range got {
				assertJSON(t, in, fmt.Sprintf(`{"index": %d, "item": %s}`, i, tc.want[i]))
			}
		})
	}
}

func TestMapNeedsAnObjectStore(t *testing.T) {
	for _, fixture := range []string{"map_reader.asl.json", "map_writer.asl.json"} {
		t.Run(fixture, func(t *testing.T) {
			m := load(t, fixture, map[string]string{"Reader": `{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}`})
			r, _ := newRunner(m, asl.Handlers{"part": (&static{out: `{}`}).handle, "score": (&static{out: `{}`}).handle})
			_, err := r.Run(context.Background(), "no-store", nil)
			var missing *asl.MissingObjectStoreError
			if !errors.As(err, &missing) || missing.State == "" {
				t.Fatalf("Run = %v, want a MissingObjectStoreError naming the state", err)
			}
		})
	}
}

// failingStore fails every PutObject.
type failingStore struct{ asl.ObjectStore }

func (failingStore) PutObject(context.Context, string, string, []byte) error {
	return errors.New("AccessDenied")
}

func TestMapResultWriter(t *testing.T) {
	tests := []struct {
		name      string
		tolerate  int
		fail      []int
		store     func(*objectstoretest.Memory) asl.ObjectStore
		wantError string
		wantFiles map[string][]int // results file -> item indexes in it
	}{
		{"all succeed", 0, nil, nil, "", map[string][]int{"SUCCEEDED": {0, 1, 2, 3, 4}}},
		{"a tolerated failure", 1, []int{3}, nil, "", map[string][]int{"SUCCEEDED": {0, 1, 2, 4}, "FAILED": {3}}},
		{"a failure over the threshold: the rest stays pending, results are still written", 0, []int{1}, nil,
			asl.ErrorExceedToleratedFailureThreshold, map[string][]int{"SUCCEEDED": {0}, "FAILED": {1}, "PENDING": {2, 3, 4}}},
		{"the store refuses the results", 0, nil, func(m *objectstoretest.Memory) asl.ObjectStore { return failingStore{m} },
			asl.ErrorResultWriterFailed, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mem := objectstoretest.NewMemory(bucket)
			var store asl.ObjectStore = mem
			if tc.store != nil {
				store = tc.store(mem)
			}
			m := load(t, "map_writer.asl.json", nil)
			r, _ := newRunner(m, asl.Handlers{"score": failing("ScoreError", tc.fail...)})
			r.ObjectStore = store
			ex := run(t, r, fmt.Sprintf(`{"bucket": %q, "tolerate": %d, "shards": [{"index": 0}, {"index": 1}, {"index": 2}, {"index": 3}, {"index": 4}]}`,
				bucket, tc.tolerate))
			if tc.wantError != "" {
				assertStatus(t, ex, asl.StatusFailed, tc.wantError)
			} else {
				assertStatus(t, ex, asl.StatusSucceeded, "")
			}
			if tc.wantFiles == nil {
				return
			}
			runs := findEvents(ex.History, asl.EventMapRunStarted)
			arn := runs[0].Map.RunARN
			id := arn[strings.LastIndexByte(arn, ':')+1:]
			dir := "scores/as_of=2024-01-31/runs/" + id + "/"
			if tc.wantError == "" {
				var out struct {
					Scores struct {
						Manifest string `json:"manifest"`
						MapRun   string `json:"map_run"`
					} `json:"scores"`
				}
				outputOf(t, ex, &out)
				if out.Scores.Manifest != dir+"manifest.json" || out.Scores.MapRun != arn {
					t.Errorf("the state's result %+v, want the manifest's key under %s and the Map Run ARN", out.Scores, dir)
				}
			}
			var manifest struct {
				DestinationBucket string
				MapRunArn         string
				ResultFiles       map[string][]struct {
					Key  string
					Size int
				}
			}
			getJSON(t, mem, dir+"manifest.json", &manifest)
			if manifest.DestinationBucket != bucket || manifest.MapRunArn != arn {
				t.Errorf("manifest %+v, want bucket %s and Map Run %s", manifest, bucket, arn)
			}
			for _, group := range []string{"SUCCEEDED", "FAILED", "PENDING"} {
				files := manifest.ResultFiles[group]
				want := tc.wantFiles[group]
				if len(want) == 0 {
					if len(files) != 0 {
						t.Errorf("%s files %+v, want none", group, files)
					}
					continue
				}
				if len(files) != 1 || files[0].Key != dir+group+"_0.json" {
					t.Fatalf("%s files %+v, want %s_0.json", group, files, group)
				}
				data, err := mem.GetObject(context.Background(), bucket, files[0].Key)
				if err != nil || len(data) != files[0].Size {
					t.Fatalf("%s: %d bytes, %v; the manifest says %d", files[0].Key, len(data), err, files[0].Size)
				}
				var records []map[string]any
				if err := json.Unmarshal(data, &records); err != nil {
					t.Fatal(err)
				}
				if len(records) != len(want) {
					t.Fatalf("%s holds %d records, want %d", files[0].Key, len(records), len(want))
				}
				for i, rec := range records {
					checkRecord(t, group, rec, want[i], arn)
				}
			}
		})
	}
}

// checkRecord checks one child execution record of a results file.
func checkRecord(t *testing.T, group string, rec map[string]any, index int, mapRunARN string) {
	t.Helper()
	input := fmt.Sprintf(`{"index":%d}`, index)
	if rec["Input"] != input || rec["InputDetails"] == nil {
		t.Errorf("%s record %v: want Input %s as JSON text", group, rec, input)
	}
	if group == "PENDING" {
		if rec["Status"] != "PENDING" || len(rec) != 3 {
			t.Errorf("PENDING record %v, want Input, InputDetails and Status only", rec)
		}
		return
	}
	child := strings.Replace(mapRunARN, ":mapRun:", ":execution:", 1) + fmt.Sprintf("-%d", index)
	if rec["ExecutionArn"] != child || rec["Name"] != child[strings.LastIndexByte(child, ':')+1:] ||
		rec["StateMachineArn"] != "arn:aws:states:local:000000000000:stateMachine:retrain/Score" {
		t.Errorf("%s record %v, want child execution %s of retrain/Score", group, rec, child)
	}
	for _, k := range []string{"StartDate", "StopDate", "RedriveStatus", "RedriveStatusReason"} {
		if s, _ := rec[k].(string); s == "" {
			t.Errorf("%s record %v has no %s", group, rec, k)
		}
	}
	switch group {
	case "SUCCEEDED":
		if rec["Status"] != "SUCCEEDED" || rec["Output"] != input {
			t.Errorf("SUCCEEDED record %v, want Output %s as JSON text", rec, input)
		}
	case "FAILED":
		if rec["Status"] != "FAILED" || rec["Error"] != "ScoreError" || !strings.Contains(rec["Cause"].(string), fmt.Sprintf("shard %d failed", index)) {
			t.Errorf("FAILED record %v, want the item's ScoreError", rec)
		}
	}
}

func getJSON(t *testing.T, s asl.ObjectStore, key string, v any) {
	t.Helper()
	data, err := s.GetObject(context.Background(), bucket, key)
	if err != nil {
		t.Fatalf("GetObject %s: %v", key, err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
}
