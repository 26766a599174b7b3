package dynamo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/churnops/churnops/internal/featurestore"
	"github.com/churnops/churnops/internal/shard"
)

// Layout of the features table (see the package doc): key pk (S, hash),
// sk (S, range).
const (
	// Buckets is how many partition keys one version's records are spread
	// over: pk = "F#<as_of>#<bucket>", bucket = shard.Of(user_id, Buckets),
	// independent of the shard count K, so that reads and writes spread
	// over many partitions and a reader needs only the served as_of.
	Buckets = 1024

	pkRecordPrefix = "F#"
	pkVersion      = "VERSION" // sk = as_of: one item per version
	pkCurrent      = "CURRENT" // sk = "CURRENT": the served version

	attrAsOf      = "as_of"
	attrFeatures  = "features"
	attrShards    = "shards"
	attrDone      = "done"     // NS: the shards written
	attrBuckets   = "buckets"  // NS: the buckets the version's records are in
	attrRecordsOf = "records_" // records_<k> (N): shard k's record count
)

// DefaultPointerTTL is how long a FeatureStore trusts the served version it
// read: a publish reaches a warm /predict within it. Until then that
// instance reads the previous version, which Publish keeps (only Prune
// deletes older versions than it), so nothing it answers is ever a mix.
const DefaultPointerTTL = 5 * time.Second

// pointerRefresh is the least time between two re-reads of the pointer
// that a missing user triggers (the user may be in a version published
// since): a flood of unknown users costs one extra read a second.
const pointerRefresh = time.Second

// FeatureStore is the online feature store on a DynamoDB table (see the
// package doc for the layout); safe for concurrent use by any number of
// processes.
type FeatureStore struct {
	client Client
	table  string
	ttl    time.Duration

	mu      sync.Mutex
	ptr     string    // the served as_of last read ("" for none)
	ptrRead time.Time // when; zero: never
}

var _ featurestore.Store = (*FeatureStore)(nil)

// NewFeatureStore returns a FeatureStore on an existing table with the key
// schema CreateTables makes, trusting the served version it reads for
// DefaultPointerTTL.
func NewFeatureStore(client Client, table string) *FeatureStore {
	return &FeatureStore{client: client, table: table, ttl: DefaultPointerTTL}
}

// WithPointerTTL sets how long the served version read is trusted (0:
// read it on every call) and returns f.
func (f *FeatureStore) WithPointerTTL(d time.Duration) *FeatureStore {
	f.ttl = d
	return f
}

func recordPK(asOf string, bucket int) string {
	return pkRecordPrefix + asOf + "#" + strconv.Itoa(bucket)
}

func bucketOf(userID string) int { return shard.Of(userID, Buckets) }

func keyOf(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

var currentKey = keyOf(pkCurrent, pkCurrent)

func versionKey(asOf string) map[string]types.AttributeValue { return keyOf(pkVersion, asOf) }

// --- writing -------------------------------------------------------------

// Write implements featurestore.Store in three steps, each safe to repeat:
// record the shard count and the buckets the shard's records go to on the
// version item, write the records (BatchWriteItem, resending unprocessed
// items), then mark the shard written.
func (f *FeatureStore) Write(ctx context.Context, asOf string, sh, shards int, recs []featurestore.Record) error {
	if err := featurestore.CheckWrite(asOf, sh, shards, recs); err != nil {
		return fmt.Errorf("write online features: %w", err)
	}
	if err := f.write(ctx, asOf, sh, shards, featurestore.Dedupe(recs)); err != nil {
		return fmt.Errorf("write online features as_of=%s shard %d of %d: %w", asOf, sh, shards, err)
	}
	return nil
}

func (f *FeatureStore) write(ctx context.Context, asOf string, sh, shards int, recs []featurestore.Record) error {
	items := make([]map[string]types.AttributeValue, len(recs))
	buckets := map[int]bool{}
	for i, r := range recs {
		item, err := encodeRecord(asOf, r)
		if err != nil {
			return fmt.Errorf("user %s: %w: %w", r.UserID, err, featurestore.ErrInvalid)
		}
		items[i] = item
		buckets[bucketOf(r.UserID)] = true
	}
	update := "SET #shards = :k"
	names := map[string]string{}
	values := map[string]types.AttributeValue{}
	if len(buckets) > 0 {
		update += " ADD #buckets :b"
		names["#buckets"] = attrBuckets
		values[":b"] = numberSet(slices.Sorted(mapKeys(buckets)))
	}
	if err := f.updateVersion(ctx, asOf, shards, update, names, values); err != nil {
		return err
	}
	reqs := make([]types.WriteRequest, len(items))
	for i, item := range items {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	if err := f.batchWrite(ctx, reqs); err != nil {
		return err
	}
	return f.updateVersion(ctx, asOf, shards, "SET #n = :n ADD #done :d",
		map[string]string{"#n": attrRecordsOf + strconv.Itoa(sh), "#done": attrDone},
		map[string]types.AttributeValue{":n": num(len(recs)), ":d": numberSet([]int{sh})})
}

// updateVersion applies update to the version item, conditioned on its
// shard count being shards (or unset); #shards and :k are set here.
func (f *FeatureStore) updateVersion(ctx context.Context, asOf string, shards int, update string, names map[string]string, values map[string]types.AttributeValue) error {
	names["#shards"] = attrShards
	values[":k"] = num(shards)
	_, err := f.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 &f.table,
		Key:                       versionKey(asOf),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String("attribute_not_exists(#shards) OR #shards = :k"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if isConditionFailed(err) {
		return fmt.Errorf("the version is being written with another shard count: remove it first (churnops dataset rm %s): %w", asOf, featurestore.ErrInvalid)
	}
	return err
}

func mapKeys(m map[int]bool) func(func(int) bool) {
	return func(yield func(int) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func numberSet(ns []int) types.AttributeValue {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = strconv.Itoa(n)
	}
	return &types.AttributeValueMemberNS{Value: s}
}

// encodeRecord is a record's item: its key in its version, the as_of and
// the features as a native map (numbers N, booleans BOOL, strings S,
// missing NULL), so that the console reads what /predict does.
func encodeRecord(asOf string, r featurestore.Record) (map[string]types.AttributeValue, error) {
	features := make(map[string]types.AttributeValue, len(r.Features))
	for name, v := range r.Features {
		if x, ok := v.(float64); ok && !dynamoNumber(x) {
			return nil, fmt.Errorf("feature %s: %v is beyond DynamoDB's number range (1e-130 to 1e126)", name, x)
		}
		av, err := toAttr(v)
		if err != nil {
			return nil, fmt.Errorf("feature %s: %w", name, err)
		}
		features[name] = av
	}
	return map[string]types.AttributeValue{
		attrPK:       str(recordPK(asOf, bucketOf(r.UserID))),
		attrSK:       str(r.UserID),
		attrAsOf:     str(asOf),
		attrFeatures: &types.AttributeValueMemberM{Value: features},
	}, nil
}

// dynamoNumber reports whether DynamoDB can store x: its numbers have a
// magnitude between 1e-130 and 1e126 (or are zero).
func dynamoNumber(x float64) bool {
	a := max(x, -x)
	return a == 0 || (a >= 1e-130 && a < 1e126)
}

func decodeRecord(item map[string]types.AttributeValue) (featurestore.Record, error) {
	var r featurestore.Record
	id, ok := item[attrSK].(*types.AttributeValueMemberS)
	if !ok {
		return r, fmt.Errorf("attribute %s is %T, not a string", attrSK, item[attrSK])
	}
	r.UserID = id.Value
	if asOf, ok := item[attrAsOf].(*types.AttributeValueMemberS); ok {
		r.AsOf = asOf.Value
	}
	m, ok := item[attrFeatures].(*types.AttributeValueMemberM)
	if !ok {
		return r, fmt.Errorf("attribute %s is %T, not a map", attrFeatures, item[attrFeatures])
	}
	r.Features = make(map[string]any, len(m.Value))
	for name, av := range m.Value {
		v, err := fromAttr(av, float64Number)
		if err != nil {
			return r, fmt.Errorf("feature %s: %w", name, err)
		}
		r.Features[name] = v
	}
	return r, nil
}

// --- publishing ----------------------------------------------------------

// featureVersion is a version item.
type featureVersion struct {
	asOf    string
	shards  int
	done    []int
	buckets []int
	records int
}

func (v featureVersion) complete() bool { return v.shards > 0 && len(v.done) == v.shards }

func decodeFeatureVersion(item map[string]types.AttributeValue) featureVersion {
	v := featureVersion{}
	if s, ok := item[attrSK].(*types.AttributeValueMemberS); ok {
		v.asOf = s.Value
	}
	v.shards, _ = intAttr(item, attrShards)
	v.done = intSet(item[attrDone])
	v.buckets = intSet(item[attrBuckets])
	for _, k := range v.done {
		if n, err := intAttr(item, attrRecordsOf+strconv.Itoa(k)); err == nil {
			v.records += n
		}
	}
	return v
}

func intSet(av types.AttributeValue) []int {
	ns, ok := av.(*types.AttributeValueMemberNS)
	if !ok {
		return nil
	}
	out := make([]int, 0, len(ns.Value))
	for _, s := range ns.Value {
		if n, err := strconv.Atoi(s); err == nil {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func (f *FeatureStore) version(ctx context.Context, asOf string) (featureVersion, bool, error) {
	out, err := f.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: versionKey(asOf), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return featureVersion{}, false, err
	}
	if out.Item == nil {
		return featureVersion{}, false, nil
	}
	return decodeFeatureVersion(out.Item), true, nil
}

// readPointer reads the served as_of, strongly consistent, and caches it.
func (f *FeatureStore) readPointer(ctx context.Context) (string, error) {
	out, err := f.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: &f.table, Key: currentKey, ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read the served version: %w", err)
	}
	asOf := ""
	if out.Item != nil {
		s, ok := out.Item[attrAsOf].(*types.AttributeValueMemberS)
		if !ok {
			return "", fmt.Errorf("the served version's %s is %T, not a string", attrAsOf, out.Item[attrAsOf])
		}
		asOf = s.Value
	}
	f.setPointer(asOf)
	return asOf, nil
}

func (f *FeatureStore) setPointer(asOf string) {
	f.mu.Lock()
	f.ptr, f.ptrRead = asOf, time.Now()
	f.mu.Unlock()
}

// pointer returns the served as_of, read at most ttl ago.
func (f *FeatureStore) pointer(ctx context.Context) (asOf string, readAt time.Time, err error) {
	f.mu.Lock()
	asOf, readAt = f.ptr, f.ptrRead
	f.mu.Unlock()
	if !readAt.IsZero() && time.Since(readAt) < f.ttl {
		return asOf, readAt, nil
	}
	asOf, err = f.readPointer(ctx)
	return asOf, time.Now(), err
}

// Publish implements featurestore.Store with one transaction: the version
// item must say every shard is written, and the pointer may only move to a
// newer as_of. A lost race is re-read and reported, never retried over.
func (f *FeatureStore) Publish(ctx context.Context, asOf string) (string, bool, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", false, fmt.Errorf("publish online features: %w", err)
	}
	cur, switched, err := f.publish(ctx, asOf)
	if err != nil {
		return cur, false, fmt.Errorf("publish online features as_of=%s: %w", asOf, err)
	}
	return cur, switched, nil
}

func (f *FeatureStore) publish(ctx context.Context, asOf string) (string, bool, error) {
	for attempt := 1; ; attempt++ {
		cur, err := f.readPointer(ctx)
		if err != nil {
			return "", false, err
		}
		if cur >= asOf {
			return cur, false, nil
		}
		v, ok, err := f.version(ctx, asOf)
		if err != nil {
			return cur, false, err
		}
		if !ok || !v.complete() {
			return cur, false, fmt.Errorf("%d of %d shards written: %w", len(v.done), v.shards, featurestore.ErrIncomplete)
		}
		failed, err := transact(ctx, f.client, []types.TransactWriteItem{
			completeCheck(f.table, v),
			f.pointerPut(asOf, v.shards, "attribute_not_exists(#pk) OR #a < :a", map[string]types.AttributeValue{":a": str(asOf)}),
		})
		if err != nil {
			return cur, false, err
		}
		if len(failed) == 0 {
			f.setPointer(asOf)
			return asOf, true, nil
		}
		if slices.Contains(failed, 0) {
			return cur, false, fmt.Errorf("the version changed while publishing it: %w", featurestore.ErrIncomplete)
		}
		// Another publish moved the pointer meanwhile: read it again.
		if attempt == maxAttempts {
			return cur, false, errors.New("the served version kept changing")
		}
	}
}

// completeCheck is a transaction item that holds only while version v is
// complete: its shard count unchanged and every shard marked written.
func completeCheck(table string, v featureVersion) types.TransactWriteItem {
	return types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
		TableName:                 aws.String(table),
		Key:                       versionKey(v.asOf),
		ConditionExpression:       aws.String("#s = :k AND size(#d) = :k"),
		ExpressionAttributeNames:  map[string]string{"#s": attrShards, "#d": attrDone},
		ExpressionAttributeValues: map[string]types.AttributeValue{":k": num(v.shards)},
	}}
}

// pointerPut is a transaction item that points CURRENT at asOf if cond
// holds; cond may use #pk (the key), #a (the pointer's as_of) and the
// values given.
func (f *FeatureStore) pointerPut(asOf string, shards int, cond string, values map[string]types.AttributeValue) types.TransactWriteItem {
	names := map[string]string{"#a": attrAsOf}
	if strings.Contains(cond, "#pk") {
		names["#pk"] = attrPK
	}
	return types.TransactWriteItem{Put: &types.Put{
		TableName: aws.String(f.table),
		Item: map[string]types.AttributeValue{
			attrPK: str(pkCurrent), attrSK: str(pkCurrent),
			attrAsOf: str(asOf), attrShards: num(shards), attrUpdatedAt: timestamp(now()),
		},
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}}
}

// --- reading -------------------------------------------------------------

// Current implements featurestore.Store: the served as_of, read at most
// the pointer TTL ago.
func (f *FeatureStore) Current(ctx context.Context) (string, error) {
	asOf, _, err := f.pointer(ctx)
	if err != nil {
		return "", fmt.Errorf("online features: %w", err)
	}
	if asOf == "" {
		return "", fmt.Errorf("online features table %s: %w", f.table, featurestore.ErrNoVersion)
	}
	return asOf, nil
}

// Get implements featurestore.Store: one strongly consistent GetItem in
// the served version (plus, at most every pointer TTL, one of the
// pointer). A user the version does not have may be in a version
// published since the pointer was read: the pointer is then read again, at
// most once a second.
func (f *FeatureStore) Get(ctx context.Context, userID string) (featurestore.Record, error) {
	if userID == "" {
		return featurestore.Record{}, fmt.Errorf("get features: empty user_id: %w", featurestore.ErrNotFound)
	}
	for refreshed := false; ; refreshed = true {
		asOf, readAt, err := f.pointer(ctx)
		if err != nil {
			return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
		}
		if asOf == "" {
			return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, featurestore.ErrNoVersion)
		}
		out, err := f.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName:      &f.table,
			Key:            keyOf(recordPK(asOf, bucketOf(userID)), userID),
			ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
		}
		if out.Item != nil {
			r, err := decodeRecord(out.Item)
			if err != nil {
				return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
			}
			return r, nil
		}
		if refreshed || time.Since(readAt) < pointerRefresh {
			return featurestore.Record{}, fmt.Errorf("user %s in as_of %s: %w", userID, asOf, featurestore.ErrNotFound)
		}
		if cur, err := f.readPointer(ctx); err != nil || cur == asOf {
			return featurestore.Record{}, fmt.Errorf("user %s in as_of %s: %w", userID, asOf, featurestore.ErrNotFound)
		}
	}
}

// Versions implements featurestore.Store with one Query of the version
// items.
func (f *FeatureStore) Versions(ctx context.Context) ([]featurestore.Version, error) {
	vs, err := f.versions(ctx)
	if err != nil {
		return nil, fmt.Errorf("list online feature versions: %w", err)
	}
	cur, err := f.readPointer(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]featurestore.Version, 0, len(vs))
	for _, v := range vs {
		out = append(out, featurestore.Version{AsOf: v.asOf, Shards: v.shards, Written: len(v.done), Records: v.records,
			Complete: v.complete(), Served: v.asOf == cur})
	}
	return out, nil
}

func (f *FeatureStore) versions(ctx context.Context) ([]featureVersion, error) {
	var out []featureVersion
	err := f.query(ctx, pkVersion, "", func(item map[string]types.AttributeValue) {
		out = append(out, decodeFeatureVersion(item))
	})
	return out, err // sorted by sk: by as_of
}

// query calls fn with every item of partition pk (only the key attributes
// when projection is "sk").
func (f *FeatureStore) query(ctx context.Context, pk, projection string, fn func(map[string]types.AttributeValue)) error {
	in := &dynamodb.QueryInput{
		TableName:                 &f.table,
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ConsistentRead:            aws.Bool(true),
	}
	if projection != "" {
		in.ProjectionExpression = aws.String("#pk, #sk")
		in.ExpressionAttributeNames["#sk"] = attrSK
	}
	for {
		out, err := f.client.Query(ctx, in)
		if err != nil {
			return err
		}
		for _, item := range out.Items {
			fn(item)
		}
		if len(out.LastEvaluatedKey) == 0 {
			return nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// --- removing ------------------------------------------------------------

// Remove implements featurestore.Store. The pointer moves first (to the
// newest other complete version, in one transaction conditioned on it still
// naming asOf and on that version being complete), then the version stops
// being publishable, then its records are deleted, then its item: a removal
// interrupted anywhere is finished by running it again.
func (f *FeatureStore) Remove(ctx context.Context, asOf string, force bool) (string, error) {
	if err := featurestore.CheckAsOf(asOf); err != nil {
		return "", fmt.Errorf("remove online features: %w", err)
	}
	cur, err := f.remove(ctx, asOf, force)
	if err != nil {
		return cur, fmt.Errorf("remove online features as_of=%s: %w", asOf, err)
	}
	return cur, nil
}

func (f *FeatureStore) remove(ctx context.Context, asOf string, force bool) (string, error) {
	cur, err := f.readPointer(ctx)
	if err != nil {
		return "", err
	}
	for attempt := 1; cur == asOf; attempt++ {
		vs, err := f.versions(ctx)
		if err != nil {
			return cur, err
		}
		var next *featureVersion
		for _, v := range slices.Backward(vs) {
			if v.asOf != asOf && v.complete() {
				next = &v
				break
			}
		}
		var items []types.TransactWriteItem
		switch {
		case next != nil:
			items = []types.TransactWriteItem{
				f.pointerPut(next.asOf, next.shards, "#a = :old", map[string]types.AttributeValue{":old": str(asOf)}),
				completeCheck(f.table, *next),
			}
		case !force:
			return cur, fmt.Errorf("it is served and %w (pass force to serve nothing)", featurestore.ErrLastVersion)
		default:
			items = []types.TransactWriteItem{{Delete: &types.Delete{
				TableName: aws.String(f.table), Key: currentKey,
				ConditionExpression:       aws.String("#a = :old"),
				ExpressionAttributeNames:  map[string]string{"#a": attrAsOf},
				ExpressionAttributeValues: map[string]types.AttributeValue{":old": str(asOf)},
			}}}
		}
		failed, err := transact(ctx, f.client, items)
		if err != nil {
			return cur, err
		}
		if len(failed) == 0 {
			cur = ""
			if next != nil {
				cur = next.asOf
			}
			f.setPointer(cur)
			break
		}
		if attempt == maxAttempts {
			return cur, errors.New("the served version kept changing")
		}
		if cur, err = f.readPointer(ctx); err != nil {
			return "", err
		}
	}
	return cur, f.removeVersion(ctx, asOf)
}

// removeVersion deletes a version that is not served: unpublishable first
// (its shards unmarked), then its records, then its item.
func (f *FeatureStore) removeVersion(ctx context.Context, asOf string) error {
	v, ok, err := f.version(ctx, asOf)
	if err != nil {
		return err
	}
	buckets := v.buckets
	if !ok {
		// A write that died before recording its buckets left none; one
		// that recorded them left the item. Nothing to find either way.
		return nil
	}
	if len(v.done) > 0 {
		_, err := f.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName: &f.table, Key: versionKey(asOf),
			UpdateExpression:         aws.String("REMOVE #d"),
			ExpressionAttributeNames: map[string]string{"#d": attrDone},
		})
		if err != nil {
			return err
		}
	}
	if err := f.deleteRecords(ctx, asOf, buckets); err != nil {
		return err
	}
	return f.batchWrite(ctx, []types.WriteRequest{{DeleteRequest: &types.DeleteRequest{Key: versionKey(asOf)}}})
}

// Prune implements featurestore.Store.
func (f *FeatureStore) Prune(ctx context.Context) ([]string, error) {
	removed, err := f.prune(ctx)
	if err != nil {
		return removed, fmt.Errorf("prune online features: %w", err)
	}
	return removed, nil
}

func (f *FeatureStore) prune(ctx context.Context) ([]string, error) {
	cur, err := f.readPointer(ctx)
	if err != nil || cur == "" {
		return nil, err
	}
	vs, err := f.versions(ctx)
	if err != nil {
		return nil, err
	}
	keep := ""
	for _, v := range slices.Backward(vs) {
		if v.asOf < cur && v.complete() {
			keep = v.asOf
			break
		}
	}
	var removed []string
	for _, v := range vs {
		if v.asOf >= keep {
			break
		}
		if err := f.removeVersion(ctx, v.asOf); err != nil {
			return removed, err
		}
		removed = append(removed, v.asOf)
	}
	return removed, nil
}
