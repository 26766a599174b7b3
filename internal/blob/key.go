package blob

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Key limits. MaxKeyLen is S3's; MaxSegmentLen is the usual file-name limit
// (NAME_MAX), so that every key also maps to a path on a laptop.
const (
	MaxKeyLen     = 1024
	MaxSegmentLen = 255
)

// CheckKey reports whether key is a valid blob key, wrapping ErrBadKey if
// not. Every Store calls it, so the same keys are accepted everywhere.
//
// A key is non-empty valid UTF-8 of at most MaxKeyLen bytes made of
// '/'-separated segments. Each segment is non-empty (no leading, trailing or
// doubled '/'), at most MaxSegmentLen bytes, does not start with '.' (this
// rules out "." and ".." traversal, and leaves dot-files such as
// .DS_Store to the file system), and holds no backslash (a Windows path
// separator) and no control character.
func CheckKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty key: %w", ErrBadKey)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("key %.40q…: longer than %d bytes: %w", key, MaxKeyLen, ErrBadKey)
	}
	if !utf8.ValidString(key) {
		return fmt.Errorf("key %q: not valid UTF-8: %w", key, ErrBadKey)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("key %q: empty segment (leading, trailing or double '/'): %w", key, ErrBadKey)
		case len(seg) > MaxSegmentLen:
			return fmt.Errorf("key %q: segment longer than %d bytes: %w", key, MaxSegmentLen, ErrBadKey)
		case seg[0] == '.':
			return fmt.Errorf("key %q: segment %q starts with '.': %w", key, seg, ErrBadKey)
		}
		for _, r := range seg {
			if r == '\\' || r < 0x20 || r == 0x7f {
				return fmt.Errorf("key %q: backslash or control character: %w", key, ErrBadKey)
			}
		}
	}
	return nil
}
