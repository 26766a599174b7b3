package asl

import (
	"context"
	"time"
)

// Clock is every use of time the executor makes, so tests can run Wait
// states, retry back-off and timeouts without waiting.
type Clock interface {
	// Now is used for timestamps, Wait Timestamp states and deadlines.
	Now() time.Time
	// Sleep waits d (Wait states, retry intervals) or until ctx is done.
	Sleep(ctx context.Context, d time.Duration) error
	// WithTimeout derives the context a Task handler runs under when the
	// Task has TimeoutSeconds.
	WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc)
}

// SystemClock returns the real clock, the default.
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (systemClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d)
}
