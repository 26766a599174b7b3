package pipeline_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func typeName(v any) string { return fmt.Sprintf("%T", v) }

func contextBackground() context.Context { return context.Background() }
