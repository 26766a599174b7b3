//go:build !unix

package localstore

import (
	"errors"
	"os"
)

// tryFlock is not implemented here: the online features' publishers need
// flock(2).
func tryFlock(*os.File, bool) (bool, error) { return false, errors.ErrUnsupported }
