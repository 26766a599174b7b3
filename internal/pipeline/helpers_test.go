package pipeline_test

import (
	"bytes"
	"fmt"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func typeName(v any) string { return fmt.Sprintf("%T", v) }
