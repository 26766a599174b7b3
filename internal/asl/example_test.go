package asl_test

import (
	"context"
	"fmt"

	"github.com/churnops/churnops/internal/asl"
)

// Example shows the wiring a CLI does: substitute the function ARNs the
// way SAM's DefinitionSubstitutions would, map each function to a Go
// handler, run, and print progress from the Observer.
func Example() {
	def := []byte(`{
	  "StartAt": "Drift",
	  "States": {
	    "Drift": {
	      "Type": "Task",
	      "Resource": "arn:aws:states:::lambda:invoke",
	      "Parameters": {"FunctionName": "${DriftFunctionArn}", "Payload": {"as_of.$": "$.as_of"}},
	      "ResultSelector": {"share.$": "$.Payload.drift_share"},
	      "ResultPath": "$.drift",
	      "Next": "Gate"
	    },
	    "Gate": {
	      "Type": "Choice",
	      "Choices": [{"Variable": "$.drift.share", "NumericGreaterThanEqualsPath": "$.threshold", "Next": "Retrain"}],
	      "Default": "Keep"
	    },
	    "Retrain": {"Type": "Succeed"},
	    "Keep": {"Type": "Succeed"}
	  }
	}`)
	m, err := asl.Parse(def, map[string]string{
		"DriftFunctionArn": "arn:aws:lambda:eu-west-1:123456789012:function:churnops-drift",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	type driftIn struct {
		AsOf string `json:"as_of"`
	}
	r := &asl.Runner{
		Machine: m,
		Handlers: asl.Handlers{
			// Keyed by function name: it matches the ARN's name part.
			"churnops-drift": asl.NewHandler(func(_ context.Context, in driftIn) (map[string]float64, error) {
				return map[string]float64{"drift_share": 0.25}, nil
			}),
		},
		Observer: func(e asl.Event) {
			if e.Type == asl.EventStateEntered {
				fmt.Println("→", e.State)
			}
		},
	}
	ex, err := r.Run(context.Background(), "2024-03", []byte(`{"as_of": "2024-03-31", "threshold": 0.02}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ex.Status, string(ex.Output))
	// Output:
	// → Drift
	// → Gate
	// → Retrain
	// SUCCEEDED {"as_of":"2024-03-31","drift":{"share":0.25},"threshold":0.02}
}
