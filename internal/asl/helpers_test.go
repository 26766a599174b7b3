package asl_test

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/churnops/churnops/internal/asl"
)

// fakeClock never waits: Sleep records the duration and moves time
// forward; Task timeouts run a thousand times faster than real time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2024, 3, 31, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return ctx.Err()
}

func (c *fakeClock) WithTimeout(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, d/1000)
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

// load parses a testdata fixture.
func load(tb testing.TB, name string, subs map[string]string) *asl.Machine {
	tb.Helper()
	def, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	m, err := asl.Parse(def, subs)
	if err != nil {
		tb.Fatalf("Parse(%s): %v", name, err)
	}
	return m
}

// newRunner returns a deterministic Runner on a fake clock.
func newRunner(m *asl.Machine, h asl.Handlers) (*asl.Runner, *fakeClock) {
	clock := newFakeClock()
	return &asl.Runner{
		Machine:          m,
		Handlers:         h,
		Clock:            clock,
		Random:           rand.NewChaCha8([32]byte{1}),
		StateMachineName: "retrain",
	}, clock
}

// run executes and fails the test on a Go error.
func run(tb testing.TB, r *asl.Runner, input string) *asl.Execution {
	tb.Helper()
	ex, err := r.Run(context.Background(), "exec-1", json.RawMessage(input))
	if err != nil {
		tb.Fatalf("Run: %v", err)
	}
	return ex
}

// assertJSON compares JSON texts semantically.
func assertJSON(tb testing.TB, got json.RawMessage, want string) {
	tb.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		tb.Fatalf("got invalid JSON %s: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		tb.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		tb.Errorf("JSON mismatch\n got: %s\nwant: %s", got, want)
	}
}

// assertStatus checks an execution's status, error and cause.
func assertStatus(tb testing.TB, ex *asl.Execution, status asl.Status, errName string) {
	tb.Helper()
	if ex.Status != status || ex.Error != errName {
		tb.Fatalf("status %s error %q (cause %q), want %s error %q", ex.Status, ex.Error, ex.Cause, status, errName)
	}
}

// static is a handler that returns fixed JSON and records its inputs.
type static struct {
	mu     sync.Mutex
	out    string
	inputs []string
}

func (s *static) handle(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inputs = append(s.inputs, string(in))
	return json.RawMessage(s.out), nil
}

// eventTypes lists the types of a history, for order assertions.
func eventTypes(h []asl.Event) []asl.EventType {
	out := make([]asl.EventType, len(h))
	for i, e := range h {
		out[i] = e.Type
	}
	return out
}

// findEvents returns the events of one type.
func findEvents(h []asl.Event, t asl.EventType) []asl.Event {
	var out []asl.Event
	for _, e := range h {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}
