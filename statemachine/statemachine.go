// Package statemachine embeds the Step Functions definitions, so the CLI
// runs locally the very same ASL that SAM deploys to AWS.
package statemachine

import _ "embed"

// Retrain is the monthly retraining loop (retrain.asl.json). Its Task
// resources are ${...} substitutions: SAM fills them with function ARNs on
// AWS; the local executor maps them to the Go steps.
//
//go:embed retrain.asl.json
var Retrain []byte

// Substitution names used in Retrain, one per Lambda function it invokes.
const (
	DriftFunction    = "DriftFunctionArn"
	TrainFunction    = "TrainFunctionArn"
	EvaluateFunction = "EvaluateFunctionArn"
	CompareFunction  = "CompareFunctionArn"
	IngestFunction   = "IngestFunctionArn"
	ScoreFunction    = "ScoreFunctionArn"
	ReportFunction   = "ReportFunctionArn"
)

// Functions are every substitution name of Retrain, in the template's
// order.
var Functions = []string{DriftFunction, TrainFunction, EvaluateFunction, CompareFunction, IngestFunction, ScoreFunction, ReportFunction}
