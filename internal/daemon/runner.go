package daemon

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	coordv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

// runner drives one VIP's elector. Other goroutines hand it work through post*; only
// loop touches el, known and the data plane for this VIP.
type runner struct {
	ip        netip.Addr
	name      string
	el        *election.Elector
	deps      *deps
	log       *slog.Logger
	wake      chan struct{}
	done      chan struct{}
	known     *coordv1.Lease // newest Lease object seen (informer, read or own write); nil = none/deleted
	rv        string         // newest resourceVersion seen, also of a deletion
	announced bool           // the data plane has the VIP (as far as this runner knows)

	mu      sync.Mutex
	obs     []observation // pending informer observations, oldest first
	elig    *election.EligibilityChanged
	stopReq bool
	want    Want // latest want, read by notifications
}

type observation struct {
	lease *coordv1.Lease // nil: absent or deleted
	rv    string         // of the object, or of its deletion; "" when absent from the start
}

func newRunner(ip netip.Addr, el *election.Elector, d *deps) *runner {
	name := lease.Name(ip)
	return &runner{
		ip: ip, name: name, el: el, deps: d,
		log:  d.log.With("vip", ip.String(), "lease", name),
		wake: make(chan struct{}, 1),
		done: make(chan struct{}),
	}
}

func (r *runner) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

func (r *runner) postObservation(o observation) {
	r.mu.Lock()
	r.obs = append(r.obs, o)
	r.mu.Unlock()
	r.poke()
}

func (r *runner) postWant(w Want) {
	r.mu.Lock()
	r.want = w
	r.elig = &election.EligibilityChanged{Eligible: w.Eligible, Wanted: w.Wanted, Rank: w.Rank, Ahead: w.Ahead}
	r.mu.Unlock()
	r.poke()
}

func (r *runner) postStop() {
	r.mu.Lock()
	r.stopReq = true
	r.mu.Unlock()
	r.poke()
}

// take returns the pending events in the order they must be stepped.
func (r *runner) take() (obs []observation, elig *election.EligibilityChanged, stop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	obs, elig, stop = r.obs, r.elig, r.stopReq
	r.obs, r.elig, r.stopReq = nil, nil, false
	return obs, elig, stop
}

func (r *runner) currentWant() Want {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.want
}

// loop runs until the core says Stopped or hard is cancelled. ctx bounds the I/O.
func (r *runner) loop(ctx context.Context) {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if r.iterate(ctx) {
			return
		}
		resetTimer(timer, r.el.NextWake())
		select {
		case <-ctx.Done():
			r.abandon()
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// iterate steps every pending event and then a tick, executing each step's actions before
// the next event; it reports whether the core stopped.
func (r *runner) iterate(ctx context.Context) bool {
	obs, elig, stop := r.take()
	var evs []election.Event
	for _, o := range obs {
		if ev, ok := r.accept(o); ok {
			evs = append(evs, ev)
		}
	}
	if elig != nil {
		evs = append(evs, *elig)
	}
	if stop {
		evs = append(evs, election.StopRequested{})
	}
	for _, ev := range append(evs, election.Ticked{}) {
		if r.exec(ctx, r.el.Step(time.Now(), ev)) {
			return true
		}
	}
	return false
}

// accept drops observations older than what the runner already knows.
func (r *runner) accept(o observation) (election.Event, bool) {
	if r.rv != "" && o.rv != "" {
		if c, err := resourceversion.CompareResourceVersion(o.rv, r.rv); err == nil && c < 0 {
			return nil, false
		}
	}
	r.remember(o.lease, o.rv)
	return election.Observed{Record: lease.ToRecord(o.lease)}, true
}

func (r *runner) remember(l *coordv1.Lease, rv string) {
	r.known = l
	if rv != "" {
		r.rv = rv
	}
}

func resetTimer(t *time.Timer, at time.Time) {
	d := time.Hour
	if !at.IsZero() {
		d = max(time.Until(at), 0)
	}
	t.Reset(d)
}
