package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/churnops/churnops/internal/registry"
)

// current returns the model to serve this request with, first re-checking
// the registry if the reload interval has passed. It returns nil when no
// model is loaded.
func (s *Service) current(ctx context.Context) *loaded {
	if s.cfg.Clock().UnixNano() < s.nextCheck.Load() {
		return s.cur.Load() // the fast path: one clock read, two atomic loads
	}
	m, _ := s.check(ctx, false)
	return m
}

// Reload checks the registry now, regardless of the interval, and loads the
// Production version if it changed. Call it at startup (Lambda init runs
// with more CPU) so that the first request does not pay for the load. It
// returns why the check failed; the service keeps serving the previous
// model either way.
func (s *Service) Reload(ctx context.Context) error {
	_, err := s.check(ctx, true)
	return err
}

// check runs at most one registry check at a time. Without force, a caller
// that finds a check in flight serves the current model at once, or waits
// for the check if no model is loaded yet; with force it waits for the
// running check and then runs its own.
func (s *Service) check(ctx context.Context, force bool) (*loaded, error) {
	s.mu.Lock()
	for s.inflight != nil {
		ch := s.inflight
		s.mu.Unlock()
		if !force {
			if m := s.cur.Load(); m != nil {
				return m, nil
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return s.cur.Load(), ctx.Err()
		}
		if !force {
			return s.cur.Load(), nil
		}
		s.mu.Lock()
	}
	if !force && s.cfg.Clock().UnixNano() < s.nextCheck.Load() {
		s.mu.Unlock()
		return s.cur.Load(), nil // another check just finished
	}
	ch := make(chan struct{})
	s.inflight = ch
	s.mu.Unlock()

	defer func() {
		s.mu.Lock()
		s.nextCheck.Store(s.cfg.Clock().Add(s.cfg.ReloadInterval).UnixNano())
		s.inflight = nil
		close(ch)
		s.mu.Unlock()
	}()
	// The check outlives the request that triggered it: other requests may
	// be waiting on it, and a client hanging up must not abort a load.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.ReloadTimeout)
	defer cancel()
	err := s.reload(rctx)
	return s.cur.Load(), err
}

// reload reads the Production version and swaps it in if it changed.
func (s *Service) reload(ctx context.Context) error {
	s.reloadChecks.Add(1)
	cur := s.cur.Load()
	v, err := s.cfg.Registry.Production(ctx, s.cfg.ModelName)
	if errors.Is(err, registry.ErrNoProduction) {
		if cur != nil {
			s.log.Warn("registry has no Production version; keeping the loaded one",
				"version", cur.version.Version)
			return nil
		}
		s.log.Info("no Production model yet; /predict answers 503 until one is promoted",
			"retry_in", s.cfg.ReloadInterval.String())
		return fmt.Errorf("serve: %w", registry.ErrNoProduction)
	}
	if err != nil {
		return s.reloadFailed(cur, 0, fmt.Errorf("read Production version: %w", err))
	}
	if cur != nil && cur.version.Version == v.Version && cur.version.ArtifactKey == v.ArtifactKey {
		return nil
	}
	next, err := s.load(ctx, v)
	if err != nil {
		return s.reloadFailed(cur, v.Version, err)
	}
	s.cur.Store(next)
	s.reloads.Add(1)
	from := 0
	if cur != nil {
		from = cur.version.Version
	}
	s.log.Info("model loaded", "version", v.Version, "previous_version", from,
		"artifact_key", v.ArtifactKey, "as_of", v.AsOf)
	return nil
}

func (s *Service) reloadFailed(cur *loaded, version int, err error) error {
	s.reloadFailures.Add(1)
	attrs := []any{"err", err.Error(), "target_version", version, "retry_in", s.cfg.ReloadInterval.String()}
	if cur != nil {
		attrs = append(attrs, "serving_version", cur.version.Version)
		s.log.Error("model reload failed; serving the previous model", attrs...)
	} else {
		s.log.Error("model load failed; no model to serve", attrs...)
	}
	return fmt.Errorf("serve: reload %s: %w", s.cfg.ModelName, err)
}

// load fetches and decodes v's artifact and checks the model is usable.
func (s *Service) load(ctx context.Context, v registry.Version) (*loaded, error) {
	if v.ArtifactKey == "" {
		return nil, fmt.Errorf("version %d has no artifact key", v.Version)
	}
	data, err := s.cfg.Blobs.Get(ctx, v.ArtifactKey)
	if err != nil {
		return nil, fmt.Errorf("read artifact of version %d: %w", v.Version, err)
	}
	m, err := safeLoad(s.cfg.Loader, data)
	if err != nil {
		return nil, fmt.Errorf("decode artifact %s (version %d): %w", v.ArtifactKey, v.Version, err)
	}
	names := m.FeatureNames()
	if len(names) == 0 || m.NumFeatures() <= 0 {
		return nil, fmt.Errorf("artifact %s (version %d): model has no features", v.ArtifactKey, v.Version)
	}
	index := make(map[string]int, len(names))
	for i, n := range names {
		if _, dup := index[n]; dup {
			return nil, fmt.Errorf("artifact %s (version %d): feature %q listed twice", v.ArtifactKey, v.Version, n)
		}
		index[n] = i
	}
	if t := m.Threshold(); math.IsNaN(t) || t < 0 || t > 1 {
		return nil, fmt.Errorf("artifact %s (version %d): threshold %v outside [0, 1]", v.ArtifactKey, v.Version, t)
	}
	ex, _ := m.(Explainer)
	return &loaded{
		model:     m,
		explainer: ex,
		version:   v,
		names:     slices.Clone(names),
		index:     index,
		loadedAt:  s.cfg.Clock(),
	}, nil
}

// safeLoad runs the loader, turning a panic on corrupt bytes into an error.
func safeLoad(load Loader, data []byte) (m Model, err error) {
	defer func() {
		if v := recover(); v != nil {
			m, err = nil, fmt.Errorf("loader panicked: %v", v)
		}
	}()
	m, err = load(data)
	if err == nil && m == nil {
		err = errors.New("loader returned no model")
	}
	return m, err
}

// ReloadStats counts registry checks since the service started.
type ReloadStats struct {
	Checks   uint64 // registry reads
	Reloads  uint64 // versions loaded and swapped in
	Failures uint64 // checks that failed (the previous model kept serving)
	// Version is the loaded model version, 0 when none; LoadedAt when it was loaded.
	Version  int
	LoadedAt time.Time
}

// Stats returns the reload counters and the loaded version.
func (s *Service) Stats() ReloadStats {
	st := ReloadStats{
		Checks:   s.reloadChecks.Load(),
		Reloads:  s.reloads.Load(),
		Failures: s.reloadFailures.Load(),
	}
	if m := s.cur.Load(); m != nil {
		st.Version, st.LoadedAt = m.version.Version, m.loadedAt
	}
	return st
}
