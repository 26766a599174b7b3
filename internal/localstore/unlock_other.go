//go:build !unix

package localstore

import "os"

// unlock does nothing where bbolt's lock is released by closing the file.
func unlock(*os.File) {}
