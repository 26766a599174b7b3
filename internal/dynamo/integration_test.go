//go:build integration

package dynamo_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/churnops/churnops/internal/awsemu/awsemutest"
	"github.com/churnops/churnops/internal/dynamo"
	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/featurestore/featurestoretest"
	"github.com/churnops/churnops/internal/registry"
	"github.com/churnops/churnops/internal/registry/registrytest"
	"github.com/churnops/churnops/internal/shard"
)

// newClient returns a DynamoDB client on the emulator named by
// AWS_ENDPOINT_URL (or AWS_ENDPOINT_URL_DYNAMODB), or skips the test.
func newClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	return dynamo.NewClient(awsemutest.Config(t, "AWS_ENDPOINT_URL_DYNAMODB"))
}

var tableSeq atomic.Int64

// freshTables creates uniquely named tables for one test and deletes them
// when it ends.
func freshTables(t *testing.T, c *dynamodb.Client, registryTable, featuresTable bool) dynamo.TableNames {
	t.Helper()
	id := fmt.Sprintf("%d-%d", time.Now().UnixNano(), tableSeq.Add(1))
	var names dynamo.TableNames
	if registryTable {
		names.Registry = "churnops-registry-" + id
	}
	if featuresTable {
		names.Features = "churnops-features-" + id
	}
	if err := dynamo.CreateTables(t.Context(), c, names); err != nil {
		t.Fatalf("CreateTables: %v", err)
	}
	t.Cleanup(func() {
		if err := dynamo.DeleteTables(context.Background(), c, names); err != nil {
			t.Errorf("DeleteTables: %v", err)
		}
	})
	return names
}

func TestRegistryContract(t *testing.T) {
	c := newClient(t)
	registrytest.Run(t, func(t *testing.T) registry.Registry {
		return dynamo.NewRegistry(c, freshTables(t, c, true, false).Registry)
	})
}

func TestFeatureStoreContract(t *testing.T) {
	c := newClient(t)
	featurestoretest.Run(t, func(t *testing.T) featurestore.Store {
		return dynamo.NewFeatureStore(c, freshTables(t, c, false, true).Features)
	})
}

// TestRegistryLayout pins the single-table layout the package doc promises
// (and that the SAM template, dashboards and ad-hoc queries rely on).
func TestRegistryLayout(t *testing.T) {
	c := newClient(t)
	table := freshTables(t, c, true, false).Registry
	r := dynamo.NewRegistry(c, table)
	ctx := t.Context()
	for range 2 {
		if _, err := r.Register(ctx, registry.Version{Model: "churn"}); err != nil {
			t.Fatalf("Register: %v", err)
		}
	}
	if err := r.Promote(ctx, "churn", 1, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatalf("Promote v1: %v", err)
	}
	if err := r.Promote(ctx, "churn", 2, 1, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatalf("Promote v2: %v", err)
	}
	out, err := c.Query(ctx, &dynamodb.QueryInput{
		TableName:                 aws.String(table),
		KeyConditionExpression:    aws.String("pk = :m"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":m": &types.AttributeValueMemberS{Value: "churn"}},
		ConsistentRead:            aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("Query: %v", err)
	}
	got := map[string]map[string]types.AttributeValue{}
	for _, item := range out.Items {
		got[item["sk"].(*types.AttributeValueMemberS).Value] = item
	}
	cases := []struct {
		sk, attr, want string
	}{
		{"COUNTER", "last_version", "2"},
		{"PRODUCTION", "version", "2"},
		{"V#0000000001", "stage", "Archived"},
		{"V#0000000002", "stage", "Production"},
		{"V#0000000002", "version", "2"},
		{"V#0000000002", "artifact_key", "models/churn/v2/model.json"},
	}
	for _, tc := range cases {
		t.Run(tc.sk+" "+tc.attr, func(t *testing.T) {
			item, ok := got[tc.sk]
			if !ok {
				t.Fatalf("no item with sk %q; items: %v", tc.sk, slices.Sorted(mapsKeys(got)))
			}
			var v string
			switch a := item[tc.attr].(type) {
			case *types.AttributeValueMemberS:
				v = a.Value
			case *types.AttributeValueMemberN:
				v = a.Value
			default:
				t.Fatalf("%s is %T", tc.attr, a)
			}
			if v != tc.want {
				t.Errorf("%s = %q, want %q", tc.attr, v, tc.want)
			}
		})
	}
	if _, ok := got["V#0000000002"]["decision"].(*types.AttributeValueMemberM); !ok {
		t.Errorf("decision is %T, want a native map", got["V#0000000002"]["decision"])
	}
	if ts, ok := got["V#0000000002"]["updated_at"].(*types.AttributeValueMemberS); !ok ||
		!regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$`).MatchString(ts.Value) {
		t.Errorf("updated_at = %v, want an RFC 3339 UTC string", got["V#0000000002"]["updated_at"])
	}
}

func mapsKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// flakyClient wraps a real client and, like a throttled table, leaves part
// of every BatchWriteItem unprocessed for the first rounds, and cancels
// the first transactions with TransactionConflict.
type flakyClient struct {
	*dynamodb.Client
	mu              sync.Mutex
	batchRounds     int // rounds left in which half of each batch is unprocessed
	batchCalls      int
	conflictsToSend int
	transactCalls   int
}

func (f *flakyClient) BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error) {
	f.mu.Lock()
	f.batchCalls++
	flaky := f.batchRounds > 0
	f.batchRounds--
	f.mu.Unlock()
	if !flaky {
		return f.Client.BatchWriteItem(ctx, in, optFns...)
	}
	kept := map[string][]types.WriteRequest{}
	unprocessed := map[string][]types.WriteRequest{}
	for table, reqs := range in.RequestItems {
		half := (len(reqs) + 1) / 2
		kept[table], unprocessed[table] = reqs[:half], reqs[half:]
	}
	out, err := f.Client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: kept}, optFns...)
	if err != nil {
		return nil, err
	}
	for table, reqs := range out.UnprocessedItems {
		unprocessed[table] = append(unprocessed[table], reqs...)
	}
	out.UnprocessedItems = unprocessed
	return out, nil
}

func (f *flakyClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	f.mu.Lock()
	f.transactCalls++
	conflict := f.conflictsToSend > 0
	f.conflictsToSend--
	f.mu.Unlock()
	if conflict {
		reasons := make([]types.CancellationReason, len(in.TransactItems))
		for i := range reasons {
			reasons[i].Code = aws.String("None")
		}
		reasons[0].Code = aws.String("TransactionConflict")
		return nil, &types.TransactionCanceledException{Message: aws.String("injected conflict"), CancellationReasons: reasons}
	}
	return f.Client.TransactWriteItems(ctx, in, optFns...)
}

func TestFeatureWriteResendsUnprocessedItems(t *testing.T) {
	c := newClient(t)
	cases := []struct {
		name       string
		records    int
		flakyRound int
	}{
		{"one partial batch", 7, 3},
		{"several batches", 3*dynamo.BatchSize + 4, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &flakyClient{Client: c, batchRounds: tc.flakyRound}
			s := dynamo.NewFeatureStore(f, freshTables(t, c, false, true).Features)
			recs := make([]featurestore.Record, tc.records)
			for i := range recs {
				recs[i] = featurestore.Record{UserID: fmt.Sprintf("u%03d", i), Features: map[string]any{"i": float64(i)}}
			}
			if err := s.Write(t.Context(), "2024-01-31", 0, 1, recs); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if _, _, err := s.Publish(t.Context(), "2024-01-31"); err != nil {
				t.Fatalf("Publish: %v", err)
			}
			for _, r := range recs {
				got, err := s.Get(t.Context(), r.UserID)
				if err != nil {
					t.Fatalf("Get %s: %v", r.UserID, err)
				}
				if got.Features["i"] != r.Features["i"] {
					t.Errorf("%s: i = %v, want %v", r.UserID, got.Features["i"], r.Features["i"])
				}
			}
			if f.batchCalls <= (tc.records+dynamo.BatchSize-1)/dynamo.BatchSize {
				t.Errorf("%d BatchWriteItem calls: the unprocessed items were never resent", f.batchCalls)
			}
		})
	}
}

// TestFeaturesLayout pins the features table's layout the package doc
// promises: what the template's key schema, the predict function's
// GetItem-only policy and ad-hoc queries rely on.
func TestFeaturesLayout(t *testing.T) {
	c := newClient(t)
	table := freshTables(t, c, false, true).Features
	s := dynamo.NewFeatureStore(c, table)
	ctx := t.Context()
	recs := []featurestore.Record{
		{UserID: "7590-VHVEG", Features: map[string]any{"monthly_fee": 29.85, "paperless_billing": true, "net_service": "DSL", "plan_stream_tv": nil}},
		{UserID: "5575-GNVDE", Features: map[string]any{"monthly_fee": 56.95}},
	}
	for k := range 2 {
		var part []featurestore.Record
		for _, r := range recs {
			if shard.Of(r.UserID, 2) == k {
				part = append(part, r)
			}
		}
		if err := s.Write(ctx, "2024-01-31", k, 2, part); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Publish(ctx, "2024-01-31"); err != nil {
		t.Fatal(err)
	}
	getItem := func(pk, sk string) map[string]types.AttributeValue {
		t.Helper()
		out, err := c.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), ConsistentRead: aws.Bool(true),
			Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
		if err != nil || out.Item == nil {
			t.Fatalf("GetItem %s/%s: %v, %v", pk, sk, out, err)
		}
		return out.Item
	}
	rec := getItem(fmt.Sprintf("F#2024-01-31#%d", shard.Of("7590-VHVEG", dynamo.Buckets)), "7590-VHVEG")
	features, ok := rec["features"].(*types.AttributeValueMemberM)
	if !ok || rec["as_of"].(*types.AttributeValueMemberS).Value != "2024-01-31" {
		t.Fatalf("record item %v: want as_of and a native features map", rec)
	}
	for name, want := range map[string]string{"monthly_fee": "*types.AttributeValueMemberN", "paperless_billing": "*types.AttributeValueMemberBOOL",
		"net_service": "*types.AttributeValueMemberS", "plan_stream_tv": "*types.AttributeValueMemberNULL"} {
		if got := fmt.Sprintf("%T", features.Value[name]); got != want {
			t.Errorf("feature %s is %s, want %s", name, got, want)
		}
	}
	cur := getItem("CURRENT", "CURRENT")
	if cur["as_of"].(*types.AttributeValueMemberS).Value != "2024-01-31" || cur["shards"].(*types.AttributeValueMemberN).Value != "2" {
		t.Errorf("pointer item %v: want as_of 2024-01-31, 2 shards", cur)
	}
	ver := getItem("VERSION", "2024-01-31")
	if done, ok := ver["done"].(*types.AttributeValueMemberNS); !ok || len(done.Value) != 2 || ver["shards"].(*types.AttributeValueMemberN).Value != "2" {
		t.Errorf("version item %v: want shards 2, done {0, 1}", ver)
	}
}

// TestFeaturePointerTTL: a reader trusts the served version it read for its
// pointer TTL, serving that whole month meanwhile (Publish keeps it), and
// sees a publish once the TTL is over.
func TestFeaturePointerTTL(t *testing.T) {
	c := newClient(t)
	table := freshTables(t, c, false, true).Features
	ctx := t.Context()
	writer := dynamo.NewFeatureStore(c, table)
	publish := func(asOf string, users ...string) {
		t.Helper()
		var recs []featurestore.Record
		for _, u := range users {
			recs = append(recs, featurestore.Record{UserID: u, Features: map[string]any{"as_of": asOf}})
		}
		if err := writer.Write(ctx, asOf, 0, 1, recs); err != nil {
			t.Fatal(err)
		}
		if _, _, err := writer.Publish(ctx, asOf); err != nil {
			t.Fatal(err)
		}
	}
	publish("2024-01-31", "a", "b")
	trusting := dynamo.NewFeatureStore(c, table).WithPointerTTL(time.Hour)
	fresh := dynamo.NewFeatureStore(c, table).WithPointerTTL(0)
	for _, s := range []*dynamo.FeatureStore{trusting, fresh} {
		if cur, err := s.Current(ctx); err != nil || cur != "2024-01-31" {
			t.Fatalf("Current = %s, %v", cur, err)
		}
	}
	publish("2024-02-29", "a")
	if r, err := trusting.Get(ctx, "b"); err != nil || r.AsOf != "2024-01-31" {
		t.Errorf("within its TTL a reader serves the month it read: %+v, %v", r, err)
	}
	if r, err := fresh.Get(ctx, "a"); err != nil || r.AsOf != "2024-02-29" {
		t.Errorf("past its TTL a reader serves the new month: %+v, %v", r, err)
	}
	if _, err := fresh.Get(ctx, "b"); !errors.Is(err, featurestore.ErrNotFound) {
		t.Errorf("b left: %v, want ErrNotFound", err)
	}
}

// TestFeaturePruneDeletesRecords: pruned and removed versions leave no item
// behind: not their records, not their version item.
func TestFeaturePruneDeletesRecords(t *testing.T) {
	c := newClient(t)
	table := freshTables(t, c, false, true).Features
	ctx := t.Context()
	s := dynamo.NewFeatureStore(c, table)
	var users []string
	for i := range 300 {
		users = append(users, fmt.Sprintf("user-%03d", i))
	}
	dates := []string{"2024-01-31", "2024-02-29", "2024-03-31"}
	for _, d := range dates {
		var recs []featurestore.Record
		for _, u := range users {
			recs = append(recs, featurestore.Record{UserID: u, Features: map[string]any{"x": 1.0}})
		}
		if err := s.Write(ctx, d, 0, 1, recs); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Publish(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	if removed, err := s.Prune(ctx); err != nil || len(removed) != 1 || removed[0] != dates[0] {
		t.Fatalf("Prune = %v, %v", removed, err)
	}
	if _, err := s.Remove(ctx, dates[2], false); err != nil {
		t.Fatal(err)
	}
	var left []string
	var startKey map[string]types.AttributeValue
	for {
		out, err := c.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table), ExclusiveStartKey: startKey})
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range out.Items {
			pk := item["pk"].(*types.AttributeValueMemberS).Value
			if !strings.Contains(pk, dates[1]) && pk != "CURRENT" && !(pk == "VERSION" && item["sk"].(*types.AttributeValueMemberS).Value == dates[1]) {
				left = append(left, pk+" "+item["sk"].(*types.AttributeValueMemberS).Value)
			}
		}
		if startKey = out.LastEvaluatedKey; len(startKey) == 0 {
			break
		}
	}
	if len(left) > 0 {
		t.Errorf("%d items of removed versions left, e.g. %v", len(left), left[:min(5, len(left))])
	}
}

func TestPromoteRetriesTransactionConflicts(t *testing.T) {
	c := newClient(t)
	table := freshTables(t, c, true, false).Registry
	if _, err := dynamo.NewRegistry(c, table).Register(t.Context(), registry.Version{Model: "churn"}); err != nil {
		t.Fatalf("Register: %v", err)
	}
	f := &flakyClient{Client: c, conflictsToSend: 2}
	r := dynamo.NewRegistry(f, table)
	if err := r.Promote(t.Context(), "churn", 1, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatalf("Promote after two transaction conflicts: %v", err)
	}
	if f.transactCalls != 3 {
		t.Errorf("%d TransactWriteItems calls, want 3 (two conflicts, then success)", f.transactCalls)
	}
	if v, err := r.Production(t.Context(), "churn"); err != nil || v.Version != 1 {
		t.Errorf("Production: v%d, %v; want v1", v.Version, err)
	}
}

// resendClient wraps a real client and sends every registry write twice,
// answering with the second reply: what the SDK does when the answer to a
// write that committed is lost (a dropped connection) and it retries.
// DynamoDB (and the emulator) deduplicate a resent transaction by its
// ClientRequestToken for ten minutes; the second transaction here carries
// a new token, as a store that does not deduplicate would see it, so that
// what is tested is the adapter's own recognition of its write.
type resendClient struct {
	*dynamodb.Client
	resent atomic.Int64
}

func (c *resendClient) TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	if _, err := c.Client.TransactWriteItems(ctx, in, optFns...); err != nil {
		return nil, err
	}
	c.resent.Add(1)
	again := *in
	again.ClientRequestToken = nil
	return c.Client.TransactWriteItems(ctx, &again, optFns...)
}

func (c *resendClient) UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	if _, err := c.Client.UpdateItem(ctx, in, optFns...); err != nil {
		return nil, err
	}
	c.resent.Add(1)
	return c.Client.UpdateItem(ctx, in, optFns...)
}

// TestRegistryWritesSurviveResends: a resent write that committed the first
// time is the call's success, not a skipped version number or a conflict.
// (CI once failed a contract test on a version that did not exist: the
// counter had been advanced twice by an ADD the SDK resent.)
func TestRegistryWritesSurviveResends(t *testing.T) {
	c := newClient(t)
	rc := &resendClient{Client: c}
	r := dynamo.NewRegistry(rc, freshTables(t, c, true, false).Registry)
	ctx := t.Context()
	for i := 1; i <= 3; i++ {
		v, err := r.Register(ctx, registry.Version{Model: "churn", RunID: fmt.Sprintf("run-%d", i)})
		if err != nil {
			t.Fatalf("Register #%d: %v", i, err)
		}
		if v.Version != i {
			t.Fatalf("Register #%d got v%d, want v%d (no gaps)", i, v.Version, i)
		}
	}
	if err := r.Promote(ctx, "churn", 1, 0, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatalf("Promote v1: %v", err)
	}
	if err := r.Promote(ctx, "churn", 2, 1, registry.Decision{Outcome: registry.OutcomePromoted}); err != nil {
		t.Fatalf("Promote v2: %v", err)
	}
	if err := r.Decide(ctx, "churn", 3, registry.StageRejected, registry.Decision{Outcome: registry.OutcomeRejected}); err != nil {
		t.Fatalf("Decide v3: %v", err)
	}
	vs, err := r.List(ctx, "churn")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range vs {
		got = append(got, fmt.Sprintf("v%d %s", v.Version, v.Stage))
	}
	if want := []string{"v1 Archived", "v2 Production", "v3 Rejected"}; !slices.Equal(got, want) {
		t.Errorf("versions %v, want %v", got, want)
	}
	if rc.resent.Load() < 6 {
		t.Errorf("%d writes resent, want every one of the 6", rc.resent.Load())
	}
	// A real conflict is still one.
	if err := r.Promote(ctx, "churn", 3, 1, registry.Decision{Outcome: registry.OutcomePromoted}); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("Promote v3 expecting the old Production: %v, want ErrConflict", err)
	}
}
