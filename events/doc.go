// Package events holds sample Lambda events, one JSON file per function
// (and the Step Functions execution input), for
//
//	scripts/sam.sh local invoke DriftFunction -e events/drift.json
//
// The package has no code: its test decodes every sample strictly into the
// contract types of internal/pipeline and checks each sample carries
// exactly the keys the state machine sends, so the samples cannot drift
// from the contracts or from statemachine/retrain.asl.json. The /predict
// samples (REST API v1, what template.yaml deploys, and HTTP API v2) are
// decoded strictly into aws-lambda-go's event types and run through
// internal/apigw, the adapter the Predict function uses. The REST samples
// are IAM-signed calls (the template's default ApiAuth): POST /predict,
// and POST /predict/details asking for "include": ["features", "reasons"]
// with "reasons_k": 5. The sharded ingest's, the batch scoring's and the
// run report's samples (ingest-*.json, score-*.json, report*.json) come
// from a real execution of a month uploaded under incoming/.
package events
