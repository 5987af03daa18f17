package daemontest

import (
	"context"
	"slices"
	"sync"

	coordv1 "k8s.io/api/coordination/v1"
)

// LeaseSource is the port a Source wraps (daemon.LeaseSource, lease.Source).
type LeaseSource interface {
	Start(ctx context.Context, h func(name string, l *coordv1.Lease, rv string)) error
	Cached(name string) *coordv1.Lease
}

// Source is a LeaseSource that a test can cut off from the informer's events: a
// partitioned node. When the partition heals it delivers the newest event it dropped for
// each Lease, as an informer does when its watch resumes or it relists. It is safe for
// concurrent use.
type Source struct {
	inner LeaseSource

	mu      sync.Mutex
	h       func(name string, l *coordv1.Lease, rv string)
	cut     bool
	dropped map[string]change
	last    map[string]*coordv1.Lease // newest delivered, for Cached while cut
}

type change struct {
	l  *coordv1.Lease
	rv string
}

// NewSource wraps inner.
func NewSource(inner LeaseSource) *Source {
	return &Source{inner: inner, dropped: map[string]change{}, last: map[string]*coordv1.Lease{}}
}

// Start starts inner, passing its events to h unless the source is cut off.
func (s *Source) Start(ctx context.Context, h func(name string, l *coordv1.Lease, rv string)) error {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
	return s.inner.Start(ctx, s.deliver)
}

func (s *Source) deliver(name string, l *coordv1.Lease, rv string) {
	s.mu.Lock()
	if s.cut {
		s.dropped[name] = change{l: l, rv: rv}
		s.mu.Unlock()
		return
	}
	s.last[name] = l
	h := s.h
	s.mu.Unlock()
	h(name, l, rv)
}

// Cached answers from inner's cache, or while cut off from what was last delivered.
func (s *Source) Cached(name string) *coordv1.Lease {
	s.mu.Lock()
	if s.cut {
		defer s.mu.Unlock()
		return s.last[name]
	}
	s.mu.Unlock()
	return s.inner.Cached(name)
}

// Partition cuts the source off (on) or heals it (off), delivering what it dropped.
func (s *Source) Partition(on bool) {
	s.mu.Lock()
	s.cut = on
	if on {
		s.mu.Unlock()
		return
	}
	dropped, h := s.dropped, s.h
	s.dropped = map[string]change{}
	for name, c := range dropped {
		s.last[name] = c.l
	}
	s.mu.Unlock()
	names := make([]string, 0, len(dropped))
	for name := range dropped {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		h(name, dropped[name].l, dropped[name].rv)
	}
}

// Cut reports whether the source is cut off.
func (s *Source) Cut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// Inject delivers an event as if the informer had (unless the source is cut off), for
// instance an old version of a Lease, which a real informer may deliver late.
func (s *Source) Inject(name string, l *coordv1.Lease, rv string) { s.deliver(name, l, rv) }
