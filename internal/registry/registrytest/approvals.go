package registrytest

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

// RunApprovals runs the registry.Approvals contract against stores made by
// newApprovals, once per subtest.
func RunApprovals(t *testing.T, newApprovals func(t *testing.T) registry.Approvals) {
	t.Helper()
	tests := []struct {
		name string
		run  func(t *testing.T, a registry.Approvals)
	}{
		{"Put and Get", testApprovalRoundTrip},
		{"unknown tokens", testApprovalNotFound},
		{"Put to a taken token", testApprovalDuplicate},
		{"empty token", testApprovalInvalid},
		{"List", testApprovalList},
		{"concurrent Deletes", testApprovalConcurrentDelete},
		{"Claim and Release", testApprovalClaim},
		{"concurrent Claims", testApprovalConcurrentClaim},
		{"Replace", testApprovalReplace},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.run(t, newApprovals(t)) })
	}
}

func info(model string, version int, created time.Time) registry.ApprovalInfo {
	return registry.ApprovalInfo{Model: model, Version: version, CandidateAUC: 0.71, ProductionAUC: 0.64,
		Execution: fmt.Sprintf("arn:aws:states:local:000000000000:execution:churnops-retrain:%s-%d", model, version), CreatedAt: created}
}

func assertApproval(t *testing.T, got registry.Approval, token string, checkpoint []byte, want registry.ApprovalInfo) {
	t.Helper()
	gi := got.Info
	if got.Token != token || !bytes.Equal(got.Checkpoint, checkpoint) || !gi.CreatedAt.Equal(want.CreatedAt) ||
		gi.Model != want.Model || gi.Version != want.Version || gi.CandidateAUC != want.CandidateAUC || gi.ProductionAUC != want.ProductionAUC ||
		gi.Execution != want.Execution {
		t.Errorf("approval:\n got %q %x %+v\nwant %q %x %+v", got.Token, got.Checkpoint, gi, token, checkpoint, want)
	}
}

// ours keeps the approvals whose token starts with prefix, so a shared
// store's other entries do not disturb List checks.
func ours(as []registry.Approval, prefix string) []string {
	var out []string
	for _, a := range as {
		if strings.HasPrefix(a.Token, prefix) {
			out = append(out, a.Token)
		}
	}
	return out
}

func testApprovalRoundTrip(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	checkpoint := make([]byte, 256)
	for i := range checkpoint {
		checkpoint[i] = byte(i)
	}
	cases := []struct {
		name       string
		checkpoint []byte
		created    time.Time
	}{
		{"binary checkpoint", checkpoint, time.Date(2024, 2, 1, 10, 0, 0, 5000, time.UTC)},
		{"empty checkpoint, CreatedAt filled in", nil, time.Time{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := unique(t, "tok")
			in := info(unique(t, "churn"), 3, tc.created)
			before := time.Now().Add(-time.Minute)
			if err := a.Put(ctx, token, tc.checkpoint, in); err != nil {
				t.Fatalf("Put: %v", err)
			}
			got, err := a.Get(ctx, token)
			if err != nil {
				t.Fatalf("Get: %v", err)
			}
			if tc.created.IsZero() {
				if got.Info.CreatedAt.Before(before) {
					t.Errorf("zero CreatedAt stored as %s, want now", got.Info.CreatedAt)
				}
				in.CreatedAt = got.Info.CreatedAt
			}
			assertApproval(t, got, token, tc.checkpoint, in)
		})
	}
}

func testApprovalNotFound(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	token := unique(t, "tok")
	if _, err := a.Get(ctx, token); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("Get unknown: err %v, want ErrApprovalNotFound", err)
	}
	if err := a.Delete(ctx, token); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("Delete unknown: err %v, want ErrApprovalNotFound", err)
	}
	if err := a.Put(ctx, token, []byte("cp"), info("m", 1, time.Now())); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := a.Delete(ctx, token); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := a.Get(ctx, token); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("Get after Delete: err %v, want ErrApprovalNotFound", err)
	}
	if err := a.Delete(ctx, token); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("second Delete: err %v, want ErrApprovalNotFound", err)
	}
}

func testApprovalDuplicate(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	token := unique(t, "tok")
	first := info("churn", 2, time.Date(2024, 2, 1, 0, 0, 0, 0, time.UTC))
	if err := a.Put(ctx, token, []byte("first"), first); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if err := a.Put(ctx, token, []byte("second"), info("churn", 9, time.Now())); !errors.Is(err, registry.ErrConflict) {
		t.Errorf("second Put: err %v, want ErrConflict", err)
	}
	got, err := a.Get(ctx, token)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	assertApproval(t, got, token, []byte("first"), first)
}

func testApprovalInvalid(t *testing.T, a registry.Approvals) {
	if err := a.Put(t.Context(), "", []byte("cp"), info("churn", 1, time.Now())); !errors.Is(err, registry.ErrInvalid) {
		t.Errorf("Put with an empty token: err %v, want ErrInvalid", err)
	}
}

func testApprovalList(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	prefix := unique(t, "tok")
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	// Put out of order; b and c tie on CreatedAt, so the token decides.
	puts := []struct {
		token   string
		created time.Time
	}{
		{prefix + "-c", base.Add(time.Hour)},
		{prefix + "-z", base},
		{prefix + "-b", base.Add(time.Hour)},
		{prefix + "-a", base.Add(2 * time.Hour)},
	}
	for _, p := range puts {
		if err := a.Put(ctx, p.token, []byte(p.token), info("churn", 1, p.created)); err != nil {
			t.Fatalf("Put %s: %v", p.token, err)
		}
	}
	if err := a.Delete(ctx, prefix+"-z"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	all, err := a.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	want := []string{prefix + "-b", prefix + "-c", prefix + "-a"}
	if got := ours(all, prefix); !slices.Equal(got, want) {
		t.Errorf("List: %q, want %q (oldest first, ties by token, deleted gone)", got, want)
	}
	for _, ap := range all {
		if strings.HasPrefix(ap.Token, prefix) && string(ap.Checkpoint) != ap.Token {
			t.Errorf("List %s: checkpoint %q, want %q", ap.Token, ap.Checkpoint, ap.Token)
		}
	}
}

func testApprovalConcurrentDelete(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	token := unique(t, "tok")
	if err := a.Put(ctx, token, []byte("cp"), info("churn", 1, time.Now())); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, Racers)
	for i := range Racers {
		wg.Go(func() { errs[i] = a.Delete(ctx, token) })
	}
	wg.Wait()
	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, registry.ErrApprovalNotFound):
			t.Errorf("Delete #%d: %v, want nil or ErrApprovalNotFound", i, err)
		}
	}
	if ok != 1 {
		t.Errorf("%d Deletes succeeded, want exactly 1 (%s)", ok, fmt.Sprint(errs))
	}
}

func testApprovalClaim(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	token := unique(t, "tok")
	in := info("churn", 4, time.Date(2024, 4, 1, 0, 0, 0, 0, time.UTC))
	if err := a.Put(ctx, token, []byte("cp"), in); err != nil {
		t.Fatalf("Put: %v", err)
	}
	never := func(registry.ApprovalClaim) bool { return false }
	always := func(registry.ApprovalClaim) bool { return true }
	claimedBy := func(want string) {
		t.Helper()
		got, err := a.Get(ctx, token)
		if err != nil {
			t.Fatalf("Get: %v", err)
		}
		assertApproval(t, got, token, []byte("cp"), in) // a claim keeps the run intact
		switch {
		case want == "" && got.Claim != nil:
			t.Errorf("claimed by %q, want no claim", got.Claim.Owner)
		case want != "" && (got.Claim == nil || got.Claim.Owner != want || got.Claim.At.IsZero()):
			t.Errorf("claim %+v, want one by %q with a time", got.Claim, want)
		}
	}
	ap, err := a.Claim(ctx, token, "alice", never)
	if err != nil {
		t.Fatalf("Claim: %v", err)
	}
	if ap.Claim == nil || ap.Claim.Owner != "alice" || string(ap.Checkpoint) != "cp" {
		t.Errorf("Claim returned %+v, want the run claimed by alice", ap)
	}
	claimedBy("alice")
	steps := []struct {
		name    string
		call    func() error
		wantErr error
		owner   string // the claim's owner afterwards
	}{
		{"another owner is refused", func() error { _, err := a.Claim(ctx, token, "bob", never); return err }, registry.ErrConflict, "alice"},
		{"the same owner again", func() error { _, err := a.Claim(ctx, token, "alice", never); return err }, nil, "alice"},
		{"another owner's Release changes nothing", func() error { return a.Release(ctx, token, "bob") }, nil, "alice"},
		{"the owner's Release", func() error { return a.Release(ctx, token, "alice") }, nil, ""},
		{"Release without a claim", func() error { return a.Release(ctx, token, "alice") }, nil, ""},
		{"a free run is claimed", func() error { _, err := a.Claim(ctx, token, "bob", never); return err }, nil, "bob"},
		{"a stale claim is taken over", func() error { _, err := a.Claim(ctx, token, "carol", always); return err }, nil, "carol"},
	}
	for _, st := range steps {
		err := st.call()
		if st.wantErr == nil && err != nil || st.wantErr != nil && !errors.Is(err, st.wantErr) {
			t.Errorf("%s: err %v, want %v", st.name, err, st.wantErr)
		}
		claimedBy(st.owner)
	}
	unknown := unique(t, "tok")
	if _, err := a.Claim(ctx, unknown, "alice", never); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("Claim of an unknown token: %v, want ErrApprovalNotFound", err)
	}
	if err := a.Release(ctx, unknown, "alice"); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("Release of an unknown token: %v, want ErrApprovalNotFound", err)
	}
}

func testApprovalConcurrentClaim(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	token := unique(t, "tok")
	if err := a.Put(ctx, token, []byte("cp"), info("churn", 1, time.Now())); err != nil {
		t.Fatalf("Put: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, Racers)
	for i := range Racers {
		wg.Go(func() {
			_, errs[i] = a.Claim(ctx, token, fmt.Sprintf("owner-%d", i), func(registry.ApprovalClaim) bool { return false })
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("owners %d and %d both claimed the run", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, registry.ErrConflict):
			t.Errorf("Claim #%d: %v, want nil or ErrConflict", i, err)
		}
	}
	got, err := a.Get(ctx, token)
	if err != nil || winner < 0 || got.Claim == nil || got.Claim.Owner != fmt.Sprintf("owner-%d", winner) {
		t.Errorf("after the race: claim %+v (%v), winner %d", got.Claim, err, winner)
	}
}

func testApprovalReplace(t *testing.T, a registry.Approvals) {
	ctx := t.Context()
	prefix := unique(t, "tok")
	created := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tok := range []string{"a", "b"} {
		if err := a.Put(ctx, prefix+"-"+tok, []byte(tok), info("churn", 1, created)); err != nil {
			t.Fatalf("Put %s: %v", tok, err)
		}
	}
	second := info("churn", 2, created.Add(time.Hour))
	if err := a.Replace(ctx, []string{prefix + "-a", prefix + "-missing"}, prefix+"-c", []byte("c"), second); err != nil {
		t.Fatalf("Replace: %v", err)
	}
	got, err := a.Get(ctx, prefix+"-c")
	if err != nil {
		t.Fatalf("Get the new run: %v", err)
	}
	assertApproval(t, got, prefix+"-c", []byte("c"), second)
	if _, err := a.Get(ctx, prefix+"-a"); !errors.Is(err, registry.ErrApprovalNotFound) {
		t.Errorf("the replaced run: %v, want ErrApprovalNotFound", err)
	}
	// A taken token and an empty one change nothing.
	for _, tc := range []struct {
		token   string
		wantErr error
	}{{prefix + "-c", registry.ErrConflict}, {"", registry.ErrInvalid}} {
		if err := a.Replace(ctx, []string{prefix + "-b"}, tc.token, []byte("x"), second); !errors.Is(err, tc.wantErr) {
			t.Errorf("Replace into %q: %v, want %v", tc.token, err, tc.wantErr)
		}
	}
	all, err := a.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if got, want := ours(all, prefix), []string{prefix + "-b", prefix + "-c"}; !slices.Equal(got, want) {
		t.Errorf("List after Replace: %q, want %q", got, want)
	}
}
