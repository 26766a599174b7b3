package localstore_test

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/registry"
)

// TestOwnerGone: a claim is taken over only when its process is gone (or,
// from another host, old); this process's own claim stays.
func TestOwnerGone(t *testing.T) {
	host, _ := os.Hostname()
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		c    registry.ApprovalClaim
		want bool
	}{
		{"this process", registry.ApprovalClaim{Owner: localstore.ProcessOwner(), At: time.Now()}, false},
		{"a process that ended", registry.ApprovalClaim{Owner: fmt.Sprintf("%s:%d:x", host, ended.Process.Pid), At: time.Now()}, true},
		{"another host, recent", registry.ApprovalClaim{Owner: "elsewhere.example:1:x", At: time.Now()}, false},
		{"another host, hours ago", registry.ApprovalClaim{Owner: "elsewhere.example:1:x", At: time.Now().Add(-3 * time.Hour)}, true},
		{"not a claim of ours", registry.ApprovalClaim{Owner: "garbage", At: time.Now()}, true},
	}
	for _, tc := range cases {
		if got := localstore.OwnerGone(tc.c); got != tc.want {
			t.Errorf("%s (%s): gone %v, want %v", tc.name, tc.c.Owner, got, tc.want)
		}
	}
}
