package awsbackend

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// CallerARN is the AWS identity the CLI's credentials stand for
// (sts:GetCallerIdentity, which needs no permission): who approved or
// rejected a promotion, recorded with the version's decision.
func CallerARN(ctx context.Context) (string, error) {
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return "", fmt.Errorf("load AWS config: %w", err)
	}
	out, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("who is calling (sts:GetCallerIdentity): %w", err)
	}
	return aws.ToString(out.Arn), nil
}
