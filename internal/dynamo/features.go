package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/churnops/churnops/internal/featurestore"
)

// Attribute names of the features table (see the package doc).
const (
	attrUserID   = "user_id"
	attrAsOf     = "as_of"
	attrFeatures = "features"
)

// BatchSize is the most items one BatchWriteItem request may carry
// (DynamoDB's limit).
const BatchSize = 25

// maxBatchAttempts bounds the rounds of resending unprocessed items. With
// backoff capped at 2s this rides out a throttled table for ~20s before
// giving up.
const maxBatchAttempts = 15

// FeatureStore is the online feature store on a DynamoDB table, one item
// per user; safe for concurrent use.
type FeatureStore struct {
	client Client
	table  string
}

var _ featurestore.Store = (*FeatureStore)(nil)

// NewFeatureStore returns a FeatureStore on an existing table with the key
// schema CreateTables makes (user_id S hash).
func NewFeatureStore(client Client, table string) *FeatureStore {
	return &FeatureStore{client: client, table: table}
}

// PutBatch implements featurestore.Store: every record is encoded (and the
// batch refused) before anything is written, later duplicates win, and the
// items go out in BatchWriteItem requests of BatchSize, resending the
// unprocessed ones with backoff. Batches are not atomic: on an error some
// records may have been written.
func (f *FeatureStore) PutBatch(ctx context.Context, recs []featurestore.Record) error {
	items := make([]map[string]types.AttributeValue, 0, len(recs))
	index := make(map[string]int, len(recs)) // user ID -> position in items
	for i, r := range recs {
		if r.UserID == "" {
			return fmt.Errorf("put features: record %d has an empty user_id", i)
		}
		item, err := encodeRecord(r)
		if err != nil {
			return fmt.Errorf("put features for %s: %w", r.UserID, err)
		}
		// One request may not name a key twice, and the contract says the
		// later record wins: keep one item per user, the last one.
		if j, ok := index[r.UserID]; ok {
			items[j] = item
			continue
		}
		index[r.UserID] = len(items)
		items = append(items, item)
	}
	for start := 0; start < len(items); start += BatchSize {
		chunk := items[start:min(start+BatchSize, len(items))]
		if err := f.writeChunk(ctx, chunk); err != nil {
			return fmt.Errorf("put features (%d records, %d written before the failing request): %w", len(recs), start, err)
		}
	}
	return nil
}

func encodeRecord(r featurestore.Record) (map[string]types.AttributeValue, error) {
	features := make(map[string]types.AttributeValue, len(r.Features))
	for name, v := range r.Features {
		av, err := toAttr(v)
		if err != nil {
			return nil, fmt.Errorf("feature %s: %w", name, err)
		}
		features[name] = av
	}
	return map[string]types.AttributeValue{
		attrUserID:   str(r.UserID),
		attrAsOf:     str(r.AsOf),
		attrFeatures: &types.AttributeValueMemberM{Value: features},
	}, nil
}

func (f *FeatureStore) writeChunk(ctx context.Context, chunk []map[string]types.AttributeValue) error {
	reqs := make([]types.WriteRequest, len(chunk))
	for i, item := range chunk {
		reqs[i] = types.WriteRequest{PutRequest: &types.PutRequest{Item: item}}
	}
	for attempt := 1; ; attempt++ {
		out, err := f.client.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
			RequestItems: map[string][]types.WriteRequest{f.table: reqs},
		})
		if err != nil {
			return err
		}
		reqs = out.UnprocessedItems[f.table]
		if len(reqs) == 0 {
			return nil
		}
		if attempt == maxBatchAttempts {
			return fmt.Errorf("%d items still unprocessed after %d attempts", len(reqs), attempt)
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return err
		}
	}
}

// Get implements featurestore.Store. The read is strongly consistent so a
// record is visible to /predict as soon as PutBatch returns.
func (f *FeatureStore) Get(ctx context.Context, userID string) (featurestore.Record, error) {
	if userID == "" {
		return featurestore.Record{}, fmt.Errorf("get features: empty user_id: %w", featurestore.ErrNotFound)
	}
	out, err := f.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &f.table,
		Key:            map[string]types.AttributeValue{attrUserID: str(userID)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
	}
	if out.Item == nil {
		return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, featurestore.ErrNotFound)
	}
	r, err := decodeRecord(out.Item)
	if err != nil {
		return featurestore.Record{}, fmt.Errorf("get features for %s: %w", userID, err)
	}
	return r, nil
}

func decodeRecord(item map[string]types.AttributeValue) (featurestore.Record, error) {
	var r featurestore.Record
	id, ok := item[attrUserID].(*types.AttributeValueMemberS)
	if !ok {
		return r, fmt.Errorf("attribute %s is %T, not a string", attrUserID, item[attrUserID])
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
