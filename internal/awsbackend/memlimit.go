package awsbackend

import (
	"os"
	"runtime/debug"
	"strconv"
)

// lambdaMemoryEnv is the function's configured memory in MB, set by the
// Lambda runtime.
const lambdaMemoryEnv = "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"

// memoryLimit is the soft heap limit a function should run with: 90% of
// its configured memory, so that the collector runs harder as the heap
// nears the function's size instead of letting a heap of live data L grow
// to 2L between collections (GOGC=100) and the sandbox be killed for it.
// The rest is for the runtime's own memory, stacks and the binary. It is 0
// (leave Go's default) outside Lambda, or when GOMEMLIMIT is set: an
// operator's setting wins.
func memoryLimit(getenv func(string) string) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	mb, err := strconv.ParseInt(getenv(lambdaMemoryEnv), 10, 64)
	if err != nil || mb <= 0 {
		return 0
	}
	return mb << 20 / 10 * 9
}

// setMemoryLimit applies memoryLimit to this process.
func setMemoryLimit() {
	if limit := memoryLimit(os.Getenv); limit > 0 {
		debug.SetMemoryLimit(limit)
	}
}
