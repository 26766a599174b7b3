package localstore

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

// claimHorizon is how long a claim by a process on another host (a state
// directory on a network file system), whose liveness cannot be checked
// here, is honoured.
const claimHorizon = time.Hour

// ProcessOwner names this process in approval claims: host, PID and a
// random nonce, so a later process that reuses the PID is not taken for it.
var ProcessOwner = sync.OnceValue(func() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d:%s", host, os.Getpid(), rand.Text()[:8])
})

// OwnerGone reports whether the process that made claim c is gone, so its
// claim can be taken over: a process of this host that no longer runs (it
// was killed mid-answer), or a claim from another host older than an hour.
func OwnerGone(c registry.ApprovalClaim) bool {
	host, rest, ok := strings.Cut(c.Owner, ":")
	pidText, _, _ := strings.Cut(rest, ":")
	pid, err := strconv.Atoi(pidText)
	if !ok || err != nil {
		return true // not a claim this package made
	}
	if me, _ := os.Hostname(); host != me {
		return time.Since(c.At) > claimHorizon
	}
	return !processRuns(pid)
}

// processRuns reports whether a process with this PID exists (signal 0
// checks without sending anything; EPERM means it exists, as another user).
func processRuns(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}
