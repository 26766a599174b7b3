package main

import (
	"errors"
	"fmt"

	"github.com/churnops/churnops/internal/localstore"
	"github.com/churnops/churnops/internal/pipeline"
)

// openState opens the embedded default state directory once per process.
func (a *app) openState(hold bool) (*localstore.State, error) {
	st, err := localstore.Open(a.state, localstore.Options{HoldLock: hold})
	if errors.Is(err, localstore.ErrLocked) {
		return nil, fmt.Errorf("state directory %s is in use by another churnops process (a running `churnops serve` or `run`?); retry when it is done", a.state)
	}
	if err != nil {
		return nil, err
	}
	a.closers = append(a.closers, st.Close)
	return st, nil
}

// pipeline returns the steps wired to the state directory.
func (a *app) pipeline(st *localstore.State) *pipeline.Pipeline {
	return &pipeline.Pipeline{
		Blobs:    st.Blobs,
		Registry: st.Registry,
		Features: st.Features,
		Log:      a.logger(),
		Progress: a.progress,
	}
}
