package asl_test

import (
	"context"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

// TestChoiceOperators runs one rule per case through testdata/choice.asl.json
// (the rule is substituted in), checking matches, type mismatches (false,
// as on AWS) and missing variables (States.Runtime).
func TestChoiceOperators(t *testing.T) {
	const in = `{"s": "log-2024.txt", "star": "log-*", "n": 5, "f": 2.5, "five": 5.0, "b": true, "nil": null,
		"ts": "2024-03-31T12:00:00Z", "later": "2024-04-01T00:00:00+02:00", "other": "b", "obj": {"k": [1, 2]}}`
	tests := []struct {
		name      string
		rule      string
		want      string // "yes", "no", or an error name
		wantCause string
	}{
		{"StringEquals match", `"Variable": "$.s", "StringEquals": "log-2024.txt"`, "yes", ""},
		{"StringEquals mismatch", `"Variable": "$.s", "StringEquals": "log"`, "no", ""},
		{"StringEquals on a number is false", `"Variable": "$.n", "StringEquals": "5"`, "no", ""},
		{"StringEqualsPath", `"Variable": "$.other", "StringEqualsPath": "$.other"`, "yes", ""},
		{"StringLessThan", `"Variable": "$.other", "StringLessThan": "c"`, "yes", ""},
		{"StringGreaterThanEquals", `"Variable": "$.other", "StringGreaterThanEquals": "b"`, "yes", ""},
		{"StringLessThanPath", `"Variable": "$.other", "StringLessThanPath": "$.s"`, "yes", ""},
		{"StringMatches wildcard", `"Variable": "$.s", "StringMatches": "log-*.txt"`, "yes", ""},
		{"StringMatches no match", `"Variable": "$.s", "StringMatches": "*.csv"`, "no", ""},
		{"StringMatches escaped star", `"Variable": "$.star", "StringMatches": "log-\\*"`, "yes", ""},
		{"StringMatches escaped star is literal", `"Variable": "$.s", "StringMatches": "log-\\*"`, "no", ""},
		{"NumericEquals", `"Variable": "$.n", "NumericEquals": 5`, "yes", ""},
		{"NumericEquals 5 and 5.0", `"Variable": "$.five", "NumericEquals": 5`, "yes", ""},
		{"NumericEquals on a string is false", `"Variable": "$.s", "NumericEquals": 5`, "no", ""},
		{"NumericEqualsPath", `"Variable": "$.n", "NumericEqualsPath": "$.five"`, "yes", ""},
		{"NumericLessThan", `"Variable": "$.f", "NumericLessThan": 3`, "yes", ""},
		{"NumericLessThan false", `"Variable": "$.n", "NumericLessThan": 5`, "no", ""},
		{"NumericLessThanPath", `"Variable": "$.f", "NumericLessThanPath": "$.n"`, "yes", ""},
		{"NumericLessThanEquals", `"Variable": "$.n", "NumericLessThanEquals": 5`, "yes", ""},
		{"NumericLessThanEqualsPath", `"Variable": "$.n", "NumericLessThanEqualsPath": "$.f"`, "no", ""},
		{"NumericGreaterThan", `"Variable": "$.n", "NumericGreaterThan": 4.99`, "yes", ""},
		{"NumericGreaterThanPath", `"Variable": "$.n", "NumericGreaterThanPath": "$.five"`, "no", ""},
		{"NumericGreaterThanEquals", `"Variable": "$.f", "NumericGreaterThanEquals": 2.5`, "yes", ""},
		{"NumericGreaterThanEqualsPath", `"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.f"`, "yes", ""},
		{"NumericGreaterThanEqualsPath to a string is false", `"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.s"`, "no", ""},
		{"BooleanEquals", `"Variable": "$.b", "BooleanEquals": true`, "yes", ""},
		{"BooleanEquals on a string is false", `"Variable": "$.s", "BooleanEquals": true`, "no", ""},
		{"BooleanEquals false on a string is false too", `"Variable": "$.s", "BooleanEquals": false`, "no", ""},
		{"BooleanEqualsPath", `"Variable": "$.b", "BooleanEqualsPath": "$.b"`, "yes", ""},
		{"TimestampEquals across offsets", `"Variable": "$.later", "TimestampEquals": "2024-03-31T22:00:00Z"`, "yes", ""},
		{"TimestampLessThanPath", `"Variable": "$.ts", "TimestampLessThanPath": "$.later"`, "yes", ""},
		{"TimestampGreaterThan on a non-timestamp is false", `"Variable": "$.s", "TimestampGreaterThan": "2001-01-01T00:00:00Z"`, "no", ""},
		{"IsPresent on a present field", `"Variable": "$.nil", "IsPresent": true`, "yes", ""},
		{"IsPresent on a missing field", `"Variable": "$.missing", "IsPresent": true`, "no", ""},
		{"IsPresent false on a missing field", `"Variable": "$.missing", "IsPresent": false`, "yes", ""},
		{"IsNull", `"Variable": "$.nil", "IsNull": true`, "yes", ""},
		{"IsNull false", `"Variable": "$.n", "IsNull": false`, "yes", ""},
		{"IsNumeric", `"Variable": "$.f", "IsNumeric": true`, "yes", ""},
		{"IsNumeric on an array", `"Variable": "$.obj.k", "IsNumeric": true`, "no", ""},
		{"IsString", `"Variable": "$.s", "IsString": true`, "yes", ""},
		{"IsBoolean", `"Variable": "$.b", "IsBoolean": true`, "yes", ""},
		{"IsTimestamp", `"Variable": "$.ts", "IsTimestamp": true`, "yes", ""},
		{"IsTimestamp on a date", `"Variable": "$.s", "IsTimestamp": true`, "no", ""},
		{"array index in Variable", `"Variable": "$.obj.k[1]", "NumericEquals": 2`, "yes", ""},
		{"context object Variable", `"Variable": "$$.Execution.Name", "StringEquals": "exec-1"`, "yes", ""},
		{"And", `"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.b", "BooleanEquals": true}]`, "yes", ""},
		{"And false", `"And": [{"Variable": "$.n", "NumericGreaterThan": 1}, {"Variable": "$.b", "BooleanEquals": false}]`, "no", ""},
		{"And short-circuits before a missing path", `"And": [{"Variable": "$.missing", "IsPresent": true}, {"Variable": "$.missing", "NumericEquals": 1}]`, "no", ""},
		{"Or", `"Or": [{"Variable": "$.n", "NumericLessThan": 1}, {"Variable": "$.s", "StringMatches": "log*"}]`, "yes", ""},
		{"Not", `"Not": {"Variable": "$.s", "StringEquals": "x"}`, "yes", ""},
		{"nested", `"Not": {"Or": [{"Variable": "$.n", "NumericEquals": 1}, {"And": [{"Variable": "$.b", "IsBoolean": true}, {"Variable": "$.b", "BooleanEquals": false}]}]}`, "yes", ""},
		{"missing Variable is States.Runtime", `"Variable": "$.missing", "NumericEquals": 1`, asl.ErrorRuntime,
			"Invalid path '$.missing': The choice state's condition path references an invalid value."},
		{"missing Variable in IsNull is States.Runtime", `"Variable": "$.missing", "IsNull": true`, asl.ErrorRuntime, "$.missing"},
		{"missing comparison path is States.Runtime", `"Variable": "$.n", "NumericEqualsPath": "$.missing"`, asl.ErrorRuntime, "$.missing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(load(t, "choice.asl.json", map[string]string{"Rule": tc.rule}), nil)
			ex := run(t, r, in)
			switch tc.want {
			case "yes", "no":
				assertStatus(t, ex, asl.StatusSucceeded, "")
				assertJSON(t, ex.Output, `"`+tc.want+`"`)
			default:
				assertStatus(t, ex, asl.StatusFailed, tc.want)
				if !strings.Contains(ex.Cause, tc.wantCause) {
					t.Errorf("cause %q does not mention %q", ex.Cause, tc.wantCause)
				}
			}
		})
	}
}

func TestChoiceWithoutDefault(t *testing.T) {
	m, err := asl.Parse([]byte(`{"StartAt": "Gate", "States": {
		"Gate": {"Type": "Choice", "InputPath": "$.drift", "OutputPath": "$.share",
		         "Choices": [{"Variable": "$.share", "NumericGreaterThanEquals": 0.02, "Next": "Retrain"}]},
		"Retrain": {"Type": "Succeed"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, input string
		status      asl.Status
		errName     string
		output      string
	}{
		{"match applies InputPath then OutputPath", `{"drift": {"share": 0.5}}`, asl.StatusSucceeded, "", `0.5`},
		{"no match and no Default", `{"drift": {"share": 0.01}}`, asl.StatusFailed, asl.ErrorNoChoiceMatched, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := newRunner(m, nil)
			ex, err := r.Run(context.Background(), "", []byte(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			assertStatus(t, ex, tc.status, tc.errName)
			if tc.output != "" {
				assertJSON(t, ex.Output, tc.output)
			}
		})
	}
}
