package execlog_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/churnops/churnops/internal/blob"
	"github.com/churnops/churnops/internal/execlog"
	"github.com/churnops/churnops/internal/localstore"
)

func openBlobs(t *testing.T) blob.Store {
	t.Helper()
	st, err := localstore.Open(t.TempDir(), localstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st.Blobs
}

func record(t *testing.T, name string) execlog.Record {
	t.Helper()
	e := loadHistory(t, name)
	r, err := execlog.FromHistory(e.ARN, e.Name, e.History)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestKey(t *testing.T) {
	r := record(t, "paused")
	if got, want := execlog.Key(&r), "reports/executions/20261206T000340.040Z_approval.paused.json"; got != want {
		t.Errorf("paused key %s, want %s", got, want)
	}
	r = record(t, "approved")
	if got, want := execlog.Key(&r), "reports/executions/20261206T000340.040Z_approval.json"; got != want {
		t.Errorf("ended key %s, want %s", got, want)
	}
	r.Name = "a name/with ../odd: chars" + strings.Repeat("x", 100)
	k := execlog.Key(&r)
	if err := blob.CheckKey(k); err != nil || strings.Count(k, "/") != 2 || len(k) > 150 {
		t.Errorf("key %q for an odd name: %v", k, err)
	}
}

// TestWriteAndList stores what a run that paused and was approved writes,
// plus other executions, and reads them back as the dashboard does.
func TestWriteAndList(t *testing.T) {
	ctx := context.Background()
	s := openBlobs(t)
	paused, approved := record(t, "paused"), record(t, "approved")
	promoted, failed := record(t, "retrain_promoted"), record(t, "missing_snapshot")
	for _, r := range []*execlog.Record{&promoted, &paused, &failed, &approved} {
		if _, err := execlog.Write(ctx, s, r); err != nil {
			t.Fatal(err)
		}
	}
	// A retried final step writes the same record again: a no-op.
	if _, err := execlog.Write(ctx, s, &approved); err != nil {
		t.Errorf("rewriting the same record: %v", err)
	}
	// Another record under a taken key is refused.
	other := approved
	other.Outcome = "skipped"
	if _, err := execlog.Write(ctx, s, &other); !errors.Is(err, blob.ErrExists) {
		t.Errorf("another record under %s: err %v, want ErrExists", execlog.Key(&other), err)
	}
	// A damaged document is skipped, not fatal.
	if err := s.Put(ctx, execlog.Prefix+"20240101T000000.000Z_broken.json", []byte("{")); err != nil {
		t.Fatal(err)
	}
	recs, skipped, err := execlog.List(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || !strings.Contains(skipped[0].Error(), "broken") {
		t.Errorf("skipped %v, want the broken record", skipped)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Name+":"+r.Outcome)
	}
	// The paused record is superseded by the approved one; by start time.
	want := []string{"retrain:promoted", "missing:failed", "approval:promoted"}
	if !slices.Equal(got, want) {
		t.Errorf("records %v, want %v", got, want)
	}
	// Until it is answered, the paused one is listed.
	s2 := openBlobs(t)
	if _, err := execlog.Write(ctx, s2, &paused); err != nil {
		t.Fatal(err)
	}
	recs, _, err = execlog.List(ctx, s2)
	if err != nil || len(recs) != 1 || recs[0].Outcome != "pending_approval" {
		t.Errorf("with only the pause stored: %+v, %v", recs, err)
	}
}
