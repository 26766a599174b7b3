package asl_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/asl"
)

func TestParseRejectsConstructsOutsideTheSubset(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "rejected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []struct {
		Name       string          `json:"name"`
		Want       []string        `json:"want"`
		Definition json.RawMessage `json:"definition"`
	}
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		t.Run(tc.Name, func(t *testing.T) {
			m, err := asl.Parse(tc.Definition, nil)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", m)
			}
			var de *asl.DefinitionError
			if !errors.As(err, &de) {
				t.Errorf("error %T is not a *DefinitionError", err)
			}
			for _, w := range tc.Want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestParseAcceptsFixtures(t *testing.T) {
	subs := map[string]string{
		"InputPath": `"$"`, "ResultPath": `"$"`, "OutputPath": `"$"`,
		"Rule": `"Variable": "$.x", "IsPresent": true`, "Wait": `"Seconds": 1`,
		"Retry": `[]`, "CatchErrors": `["States.ALL"]`,
		"DriftFunctionArn": "drift", "TrainFunctionArn": "train", "CompareFunctionArn": "compare",
		"QueueUrl":       "https://sqs.us-east-1.amazonaws.com/123456789012/approvals",
		"MaxConcurrency": "0", "Tolerance": "", "Mode": "INLINE", "ExecutionType": "",
		"Reader": `{"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b", "Prefix": "p/"}}`,
	}
	files, err := filepath.Glob(filepath.Join("testdata", "*.asl.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			m := load(t, filepath.Base(f), subs)
			if m.StateType(m.StartAt()) == "" {
				t.Errorf("StartAt %q has no state type", m.StartAt())
			}
			if got := m.States(); len(got) == 0 || got[0] != m.StartAt() {
				t.Errorf("States() = %q, want definition order starting with %q", got, m.StartAt())
			}
		})
	}
}

// TestParseRepoStateMachines keeps the project's real definitions inside
// the subset this executor runs.
func TestParseRepoStateMachines(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("..", "..", "statemachine", "*.asl.json"))
	if len(files) == 0 {
		t.Skip("no statemachine/*.asl.json yet")
	}
	placeholder := regexp.MustCompile(`\$\{([A-Za-z0-9_]+)\}`)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			def, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			subs := map[string]string{}
			for _, m := range placeholder.FindAllStringSubmatch(string(def), -1) {
				subs[m[1]] = "arn:aws:lambda:us-east-1:123456789012:function:" + m[1]
			}
			if _, err := asl.Parse(def, subs); err != nil {
				t.Errorf("%s is outside the executor's subset:\n%v", f, err)
			}
		})
	}
}

func TestParseSubstitutions(t *testing.T) {
	def := []byte(`{"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "${Fn}", "End": true}}}`)
	tests := []struct {
		name    string
		subs    map[string]string
		wantErr string
	}{
		{name: "ARN", subs: map[string]string{"Fn": "arn:aws:lambda:eu-west-1:123456789012:function:drift"}},
		{name: "extra substitutions are ignored", subs: map[string]string{"Fn": "drift", "Unused": "x"}},
		{name: "missing", subs: map[string]string{"Other": "x"}, wantErr: "no substitution for placeholder(s) ${Fn}"},
		{name: "nil map", subs: nil, wantErr: "${Fn}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := asl.Parse(def, tc.subs)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The substituted resource is what handlers are looked up by.
			err = m.CheckHandlers(asl.Handlers{})
			var mh *asl.MissingHandlerError
			if !errors.As(err, &mh) || mh.Resource != tc.subs["Fn"] {
				t.Fatalf("CheckHandlers = %v, want a MissingHandlerError for %q", err, tc.subs["Fn"])
			}
			if !strings.Contains(mh.Keys[len(mh.Keys)-1], "drift") {
				t.Errorf("keys %q should end with the bare function name", mh.Keys)
			}
		})
	}
}

// TestParseMapProcessors: a Map's processor states are part of the machine
// for StateType and CheckHandlers, not for States (the top-level listing).
func TestParseMapProcessors(t *testing.T) {
	m := load(t, "map_nested.asl.json", nil)
	if got := m.States(); len(got) != 1 || got[0] != "Groups" {
		t.Errorf("States() = %q, want the definition's own [Groups]", got)
	}
	for name, want := range map[string]string{"Groups": "Map", "Members": "Map", "Member": "Task", "Nowhere": ""} {
		if got := m.StateType(name); got != want {
			t.Errorf("StateType(%q) = %q, want %q", name, got, want)
		}
	}
	var mh *asl.MissingHandlerError
	if err := m.CheckHandlers(asl.Handlers{}); !errors.As(err, &mh) || mh.State != "Member" {
		t.Errorf("CheckHandlers = %v, want the nested Task Member reported", err)
	}
	if err := m.CheckHandlers(asl.Handlers{"member": (&static{}).handle}); err != nil {
		t.Errorf("CheckHandlers with the nested handler: %v", err)
	}
}

func TestParseInvalidJSON(t *testing.T) {
	for _, def := range []string{``, `{`, `[]`, `{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}} trailing`} {
		if _, err := asl.Parse([]byte(def), nil); err == nil {
			t.Errorf("Parse(%q) accepted invalid input", def)
		}
	}
}

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "*.asl.json"))
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"StartAt":"A","States":{"A":{"Type":"Pass","Parameters":{"x.$":"States.Format('{}', States.Array($['a'][0]))"},"End":true}}}`))
	// Map definitions beyond the fixtures: nesting, readers, writers and
	// the fields that must be rejected, so mutations cross between them.
	f.Add([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","ItemsPath":"$.a","MaxConcurrencyPath":"$.n","ItemSelector":{"i.$":"$$.Map.Item.Index"},"Iterator":{"StartAt":"N","States":{"N":{"Type":"Map","Parameters":{"v.$":"$$.Map.Item.Value"},"ItemProcessor":{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}},"End":true}}},"Retry":[{"ErrorEquals":["States.ALL"]}],"Next":"E"},"E":{"Type":"Succeed"}}}`))
	f.Add([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","Label":"L","ItemReader":{"Resource":"arn:aws:states:::s3:getObject","ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"GIVEN","CSVHeaders":["a"],"MaxItems":3},"Parameters":{"Bucket.$":"$.b","Key":"k"}},"ToleratedFailurePercentage":12.5,"ToleratedFailureCountPath":"$.c","ResultWriter":{"Resource":"arn:aws:states:::s3:putObject","Parameters":{"Bucket":"b","Prefix":"p"}},"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"EXPRESS"},"StartAt":"T","States":{"T":{"Type":"Task","Resource":"arn:aws:lambda:us-east-1:1:function:f","End":true}}},"ResultSelector":{"k.$":"$.ResultWriterDetails.Key"},"Catch":[{"ErrorEquals":["States.ExceedToleratedFailureThreshold"],"Next":"F"}],"End":true},"F":{"Type":"Fail","Error":"E"}}}`))
	f.Add([]byte(`{"StartAt":"M","States":{"M":{"Type":"Map","ItemBatcher":{},"ItemReader":{"Resource":"arn:aws:states:::s3:listObjectsV2","Parameters":{"Bucket":"b"}},"ItemProcessor":{"ProcessorConfig":{"Mode":"INLINE"},"StartAt":"M","States":{"M":{"Type":"Pass","Parameters":{"i.$":"$$.Map.Item.Index"},"End":true}}},"End":true}}}`))
	f.Fuzz(func(t *testing.T, def []byte) {
		m, err := asl.Parse(def, map[string]string{"Rule": `"Variable":"$.x","IsNull":true`})
		if err != nil {
			return
		}
		if m.StateType(m.StartAt()) == "" {
			t.Fatalf("accepted a machine whose StartAt %q is not a state", m.StartAt())
		}
	})
}
