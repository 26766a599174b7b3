package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/churnops/churnops/internal/registry"
)

// Client is the subset of *dynamodb.Client the adapters call. It is an
// interface so tests can wrap a real client and inject the partial
// failures DynamoDB produces under load (unprocessed batch items,
// transaction conflicts) that an emulator never does.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// Attribute names and sort keys of the registry table (see the package doc).
const (
	attrPK          = "pk"
	attrSK          = "sk"
	attrStage       = "stage"
	attrDecision    = "decision"
	attrUpdatedAt   = "updated_at"
	attrVersion     = "version"
	attrLastVersion = "last_version"

	skProduction    = "PRODUCTION"
	skCounter       = "COUNTER"
	skVersionPrefix = "V#"
)

// maxAttempts bounds the retries of a transaction that DynamoDB cancelled
// only because another transaction held one of its items
// (TransactionConflict): retrying decides it one way or the other.
const maxAttempts = 8

// Registry is the model registry on a DynamoDB table; safe for concurrent
// use by any number of processes: every rule is a condition checked by
// DynamoDB in the write itself, never a check in this process before it.
type Registry struct {
	client Client
	table  string
}

var _ registry.Registry = (*Registry)(nil)

// NewRegistry returns a Registry on an existing table with the key schema
// CreateTables makes (pk S hash, sk S range).
func NewRegistry(client Client, table string) *Registry {
	return &Registry{client: client, table: table}
}

func versionSK(n int) string { return fmt.Sprintf("%s%010d", skVersionPrefix, n) }

func key(model, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: model},
		attrSK: &types.AttributeValueMemberS{Value: sk},
	}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }
func num(n int) types.AttributeValue    { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

func timestamp(t time.Time) types.AttributeValue { return str(t.UTC().Format(time.RFC3339Nano)) }

func now() time.Time { return time.Now().UTC() }

// Register implements registry.Registry. The next number and the version
// item are written in one transaction, conditioned on the counter still
// holding the number read just before and on the version not existing, so
// a number is never handed out without its version (no gap if the process
// dies between two writes) and never twice. A transaction whose counter
// moved meanwhile (a concurrent Register) is retried on the new number.
// The SDK may resend a transaction whose first attempt committed but whose
// answer was lost; the resend then fails its conditions, and Register
// recognises its own version (same created_at, fingerprint and run id).
func (r *Registry) Register(ctx context.Context, v registry.Version) (registry.Version, error) {
	if v.Model == "" {
		return registry.Version{}, fmt.Errorf("register: empty model name: %w", registry.ErrInvalid)
	}
	t := now()
	v.Stage, v.CreatedAt, v.UpdatedAt = registry.StageNone, t, t
	defaultKey := v.ArtifactKey == ""
	for attempt := 1; ; attempt++ {
		last, err := r.lastVersion(ctx, v.Model)
		if err != nil {
			return registry.Version{}, fmt.Errorf("register %s: read the counter: %w", v.Model, err)
		}
		n := last + 1
		v.Version = n
		if defaultKey {
			v.ArtifactKey = registry.ArtifactKey(v.Model, n)
		}
		item, err := structToAttrs(v)
		if err != nil {
			return registry.Version{}, fmt.Errorf("register %s v%d: encode: %w", v.Model, n, err)
		}
		item[attrPK], item[attrSK] = str(v.Model), str(versionSK(n))
		counter := &types.Update{
			TableName:                 &r.table,
			Key:                       key(v.Model, skCounter),
			UpdateExpression:          aws.String("SET #n = :n"),
			ConditionExpression:       aws.String("#n = :last"),
			ExpressionAttributeNames:  map[string]string{"#n": attrLastVersion},
			ExpressionAttributeValues: map[string]types.AttributeValue{":n": num(n), ":last": num(last)},
		}
		if last == 0 {
			counter.ConditionExpression = aws.String("attribute_not_exists(#n)")
			delete(counter.ExpressionAttributeValues, ":last")
		}
		put := &types.Put{
			TableName:                &r.table,
			Item:                     item,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK},
		}
		failed, err := r.transact(ctx, []types.TransactWriteItem{{Update: counter}, {Put: put}})
		if err != nil {
			return registry.Version{}, fmt.Errorf("register %s v%d: %w", v.Model, n, err)
		}
		if failed == nil {
			return v, nil
		}
		if got, gerr := r.get(ctx, v.Model, n); gerr == nil && got.CreatedAt.Equal(v.CreatedAt) && got.DataFingerprint == v.DataFingerprint && got.RunID == v.RunID {
			return got, nil // this registration's own resent transaction
		}
		if !slices.Contains(failed, 0) {
			// The counter held the number read, yet the version exists: the
			// counter item was deleted or rewritten by hand.
			return registry.Version{}, fmt.Errorf("register %s: v%d already exists (counter behind the versions): %w", v.Model, n, registry.ErrConflict)
		}
		if attempt == registerAttempts {
			return registry.Version{}, fmt.Errorf("register %s: the counter kept moving during %d attempts: %w", v.Model, registerAttempts, registry.ErrConflict)
		}
		// Full jitter up to 2ms, 4ms, … 100ms: the race is for one item,
		// decided within a round trip.
		if err := sleep(ctx, jitter(attempt, 2*time.Millisecond, 100*time.Millisecond)); err != nil {
			return registry.Version{}, err
		}
	}
}

// registerAttempts bounds Register's retries when concurrent registrations
// of the same model keep taking the number it read; each round one of them
// wins, so a few dozen cover any realistic contention.
const registerAttempts = 50

// lastVersion returns the number the counter last handed out, 0 for none.
func (r *Registry) lastVersion(ctx context.Context, model string) (int, error) {
	out, err := r.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &r.table,
		Key:            key(model, skCounter),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	if out.Item == nil {
		return 0, nil
	}
	return intAttr(out.Item, attrLastVersion)
}

// Get implements registry.Registry.
func (r *Registry) Get(ctx context.Context, model string, version int) (registry.Version, error) {
	v, err := r.get(ctx, model, version)
	if err != nil {
		return registry.Version{}, fmt.Errorf("get %s v%d: %w", model, version, err)
	}
	return v, nil
}

func (r *Registry) get(ctx context.Context, model string, version int) (registry.Version, error) {
	if model == "" || version <= 0 {
		return registry.Version{}, registry.ErrNotFound
	}
	out, err := r.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &r.table,
		Key:            key(model, versionSK(version)),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return registry.Version{}, err
	}
	if out.Item == nil {
		return registry.Version{}, registry.ErrNotFound
	}
	return decodeVersion(out.Item)
}

func decodeVersion(item map[string]types.AttributeValue) (registry.Version, error) {
	var v registry.Version
	if err := attrsToStruct(item, &v, attrPK, attrSK); err != nil {
		return registry.Version{}, fmt.Errorf("decode %v: %w", item[attrSK], err)
	}
	return v, nil
}

// List implements registry.Registry.
func (r *Registry) List(ctx context.Context, model string) ([]registry.Version, error) {
	if model == "" {
		return nil, nil
	}
	p := dynamodb.NewQueryPaginator(r.client, &dynamodb.QueryInput{
		TableName:                &r.table,
		KeyConditionExpression:   aws.String("#pk = :m AND begins_with(#sk, :v)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":m": str(model),
			":v": str(skVersionPrefix),
		},
		ConsistentRead: aws.Bool(true),
	})
	var vs []registry.Version
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", model, err)
		}
		for _, item := range page.Items {
			v, err := decodeVersion(item)
			if err != nil {
				return nil, fmt.Errorf("list %s: %w", model, err)
			}
			vs = append(vs, v)
		}
	}
	return vs, nil
}

// Production implements registry.Registry. It reads the pointer, then the
// version it names; if a promotion lands between the two reads the version
// is no longer Production, and it reads again.
func (r *Registry) Production(ctx context.Context, model string) (registry.Version, error) {
	for range maxAttempts {
		n, err := r.productionVersion(ctx, model)
		if err != nil {
			return registry.Version{}, fmt.Errorf("production %s: %w", model, err)
		}
		if n == 0 {
			return registry.Version{}, fmt.Errorf("production %s: %w", model, registry.ErrNoProduction)
		}
		v, err := r.get(ctx, model, n)
		if err != nil {
			return registry.Version{}, fmt.Errorf("production %s: pointer to v%d: %w", model, n, err)
		}
		if v.Stage == registry.StageProduction {
			return v, nil
		}
	}
	return registry.Version{}, fmt.Errorf("production %s: the pointer kept moving during %d reads", model, maxAttempts)
}

// productionVersion returns the version the pointer names, 0 for none.
func (r *Registry) productionVersion(ctx context.Context, model string) (int, error) {
	if model == "" {
		return 0, nil
	}
	out, err := r.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      &r.table,
		Key:            key(model, skProduction),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return 0, err
	}
	if out.Item == nil {
		return 0, nil
	}
	return intAttr(out.Item, attrVersion)
}

// Promote implements registry.Registry with one TransactWriteItems.
func (r *Registry) Promote(ctx context.Context, model string, version, expectedProduction int, d registry.Decision) error {
	if err := r.promote(ctx, model, version, expectedProduction, d); err != nil {
		return fmt.Errorf("promote %s v%d (expected Production v%d): %w", model, version, expectedProduction, err)
	}
	return nil
}

func (r *Registry) promote(ctx context.Context, model string, version, expected int, d registry.Decision) error {
	if model == "" || version <= 0 {
		return registry.ErrNotFound
	}
	if version == expected {
		// A transaction may not touch one item twice; and the version
		// cannot be both the candidate (None/Archived) and Production.
		if _, err := r.get(ctx, model, version); err != nil {
			return err
		}
		return fmt.Errorf("v%d is the expected Production, so not None or Archived: %w", version, registry.ErrConflict)
	}
	dec, err := structToAttr(d)
	if err != nil {
		return fmt.Errorf("encode decision: %w", err)
	}
	at := now()
	t := timestamp(at)

	pointer := &types.Update{
		TableName:                &r.table,
		Key:                      key(model, skProduction),
		UpdateExpression:         aws.String("SET #v = :v, #u = :t"),
		ExpressionAttributeNames: map[string]string{"#v": attrVersion, "#u": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":v": num(version),
			":t": t,
		},
	}
	if expected == 0 {
		pointer.ConditionExpression = aws.String("attribute_not_exists(#pk)")
		pointer.ExpressionAttributeNames["#pk"] = attrPK
	} else {
		pointer.ConditionExpression = aws.String("#v = :expected")
		pointer.ExpressionAttributeValues[":expected"] = num(expected)
	}
	candidate := &types.Update{
		TableName:                &r.table,
		Key:                      key(model, versionSK(version)),
		UpdateExpression:         aws.String("SET #s = :production, #d = :d, #u = :t"),
		ConditionExpression:      aws.String("attribute_exists(#pk) AND #s IN (:none, :archived)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#s": attrStage, "#d": attrDecision, "#u": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":production": str(string(registry.StageProduction)),
			":none":       str(string(registry.StageNone)),
			":archived":   str(string(registry.StageArchived)),
			":d":          dec,
			":t":          t,
		},
	}
	items := []types.TransactWriteItem{{Update: pointer}, {Update: candidate}}
	if expected != 0 {
		items = append(items, types.TransactWriteItem{Update: &types.Update{
			TableName:                &r.table,
			Key:                      key(model, versionSK(expected)),
			UpdateExpression:         aws.String("SET #s = :archived, #u = :t"),
			ConditionExpression:      aws.String("#s = :production"),
			ExpressionAttributeNames: map[string]string{"#s": attrStage, "#u": attrUpdatedAt},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":production": str(string(registry.StageProduction)),
				":archived":   str(string(registry.StageArchived)),
				":t":          t,
			},
		}})
	}
	failed, err := r.transact(ctx, items)
	if err != nil {
		return err
	}
	if failed == nil {
		return nil
	}
	// Some condition failed and nothing was written by this attempt. An
	// unknown version is ErrNotFound whatever else failed. A version that is
	// Production as of this very call's timestamp was promoted by this call:
	// the SDK resent a transaction whose first attempt committed.
	got, err := r.get(ctx, model, version)
	if err != nil {
		return err
	}
	if got.Stage == registry.StageProduction && got.UpdatedAt.Equal(at) {
		return nil
	}
	why := []string{
		fmt.Sprintf("Production is not v%d", expected),
		fmt.Sprintf("v%d is not in stage None or Archived", version),
		fmt.Sprintf("v%d is not Production", expected),
	}
	var reasons []string
	for _, i := range failed {
		reasons = append(reasons, why[i])
	}
	if expected == 0 && len(reasons) > 0 && failed[0] == 0 {
		reasons[0] = "there is a Production version already"
	}
	return fmt.Errorf("%s: %w", strings.Join(reasons, "; "), registry.ErrConflict)
}

// transact runs a transaction, retrying it while DynamoDB cancels it only
// for conflicts with other transactions in flight. It returns the indexes
// of the items whose condition failed (nil when the transaction committed);
// the error is for everything else.
func (r *Registry) transact(ctx context.Context, items []types.TransactWriteItem) (failed []int, err error) {
	return transact(ctx, r.client, items)
}

// transact is Registry.transact on any client (the feature store's
// publishes are transactions too).
func transact(ctx context.Context, client Client, items []types.TransactWriteItem) (failed []int, err error) {
	for attempt := 1; ; attempt++ {
		_, err := client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
		if err == nil {
			return nil, nil
		}
		var tce *types.TransactionCanceledException
		if !errors.As(err, &tce) {
			return nil, err
		}
		conflict := false
		for i, reason := range tce.CancellationReasons {
			switch aws.ToString(reason.Code) {
			case "ConditionalCheckFailed":
				failed = append(failed, i)
			case "TransactionConflict":
				conflict = true
			}
		}
		if len(failed) > 0 {
			return failed, nil
		}
		if !conflict || attempt == maxAttempts {
			return nil, err
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return nil, err
		}
	}
}

// Decide implements registry.Registry with one conditional UpdateItem.
func (r *Registry) Decide(ctx context.Context, model string, version int, stage registry.Stage, d registry.Decision) error {
	if err := r.decide(ctx, model, version, stage, d); err != nil {
		return fmt.Errorf("decide %s v%d (%s): %w", model, version, stage, err)
	}
	return nil
}

func (r *Registry) decide(ctx context.Context, model string, version int, stage registry.Stage, d registry.Decision) error {
	if stage != registry.StageNone && stage != registry.StageRejected {
		return fmt.Errorf("stage %q is not None or Rejected: %w", stage, registry.ErrInvalid)
	}
	if model == "" || version <= 0 {
		return registry.ErrNotFound
	}
	dec, err := structToAttr(d)
	if err != nil {
		return fmt.Errorf("encode decision: %w", err)
	}
	at := now()
	_, err = r.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                &r.table,
		Key:                      key(model, versionSK(version)),
		UpdateExpression:         aws.String("SET #s = :stage, #d = :d, #u = :t"),
		ConditionExpression:      aws.String("attribute_exists(#pk) AND #s = :none"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#s": attrStage, "#d": attrDecision, "#u": attrUpdatedAt},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":stage": str(string(stage)),
			":none":  str(string(registry.StageNone)),
			":d":     dec,
			":t":     timestamp(at),
		},
	})
	if !isConditionFailed(err) {
		return err
	}
	v, err := r.get(ctx, model, version)
	if err != nil {
		return err
	}
	if v.Stage == stage && v.UpdatedAt.Equal(at) {
		return nil // this call's own update, resent by the SDK after its answer was lost
	}
	return fmt.Errorf("v%d is %s, not None: %w", version, v.Stage, registry.ErrConflict)
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

func intAttr(item map[string]types.AttributeValue, name string) (int, error) {
	n, ok := item[name].(*types.AttributeValueMemberN)
	if !ok {
		return 0, fmt.Errorf("attribute %s is %T, not a number", name, item[name])
	}
	v, err := strconv.Atoi(n.Value)
	if err != nil {
		return 0, fmt.Errorf("attribute %s: %w", name, err)
	}
	return v, nil
}

// backoff is full-jitter exponential backoff: 25ms, 50ms, … capped at 2s.
func backoff(attempt int) time.Duration { return jitter(attempt, 25*time.Millisecond, 2*time.Second) }

// jitter is full-jitter exponential backoff: a random wait up to base,
// 2×base, 4×base, … for attempts 1, 2, 3, …, capped at limit.
func jitter(attempt int, base, limit time.Duration) time.Duration {
	d := min(base<<min(attempt-1, 10), limit)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
