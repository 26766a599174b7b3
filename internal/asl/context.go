package asl

import (
	"encoding/json"
	"strconv"
	"time"
)

// ExecutionInfo is the part of the context object fixed for a whole
// execution.
type ExecutionInfo struct {
	ID               string          `json:"id"`
	Name             string          `json:"name"`
	StateMachineID   string          `json:"stateMachineId"`
	StateMachineName string          `json:"stateMachineName"`
	Input            json.RawMessage `json:"input"`
	StartTime        time.Time       `json:"startTime"`
}

func (x *run) env(input, contextObj any) *evalEnv {
	return &evalEnv{input: input, context: contextObj, uuid: x.uuid}
}

// contextObject builds $$ for a state running in fr.
func (x *run) contextObject(fr *frame, st *state, entered time.Time, retryCount int, token string) map[string]any {
	c := map[string]any{
		"Execution": map[string]any{
			"Id":           fr.exec.ID,
			"Input":        fr.execInput,
			"Name":         fr.exec.Name,
			"RoleArn":      localRoleARN,
			"StartTime":    awsTime(fr.exec.StartTime),
			"RedriveCount": json.Number("0"),
		},
		"State": map[string]any{
			"Name":        st.name,
			"EnteredTime": awsTime(entered),
			"RetryCount":  json.Number(strconv.Itoa(retryCount)),
		},
		"StateMachine": map[string]any{
			"Id":   fr.exec.StateMachineID,
			"Name": fr.exec.StateMachineName,
		},
	}
	if token != "" {
		c["Task"] = map[string]any{"Token": token}
	}
	return c
}

// awsTime formats times as the context object does.
func awsTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
