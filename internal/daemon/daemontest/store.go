package daemontest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// Mode is the fault a Store injects.
type Mode int

// The fault modes.
const (
	OK            Mode = iota // calls pass through
	Transient                 // calls fail at once: 504 Timeout and 503 in turn; nothing reaches the API
	Hang                      // calls block until their context ends: a frozen API server
	Forbidden                 // calls fail at once with 403; nothing reaches the API
	LandsTimesOut             // writes reach the API, then report a timeout (the reply is lost); reads pass
	Dead                      // the process is gone: calls fail at once, nothing reaches the API
	LandsLate                 // writes hang until their context ends and land LateBy after that; reads pass
)

var modeNames = [...]string{"ok", "transient", "hang", "forbidden", "lands-times-out", "dead", "lands-late"}

func (m Mode) String() string {
	if m < 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", int(m))
	}
	return modeNames[m]
}

// LeaseStore is the port a Store wraps (daemon.LeaseStore, lease.Store).
type LeaseStore interface {
	Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error)
	Get(ctx context.Context, ref election.Ref) (election.Record, election.ErrClass, error)
}

var leases = schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}

// Store is a LeaseStore that injects faults in front of another. It is safe for
// concurrent use.
type Store struct {
	node  string
	inner LeaseStore
	hist  *History

	mu     sync.Mutex
	mode   Mode
	byName map[string]Mode
	calls  int
	lateBy time.Duration
	// storm detection: calls at one instant of (virtual) time
	instant time.Time
	atOnce  int
	onStorm func(node string, calls int)
}

// StormCalls is how many calls one node may make at one instant: a retry that skips its
// backoff makes unboundedly many, which under synctest would stop virtual time.
const StormCalls = 500

// OnStorm sets f to be called (once per instant) when a node makes StormCalls calls at one
// instant of time; from then on every call of that node hangs.
func (s *Store) OnStorm(f func(node string, calls int)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.onStorm = f
}

// NewStore wraps inner for node and records every call in h.
func NewStore(node string, inner LeaseStore, h *History) *Store {
	return &Store{node: node, inner: inner, hist: h, byName: map[string]Mode{}}
}

// SetMode sets the fault mode of every Lease without its own (SetModeFor).
func (s *Store) SetMode(m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mode = m
}

// SetModeFor sets the fault mode of one Lease, overriding SetMode until ClearModeFor.
func (s *Store) SetModeFor(name string, m Mode) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.byName[name] = m
}

// stormCheck reports a storm of calls at one instant and then breaks it: from then on
// every call of the node hangs (until its context ends), so virtual time moves on and the
// test fails with its message instead of spinning.
func (s *Store) stormCheck() {
	s.mu.Lock()
	if now := time.Now(); !now.Equal(s.instant) {
		s.instant, s.atOnce = now, 0
	}
	s.atOnce++
	n, f := s.atOnce, s.onStorm
	if n >= StormCalls {
		s.mode, s.byName = Hang, map[string]Mode{}
	}
	s.mu.Unlock()
	if n == StormCalls && f != nil {
		f(s.node, n)
	}
}

// ClearModeFor makes Lease name follow SetMode again.
func (s *Store) ClearModeFor(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byName, name)
}

// SetLateBy sets how long after the caller gave up a LandsLate write lands (default 0).
func (s *Store) SetLateBy(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lateBy = d
}

// Calls counts the calls made so far, whatever their outcome.
func (s *Store) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

func (s *Store) begin(name string) (Mode, int) {
	s.stormCheck()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if m, ok := s.byName[name]; ok {
		return m, s.calls
	}
	return s.mode, s.calls
}

// Get reads the record unless the mode fails the call.
func (s *Store) Get(ctx context.Context, ref election.Ref) (election.Record, election.ErrClass, error) {
	name := lease.NameOf(ref)
	ev := Event{At: time.Now(), Node: s.node, Kind: KindRead, Lease: name}
	mode, n := s.begin(name)
	ev.Mode = mode
	if mode == LandsTimesOut || mode == LandsLate {
		mode = OK // only writes lose their reply
	}
	var rec election.Record
	class := election.ClassNone
	ev.Err = s.fault(ctx, mode, n, name, "get")
	if ev.Err == nil {
		rec, class, ev.Err = s.inner.Get(ctx, ref)
		ev.Landed = true
	} else {
		class = lease.Classify(ev.Err)
	}
	s.record(ev, rec)
	return rec, class, ev.Err
}

// Do performs the write unless the mode fails it; LandsTimesOut performs it and then
// fails it.
func (s *Store) Do(ctx context.Context, w election.Write) (election.Record, election.ErrClass, error) {
	name := lease.NameOf(w.Ref)
	ev := Event{At: time.Now(), Node: s.node, Kind: KindWrite, Lease: name, Op: w.Op}
	mode, n := s.begin(name)
	ev.Mode = mode
	switch mode {
	case LandsTimesOut:
		var rec election.Record
		rec, _, ev.Err = s.inner.Do(ctx, w)
		ev.Landed = true
		s.record(ev, rec)
		err := fmt.Errorf("%s lease %s (reply lost): %w", w.Op, name, timeoutErr(n))
		return election.Record{}, lease.Classify(err), err
	case LandsLate:
		err := s.late(ctx, ev, w)
		return election.Record{}, lease.Classify(err), err
	}
	ev.Err = s.fault(ctx, mode, n, name, w.Op.String())
	if ev.Err != nil {
		s.record(ev, election.Record{})
		return election.Record{}, lease.Classify(ev.Err), ev.Err
	}
	rec, class, err := s.inner.Do(ctx, w)
	ev.Err, ev.Landed = err, true
	s.record(ev, rec)
	return rec, class, err
}

// late holds a write until the caller gives up, then lands it LateBy later, as an API
// server does with a request it had queued (kube-apiserver behind a frozen etcd).
func (s *Store) late(ctx context.Context, ev Event, w election.Write) error {
	s.mu.Lock()
	d := s.lateBy
	s.mu.Unlock()
	<-ctx.Done()
	err := fmt.Errorf("%s lease %s (api slow): %w", ev.Op, ev.Lease, ctx.Err())
	go func() {
		time.Sleep(d)
		rec, _, lerr := s.inner.Do(context.Background(), w)
		ev.Err, ev.Landed = lerr, true
		s.record(ev, rec)
	}()
	return err
}

// fault returns the error the mode injects before the call reaches the API (nil: none).
func (s *Store) fault(ctx context.Context, m Mode, n int, name, op string) error {
	switch m {
	case Transient:
		return fmt.Errorf("%s lease %s: %w", op, name, timeoutErr(n))
	case Hang:
		<-ctx.Done()
		return fmt.Errorf("%s lease %s (api hung): %w", op, name, ctx.Err())
	case Forbidden:
		return fmt.Errorf("%s lease %s: %w", op, name,
			apierrors.NewForbidden(leases, name, errors.New("RBAC: leases is forbidden")))
	case Dead:
		return fmt.Errorf("%s lease %s (process dead): %w", op, name, syscall.ECONNREFUSED)
	}
	return nil
}

// timeoutErr alternates between the two ways an API server under stress answers.
func timeoutErr(n int) error {
	if n%2 == 0 {
		return apierrors.NewServiceUnavailable("etcd unavailable")
	}
	return apierrors.NewTimeoutError("request did not complete within requested timeout", 0)
}

func (s *Store) record(ev Event, rec election.Record) {
	ev.Done = time.Now()
	ev.RV, ev.Holder = rec.RV, rec.Holder
	s.hist.add(ev)
}
