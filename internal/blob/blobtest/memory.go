package blobtest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"

	"github.com/churnops/churnops/internal/blob"
)

// Memory is an in-memory blob.Store for tests that write many objects
// (the embedded store fsyncs each one). It passes Run, like the real
// stores: keys are checked with blob.CheckKey, write-once, listed sorted.
type Memory struct {
	mu   sync.RWMutex
	data map[string][]byte
}

var _ blob.Store = (*Memory)(nil)

// NewMemory returns an empty store.
func NewMemory() *Memory { return &Memory{data: map[string][]byte{}} }

// Put implements blob.Store.
func (m *Memory) Put(ctx context.Context, key string, data []byte) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.data[key]; ok {
		return fmt.Errorf("put %s: %w", key, blob.ErrExists)
	}
	m.data[key] = bytes.Clone(data)
	return nil
}

// Get implements blob.Store.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	if err := blob.CheckKey(key); err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	d, ok := m.data[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, blob.ErrNotFound)
	}
	return bytes.Clone(d), nil
}

// Open implements blob.Store.
func (m *Memory) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	d, err := m.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

// Delete implements blob.Store.
func (m *Memory) Delete(ctx context.Context, key string) error {
	if err := blob.CheckKey(key); err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

// List implements blob.Store.
func (m *Memory) List(ctx context.Context, prefix string) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("list %q: %w", prefix, err)
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	var keys []string
	for k := range m.data {
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys, nil
}

// Len returns how many keys are stored.
func (m *Memory) Len() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.data)
}
