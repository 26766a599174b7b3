//go:build unix

package localstore

import (
	"os"
	"syscall"
)

// unlock releases bbolt's flock on f's open file, which a leftover mapping
// of the file would otherwise keep alive after f is closed.
func unlock(f *os.File) { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }
