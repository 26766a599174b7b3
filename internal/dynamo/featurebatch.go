package dynamo

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// BatchSize is the most items one BatchWriteItem request may carry
// (DynamoDB's limit).
const BatchSize = 25

// batchWorkers is how many BatchWriteItem requests (or bucket queries) one
// call keeps in flight: a shard of 500k records is 20,000 requests, which
// one at a time would take minutes of round trips.
const batchWorkers = 8

// maxBatchAttempts bounds the rounds of resending unprocessed items. With
// backoff capped at 2s this rides out a throttled table for ~20s before
// giving up.
const maxBatchAttempts = 15

// batchWrite sends reqs in BatchWriteItem requests of BatchSize,
// batchWorkers at a time, each resending its unprocessed items with
// backoff. The first failure stops the rest; on an error some requests
// may have been applied (every caller's writes are safe to repeat).
func (f *FeatureStore) batchWrite(ctx context.Context, reqs []types.WriteRequest) error {
	chunks := slices.Collect(slices.Chunk(reqs, BatchSize))
	return parallel(ctx, len(chunks), func(ctx context.Context, i int) error {
		if err := f.writeChunk(ctx, chunks[i]); err != nil {
			return fmt.Errorf("batch %d of %d (%d items): %w", i+1, len(chunks), len(chunks[i]), err)
		}
		return nil
	})
}

func (f *FeatureStore) writeChunk(ctx context.Context, reqs []types.WriteRequest) error {
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

// deleteRecords deletes a version's records, bucket by bucket: a Query of
// the bucket's keys, then BatchWriteItem deletes.
func (f *FeatureStore) deleteRecords(ctx context.Context, asOf string, buckets []int) error {
	return parallel(ctx, len(buckets), func(ctx context.Context, i int) error {
		var dels []types.WriteRequest
		err := f.query(ctx, recordPK(asOf, buckets[i]), "sk", func(item map[string]types.AttributeValue) {
			dels = append(dels, types.WriteRequest{DeleteRequest: &types.DeleteRequest{Key: item}})
		})
		if err != nil {
			return fmt.Errorf("list bucket %d: %w", buckets[i], err)
		}
		for chunk := range slices.Chunk(dels, BatchSize) {
			if err := f.writeChunk(ctx, chunk); err != nil {
				return fmt.Errorf("delete bucket %d: %w", buckets[i], err)
			}
		}
		return nil
	})
}

// parallel runs fn(0…n-1) on up to batchWorkers goroutines; the first
// error cancels the others' context and is returned.
func parallel(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu   sync.Mutex
		next int
		wg   sync.WaitGroup
	)
	for range min(batchWorkers, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && ctx.Err() != nil {
		return err
	}
	return nil
}
