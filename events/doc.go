// Package events holds sample Lambda events, one JSON file per function
// (and the Step Functions execution input), for
//
//	scripts/sam.sh local invoke DriftFunction -e events/drift.json
//
// The package has no code: its test decodes every sample strictly into the
// contract types of internal/pipeline (and aws-lambda-go's
// APIGatewayV2HTTPRequest for /predict) and checks each sample carries
// exactly the keys the state machine sends, so the samples cannot drift
// from the contracts or from statemachine/retrain.asl.json.
package events
