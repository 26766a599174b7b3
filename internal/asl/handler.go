package asl

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
)

// Handler runs a Task's work locally. It receives the JSON a Lambda
// function (or service integration) would receive and returns the JSON it
// would return. Errors are named with ErrorName, as aws-lambda-go names
// them, so the definition's Retry and Catch behave as they do on AWS.
type Handler func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// Handlers maps Task resources to their local implementation. Keys are
// looked up in this order:
//
//   - Lambda (arn:aws:states:::lambda:invoke[.waitForTaskToken] with
//     Parameters.FunctionName, or a Lambda ARN as Resource): the
//     FunctionName or ARN exactly, then the bare function name taken from
//     it ("arn:aws:lambda:us-east-1:123456789012:function:churn-drift:live"
//     → "churn-drift"), so one map serves both "${DriftFunctionArn}"
//     substituted by an ARN and by a plain name;
//   - other resources (service integrations, activities): the Resource
//     exactly, then without its ".waitForTaskToken"/".sync" suffix.
type Handlers map[string]Handler

// NewHandler adapts a typed function to a Handler the way aws-lambda-go
// adapts a Lambda handler: the input is decoded with encoding/json (a
// decoding error is returned unwrapped, so it is named like on AWS) and
// the output encoded.
func NewHandler[In, Out any](fn func(context.Context, In) (Out, error)) Handler {
	return func(ctx context.Context, input json.RawMessage) (json.RawMessage, error) {
		var in In
		if err := json.Unmarshal(input, &in); err != nil {
			return nil, err
		}
		out, err := fn(ctx, in)
		if err != nil {
			return nil, err
		}
		return json.Marshal(out)
	}
}

type resourceKind int

const (
	// kindDirect: a Lambda ARN (or any non-integration resource): the
	// effective input is the payload and the raw output the result.
	kindDirect resourceKind = iota
	// kindLambdaInvoke: the optimized Lambda integration, which wraps
	// the function's output in {"Payload": ..., "StatusCode": 200, ...}.
	kindLambdaInvoke
	// kindService: another service integration, given the Parameters.
	kindService
)

// resource is a Task's Resource, classified once at load time.
type resource struct {
	arn      string
	kind     resourceKind
	base     string // ARN without integration pattern suffix
	callback bool   // .waitForTaskToken
}

var integrationARN = regexp.MustCompile(`^arn:[a-z-]+:states:::[^:]+:[^:]+$`)

func classifyResource(arn string) resource {
	r := resource{arn: arn, kind: kindDirect, base: arn}
	if !integrationARN.MatchString(arn) {
		return r
	}
	r.kind = kindService
	switch {
	case strings.HasSuffix(arn, ".waitForTaskToken"):
		r.callback = true
		r.base = strings.TrimSuffix(arn, ".waitForTaskToken")
	case strings.HasSuffix(arn, ".sync"):
		r.base = strings.TrimSuffix(arn, ".sync")
	default:
		if i := strings.LastIndex(arn, ".sync:"); i >= 0 {
			r.base = arn[:i]
		}
	}
	if strings.HasSuffix(r.base, ":::lambda:invoke") {
		r.kind = kindLambdaInvoke
	}
	return r
}

// functionKeys are the Handlers keys tried for a Lambda function
// reference (name, partial ARN or ARN, possibly with a qualifier).
func functionKeys(ref string) []string {
	keys := []string{ref}
	parts := strings.Split(ref, ":")
	name := parts[0]
	for i, p := range parts {
		if p == "function" && i+1 < len(parts) {
			name = parts[i+1]
			break
		}
	}
	if name != ref && name != "" {
		keys = append(keys, name)
	}
	return keys
}

// keys are the Handlers keys tried for a resource with a static target.
func (r resource) keys() []string {
	if r.kind == kindService && r.base != r.arn {
		return []string{r.arn, r.base}
	}
	if r.kind == kindDirect {
		return functionKeys(r.arn)
	}
	return []string{r.arn}
}

func (h Handlers) lookup(keys []string) (Handler, bool) {
	for _, k := range keys {
		if fn, ok := h[k]; ok && fn != nil {
			return fn, true
		}
	}
	return nil, false
}
