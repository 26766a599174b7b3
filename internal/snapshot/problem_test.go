package snapshot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"testing"

	"github.com/churnops/churnops/internal/snapshot"
)

// TestValidationErrorJSON checks that a problem crossing a process
// boundary (a staged shard result, a Lambda output) keeps its location,
// text and cause: errors.Is still finds the sentinel.
func TestValidationErrorJSON(t *testing.T) {
	_, numErr := strconv.Atoi("x")
	tests := []struct {
		in    snapshot.ValidationError
		cause error
	}{
		{snapshot.ValidationError{File: "labels.csv", Msg: "missing file", Err: fmt.Errorf("open: %w", fs.ErrNotExist)}, fs.ErrNotExist},
		{snapshot.ValidationError{File: "subscriptions.csv", Line: 3, Column: "months_active", Value: "x", Msg: "not an integer", Err: numErr}, strconv.ErrSyntax},
		{snapshot.ValidationError{File: "users/part-00001.csv.gz", Line: 12, Column: "user_id", Value: "0001-AAAAA", Msg: "duplicate user_id, first on line 2"}, nil},
		{snapshot.ValidationError{Row: 4, Column: "as_of", Msg: "as_of not set", Err: snapshot.ErrInvalidAsOf}, snapshot.ErrInvalidAsOf},
		{snapshot.ValidationError{File: "x.csv", Line: 2, Msg: "odd", Err: errors.New("some other cause")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.in.Error(), func(t *testing.T) {
			b, err := json.Marshal(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			var got snapshot.ValidationError
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if got.Error() != tt.in.Error() {
				t.Errorf("text %q, want %q (json %s)", got.Error(), tt.in.Error(), b)
			}
			if (got.Err == nil) != (tt.in.Err == nil) || (got.Err != nil && got.Err.Error() != tt.in.Err.Error()) {
				t.Errorf("cause %v, want %v", got.Err, tt.in.Err)
			}
			if tt.cause != nil && !errors.Is(&got, tt.cause) {
				t.Errorf("errors.Is(%v) = false after the round trip (json %s)", tt.cause, b)
			}
		})
	}
}

// TestMergeProblems checks that problems found by separate finders, each
// keeping its first MaxProblems, merge into one pass's order and cap.
func TestMergeProblems(t *testing.T) {
	mk := func(table, stage, part, line int) snapshot.Problem {
		return snapshot.Problem{Table: table, Stage: stage, Part: part,
			Err: &snapshot.ValidationError{File: fmt.Sprintf("t%d/p%d", table, part), Line: line, Msg: fmt.Sprintf("s%d", stage)}}
	}
	// One pass would report, in order: table 0's rows, table 1's rows
	// (part 0 then part 1), then the users missing from table 1.
	var all []snapshot.Problem
	for line := 2; line < 12; line++ {
		all = append(all, mk(0, snapshot.StageRead, 0, line))
	}
	for part := range 2 {
		for line := 2; line < 8; line++ {
			all = append(all, mk(1, snapshot.StageRead, part, line))
		}
	}
	for line := 2; line < 10; line++ {
		all = append(all, mk(1, snapshot.StageMissing, 0, line))
	}
	// Two finders get alternate problems and keep at most MaxProblems each.
	var finders [2][]snapshot.Problem
	omitted := 0
	for i, p := range all {
		f := &finders[i%2]
		if len(*f) == snapshot.MaxProblems {
			omitted++
			continue
		}
		*f = append(*f, p)
	}
	got := snapshot.MergeProblems("m", append(finders[1], finders[0]...), omitted)
	if got == nil || len(got.Problems) != snapshot.MaxProblems || got.Omitted != len(all)-snapshot.MaxProblems {
		t.Fatalf("merged %v", got)
	}
	for i, p := range got.Problems {
		if p != all[i].Err {
			t.Errorf("problem %d = %v, want %v", i, p, all[i].Err)
		}
	}
	if snapshot.MergeProblems("m", nil, 0) != nil {
		t.Error("no problems merged into a non-nil error")
	}
}
