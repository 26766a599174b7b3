package asl_test

import (
	"encoding/json"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

func TestChoose(t *testing.T) {
	m, err := asl.Parse([]byte(`{"StartAt": "Gate", "States": {
		"Gate": {"Type": "Choice", "Choices": [{"Variable": "$.x", "NumericGreaterThanEqualsPath": "$.t", "Next": "Yes"}], "Default": "No"},
		"Yes": {"Type": "Succeed"}, "No": {"Type": "Succeed"}}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		in, want string
		wantErr  bool
	}{{`{"x": 2, "t": 1}`, "Yes", false}, {`{"x": 1, "t": 1}`, "Yes", false}, {`{"x": 0, "t": 1}`, "No", false}, {`{"t": 1}`, "", true}} {
		got, err := m.Choose("Gate", json.RawMessage(tc.in))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("Choose(%s) = %q, %v; want %q (error %v)", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := m.Choose("Yes", json.RawMessage(`{}`)); err == nil {
		t.Error("Choose on a Succeed state: no error")
	}
}
