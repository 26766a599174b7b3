// Package asl runs the project's Step Functions state machines
// (statemachine/*.asl.json) on a laptop, with the same definition that is
// deployed to AWS, so the rules that live in the definition (the drift
// and promotion gates, Retry, Catch, the approval callback) are exercised
// locally exactly once, in the one place they are written.
//
// No maintained Go interpreter of the Amazon States Language exists, so
// this is a small one for a deliberately narrow subset, faithful to AWS
// semantics rather than broad:
//
//   - States Task, Choice, Pass, Wait, Succeed, Fail and Map (Parallel is
//     rejected), JSONPath only (JSONata and variables are rejected).
//   - Input and output processing in AWS order: InputPath → Parameters →
//     resource → ResultSelector → ResultPath → OutputPath, with payload
//     templates ("key.$"), reference paths ($, $.a.b, $.a[0], $['a b']),
//     the context object ($$.Execution.Id/Name/Input/StartTime,
//     $$.State.Name/EnteredTime/RetryCount, $$.StateMachine.Id/Name,
//     $$.Task.Token) and the intrinsics States.Format, StringToJson,
//     JsonToString, Array, JsonMerge, MathAdd, UUID and ArrayLength.
//   - Every JSONPath Choice operator (String*, Numeric*, Boolean*,
//     Timestamp*, their *Path forms, Is*, StringMatches, And/Or/Not). A
//     value of the wrong type does not match; a Variable that does not
//     exist fails the execution with States.Runtime, except in IsPresent.
//   - Retry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds,
//     JitterStrategy) and Catch, with the wildcard rules of States.ALL and
//     States.TaskFailed; States.Runtime is never retried or caught.
//     TimeoutSeconds is enforced; HeartbeatSeconds is accepted only.
//   - Task resources dispatched to Go Handlers: direct Lambda ARNs, the
//     arn:aws:states:::lambda:invoke integration (with its
//     {"Payload": ..., "StatusCode": 200} wrapping), other integrations by
//     ARN, and the .waitForTaskToken callback pattern, which pauses the
//     execution with a JSON Checkpoint to Resume (SendTaskSuccess) or
//     ResumeFailure (SendTaskFailure) later.
//   - Map, INLINE and DISTRIBUTED (ItemProcessor with ProcessorConfig, or
//     the legacy Iterator): items from ItemsPath or, DISTRIBUTED, an
//     ItemReader (s3:listObjectsV2; s3:getObject of a JSON array, JSON
//     Lines or CSV; MaxItems), each through ItemSelector (or the legacy
//     Parameters) with $$.Map.Item.Index and $$.Map.Item.Value; iterations
//     run concurrently, MaxConcurrency at a time and at most
//     Runner.MapWorkers (the cores by default), results in item order;
//     ToleratedFailureCount/Percentage and a ResultWriter (s3:putObject:
//     manifest.json and SUCCEEDED_0/FAILED_0/PENDING_0.json) on a
//     DISTRIBUTED Map; ResultSelector, ResultPath, Retry and Catch as on a
//     Task. S3 goes through the Runner's ObjectStore. A DISTRIBUTED
//     iteration is a child execution: $$.Execution inside it is the
//     child's. ItemBatcher, WriterConfig and callback tasks inside a Map
//     are rejected, as is $$.Map anywhere but in ItemSelector.
//
// Errors returned by handlers are named as aws-lambda-go names them (see
// ErrorName), so a typed *NoProductionModelError is caught by an
// ErrorEquals of "NoProductionModelError" here and on AWS alike, and the
// Cause of a Lambda error is the same {"errorMessage","errorType"} JSON.
//
// Anything outside the subset is rejected by Parse with a DefinitionError
// naming the state and field, rather than run differently than on AWS.
package asl
