package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/churnops/churnops/internal/ingest"
	"github.com/churnops/churnops/internal/pipeline"
)

// incomingOf reads `run --incoming`: a directory of this machine (the
// local backend only), a marker key (incoming/as_of=D/_SUCCESS, what the
// EventBridge rule passes) or a key prefix in the state's blob store.
func incomingOf(arg, asOf, backend string) *pipeline.Incoming {
	if backend != backendAWS {
		if st, err := os.Stat(arg); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(arg); err == nil {
				arg = abs
			}
			return &pipeline.Incoming{Dir: arg, AsOf: asOf}
		}
	}
	if slices.Contains(ingest.Markers, path.Base(arg)) {
		return &pipeline.Incoming{Key: arg, AsOf: asOf}
	}
	if !strings.HasSuffix(arg, "/") {
		arg += "/"
	}
	return &pipeline.Incoming{Prefix: arg, AsOf: asOf}
}

// incomingName names an execution that ingests the month a marker says
// has arrived after the month and the marker's bytes, so that the same
// arrival run twice is refused (a name used before), as a second delivery
// of the same S3 event is a duplicate on AWS. Other executions get a new
// name ("").
func incomingName(ctx context.Context, st *stores, in *pipeline.Incoming, asOf string) string {
	if in.Key == "" {
		return ""
	}
	data, err := st.Blobs.Get(ctx, in.Key)
	if err != nil {
		return "" // the plan reports a missing marker
	}
	h := sha256.New()
	h.Write([]byte(in.Key + "\x00"))
	h.Write(data)
	return "ingest-" + asOf + "-" + hex.EncodeToString(h.Sum(nil)[:6])
}

func incomingString(in *pipeline.Incoming) string {
	switch {
	case in.Dir != "":
		return in.Dir
	case in.Key != "":
		return in.Key
	}
	return in.Prefix
}
