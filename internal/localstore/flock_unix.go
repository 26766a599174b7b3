//go:build unix

package localstore

import (
	"errors"
	"os"
	"syscall"
)

// tryFlock tries to take f's advisory lock (shared or exclusive) without
// waiting: false if another open file holds a conflicting one. flock locks
// belong to the open file, so two opens in one process exclude each other
// like two processes.
func tryFlock(f *os.File, exclusive bool) (bool, error) {
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return false, nil
	}
	return err == nil, err
}
