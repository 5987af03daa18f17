package testenv

import (
	"context"
	"sync"
	"testing"
)

// Shared is one control plane for all the tests of a package. It starts on the first call
// of Env, so a run that selects no such test starts nothing, and Run stops it.
type Shared struct {
	opts Options
	once sync.Once
	env  *Env
	err  error
}

// NewShared returns a Shared that will start a control plane with opts.
func NewShared(opts Options) *Shared { return &Shared{opts: opts} }

// Env returns the shared control plane, starting it on the first call. It skips t when the
// binaries are missing (fails if $CI is set) and fails t if the control plane did not start.
// Tests that freeze or slow the proxy must undo it (t.Cleanup) and not run in parallel.
func (s *Shared) Env(t testing.TB) *Env {
	t.Helper()
	s.once.Do(func() { s.env, s.err = Start(context.Background(), s.opts) })
	if s.err != nil {
		skipOrFail(t, s.err)
	}
	return s.env
}

// Run runs the tests and then stops the control plane. Use it as the whole TestMain:
// os.Exit(shared.Run(m)).
func (s *Shared) Run(m *testing.M) int {
	code := m.Run()
	s.once.Do(func() {}) // no start after the tests
	if s.env != nil {
		s.env.Stop()
	}
	return code
}
