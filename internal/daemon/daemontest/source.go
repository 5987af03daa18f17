package daemontest

import (
	"context"
	"sync"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// LeaseSource is the port a Source wraps (daemon.LeaseSource, lease.Source).
type LeaseSource interface {
	Start(ctx context.Context, h lease.Handler) error
	Each(f func(ref election.Ref, rec election.Record, rv string))
	Cached(ref election.Ref) (election.Record, string)
}

// Source is a LeaseSource that a test can cut off from the informer's events: a
// partitioned node. When the partition heals it delivers the newest event it dropped for
// each record, as an informer does when its watch resumes or it relists. It is safe for
// concurrent use.
type Source struct {
	inner LeaseSource

	mu      sync.Mutex
	h       lease.Handler
	cut     bool
	dropped map[election.Ref]change
	order   []election.Ref
	last    map[election.Ref]change // newest delivered, for Cached while cut
}

type change struct {
	rec election.Record
	rv  string
}

// NewSource wraps inner.
func NewSource(inner LeaseSource) *Source {
	return &Source{inner: inner, dropped: map[election.Ref]change{}, last: map[election.Ref]change{}}
}

// Start starts inner, passing its events to h unless the source is cut off.
func (s *Source) Start(ctx context.Context, h lease.Handler) error {
	s.mu.Lock()
	s.h = h
	s.mu.Unlock()
	return s.inner.Start(ctx, s.deliver)
}

func (s *Source) deliver(ref election.Ref, rec election.Record, rv string) {
	s.mu.Lock()
	if s.cut {
		if _, ok := s.dropped[ref]; !ok {
			s.order = append(s.order, ref)
		}
		s.dropped[ref] = change{rec: rec, rv: rv}
		s.mu.Unlock()
		return
	}
	s.last[ref] = change{rec: rec, rv: rv}
	h := s.h
	s.mu.Unlock()
	h(ref, rec, rv)
}

// Cached answers from inner's cache, or while cut off from what was last delivered.
func (s *Source) Cached(ref election.Ref) (election.Record, string) {
	s.mu.Lock()
	if s.cut {
		defer s.mu.Unlock()
		c := s.last[ref]
		return c.rec, c.rv
	}
	s.mu.Unlock()
	return s.inner.Cached(ref)
}

// Each is inner's, or while cut off what was last delivered.
func (s *Source) Each(f func(ref election.Ref, rec election.Record, rv string)) {
	s.mu.Lock()
	if !s.cut {
		s.mu.Unlock()
		s.inner.Each(f)
		return
	}
	last := make(map[election.Ref]change, len(s.last))
	for k, v := range s.last {
		last[k] = v
	}
	s.mu.Unlock()
	for ref, c := range last {
		if c.rec.Exists {
			f(ref, c.rec, c.rv)
		}
	}
}

// Partition cuts the source off (on) or heals it (off), delivering what it dropped in the
// order the records first changed.
func (s *Source) Partition(on bool) {
	s.mu.Lock()
	s.cut = on
	if on {
		s.mu.Unlock()
		return
	}
	dropped, order, h := s.dropped, s.order, s.h
	s.dropped, s.order = map[election.Ref]change{}, nil
	for ref, c := range dropped {
		s.last[ref] = c
	}
	s.mu.Unlock()
	for _, ref := range order {
		h(ref, dropped[ref].rec, dropped[ref].rv)
	}
}

// Cut reports whether the source is cut off.
func (s *Source) Cut() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cut
}

// Inject delivers an event as if the informer had (unless the source is cut off), for
// instance an old version of a record, which a real informer may deliver late.
func (s *Source) Inject(ref election.Ref, rec election.Record, rv string) { s.deliver(ref, rec, rv) }
