package dynamo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Environment variables naming the tables; template.yaml sets them on
// every function.
const (
	EnvRegistryTable = "CHURNOPS_REGISTRY_TABLE"
	EnvFeaturesTable = "CHURNOPS_FEATURES_TABLE"
)

// TableNames names the two tables; an empty name means "not used".
type TableNames struct {
	Registry string
	Features string
}

// TableNamesFromEnv reads the table names the SAM template passes to the
// functions, so every function main reads them the same way.
func TableNamesFromEnv() TableNames {
	return TableNames{Registry: os.Getenv(EnvRegistryTable), Features: os.Getenv(EnvFeaturesTable)}
}

// tableWait bounds how long CreateTables waits for a table to become ACTIVE
// (seconds on AWS, immediate on emulators).
const tableWait = 2 * time.Minute

// CreateTables creates the tables with the key schemas the adapters expect
// (on-demand billing) and waits until they are ACTIVE. A table that already
// exists is left as it is. It is for tests and for emulators; on AWS the
// SAM template owns the tables (and adds PITR and encryption).
func CreateTables(ctx context.Context, client *dynamodb.Client, names TableNames) error {
	var inputs []*dynamodb.CreateTableInput
	if names.Registry != "" {
		inputs = append(inputs, &dynamodb.CreateTableInput{
			TableName:   aws.String(names.Registry),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
			},
		})
	}
	if names.Features != "" {
		// The same key schema, with another layout (see the package doc).
		inputs = append(inputs, &dynamodb.CreateTableInput{
			TableName:   aws.String(names.Features),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String(attrPK), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String(attrSK), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(attrPK), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(attrSK), KeyType: types.KeyTypeRange},
			},
		})
	}
	for _, in := range inputs {
		_, err := client.CreateTable(ctx, in)
		var inUse *types.ResourceInUseException
		if err != nil && !errors.As(err, &inUse) {
			return fmt.Errorf("create table %s: %w", *in.TableName, err)
		}
	}
	w := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay = 100 * time.Millisecond
		o.MaxDelay = 2 * time.Second
	})
	for _, in := range inputs {
		if err := w.Wait(ctx, &dynamodb.DescribeTableInput{TableName: in.TableName}, tableWait); err != nil {
			return fmt.Errorf("wait for table %s: %w", *in.TableName, err)
		}
	}
	return nil
}

// DeleteTables deletes the named tables, ignoring ones that do not exist;
// tests call it to clean up after themselves.
func DeleteTables(ctx context.Context, client *dynamodb.Client, names TableNames) error {
	var errs []error
	for _, name := range []string{names.Registry, names.Features} {
		if name == "" {
			continue
		}
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var missing *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &missing) {
			errs = append(errs, fmt.Errorf("delete table %s: %w", name, err))
		}
	}
	return errors.Join(errs...)
}
