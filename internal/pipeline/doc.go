// Package pipeline holds the retraining loop's steps as plain Go: Ingest,
// Drift, Train, Evaluate and Compare. Their input and output structs are
// exactly the JSON events the Lambda functions receive and return, so the
// same code runs behind aws-lambda-go, behind the local ASL executor, and in
// tests.
//
// The steps compute values; they do not decide. The two decisions of the
// loop (retrain when drift_share >= threshold, promote when the candidate's
// AUC > the bar) are Choice states in statemachine/retrain.asl.json. Evaluate
// computes the bar (Production AUC + delta, or the min_auc floor when there
// is no Production model yet) and Compare applies whichever action the
// state machine chose.
//
// Errors returned by a step are typed and never wrapped (see errors.go):
// aws-lambda-go reports the Go type name as the error type, and the ASL's
// Retry and Catch match on those names.
package pipeline
