package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
)

// input is one thing that happened outside the loop: exactly one field is set.
type input struct {
	obs   *observation
	wants map[netip.Addr]Want
	res   *result
	peer  *election.Received
	stop  bool
}

type observation struct {
	ref election.Ref
	rec election.Record
	rv  string
}

type result struct {
	id     uint64
	write  bool
	ref    election.Ref
	op     election.Op
	rec    election.Record
	class  election.ErrClass
	err    error
	took   time.Duration
	reason string // Write.Reason
}

func (d *Daemon) post(in input) {
	d.mu.Lock()
	d.inbox = append(d.inbox, in)
	d.mu.Unlock()
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

func (d *Daemon) take() []input {
	d.mu.Lock()
	defer d.mu.Unlock()
	in := d.inbox
	d.inbox = nil
	return in
}

// observe is the Lease informer's handler.
func (d *Daemon) observe(ref election.Ref, rec election.Record, rv string) {
	d.post(input{obs: &observation{ref: ref, rec: rec, rv: rv}})
}

// SetWants replaces what this node should do about every VIP any Service wants; VIPs
// absent from wants are wanted by nobody. The map is the callee's to keep.
func (d *Daemon) SetWants(wants map[netip.Addr]Want) { d.post(input{wants: wants}) }

// Run sweeps what an earlier process left, syncs the Lease cache, runs the loop until ctx
// ends, then stops it gracefully: every VIP is withdrawn, its Lease released and the
// presence resigned within StopTimeout; past that, every VIP is withdrawn anyway.
func (d *Daemon) Run(ctx context.Context) error {
	// The loop, its requests and the cache outlive ctx by the stop budget, so they can
	// still release.
	rctx, hard := context.WithCancel(context.WithoutCancel(ctx))
	defer hard()
	sh := newShell(d, rctx)
	sh.sweep()
	synced := make(chan error, 1)
	go func() { synced <- d.cfg.Source.Start(rctx, d.observe) }()
	select {
	case err := <-synced:
		if err != nil {
			return fmt.Errorf("lease cache: %w", err)
		}
	case <-ctx.Done(): // stopped before the API ever answered: nothing is held
		hard()
		<-synced
		return nil
	}
	d.mu.Lock()
	d.synced = true
	d.mu.Unlock()
	sh.primeSelf()
	d.runPeers(rctx)
	d.log.Info("election loop running", "namespace", d.cfg.Namespace, "incarnation", d.core.Incarnation())
	go sh.run()
	<-ctx.Done()
	return d.stop(hard)
}

func (d *Daemon) stop(hard context.CancelFunc) error {
	d.post(input{stop: true})
	select {
	case <-d.done:
		d.log.Info("stopped: every VIP withdrawn and released")
	case <-time.After(d.cfg.StopTimeout):
		hard() // the loop withdraws every VIP on the way out; unreleased Leases run out
		<-d.done
		d.log.Warn("stop budget spent: every VIP withdrawn, some Leases left to expire", "budget", d.cfg.StopTimeout)
	}
	return nil
}

// minWake is the shortest timer the loop sets: a wake-up in the past is a core bug, and
// must never make the loop spin.
const minWake = time.Millisecond

// run is the loop: it alone touches the core and the data plane.
func (sh *shell) run() {
	defer close(sh.d.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		for _, in := range sh.d.take() {
			if sh.handle(in) {
				return
			}
		}
		if sh.step(election.Ticked{}) || sh.runPlane(planeSlice) {
			return
		}
		sh.rideReport()
		wait := sh.untilWake()
		if sh.planePending() {
			wait = 0 // more data-plane work: look at the inputs, then go on with it
		}
		timer.Reset(wait)
		select {
		case <-sh.ctx.Done():
			sh.abandon()
			return
		case <-sh.d.wake:
		case <-timer.C:
		}
	}
}

func (sh *shell) untilWake() time.Duration {
	at := sh.d.core.NextWake()
	if at.IsZero() {
		return time.Hour
	}
	d := time.Until(at)
	if d < 0 {
		sh.d.m.pastWakes.Inc()
		sh.d.log.Error("election core asked for a wake-up in the past", "late", -d)
	}
	return max(d, minWake)
}

// handle steps one input; it reports whether the core stopped.
func (sh *shell) handle(in input) bool {
	switch {
	case in.obs != nil:
		return sh.onObservation(*in.obs)
	case in.wants != nil:
		return sh.onWants(in.wants)
	case in.res != nil:
		return sh.onResult(*in.res)
	case in.peer != nil:
		return sh.step(*in.peer)
	case in.stop:
		return sh.step(election.StopRequested{})
	}
	return false
}

// step feeds one event and executes the actions in order; a data-plane outcome is stepped
// at once and its actions run before the rest. It reports whether the core stopped.
func (sh *shell) step(ev election.Event) bool {
	return sh.exec(sh.d.core.Step(time.Now(), ev))
}

// exec executes actions in order; it reports whether the core stopped.
func (sh *shell) exec(acts []election.Action) bool {
	for len(acts) > 0 {
		a := acts[0]
		acts = acts[1:]
		more, stopped := sh.do(a)
		if stopped {
			return true
		}
		acts = append(more, acts...)
	}
	return false
}

func (sh *shell) do(a election.Action) ([]election.Action, bool) {
	switch a := a.(type) {
	case election.Write:
		sh.request(a.ID, a.Ref, a.Op, a.Reason, a.Timeout, func(ctx context.Context) (election.Record, election.ErrClass, error) {
			return sh.d.cfg.Leases.Do(ctx, a)
		})
	case election.Read:
		sh.request(a.ID, a.Ref, 0, "", a.Timeout, func(ctx context.Context) (election.Record, election.ErrClass, error) {
			return sh.d.cfg.Leases.Get(ctx, a.Ref)
		})
	case election.Install:
		if a.Ready { // the answer to PlaneDue
			return sh.d.core.Step(time.Now(), sh.install(a)), false
		}
		sh.queuePlane(a)
	case election.Uninstall, election.Sweep:
		sh.queuePlane(a)
	case election.Send:
		sh.sendPeer(a)
	case election.Stopped:
		return nil, true
	}
	return nil, false
}

// request runs one Lease request in its own goroutine, bounded by timeout, and posts its
// result to the loop.
func (sh *shell) request(id uint64, ref election.Ref, op election.Op, reason string, timeout time.Duration,
	f func(context.Context) (election.Record, election.ErrClass, error)) {
	go func() {
		ctx, cancel := context.WithTimeout(sh.ctx, timeout)
		defer cancel()
		start := time.Now()
		rec, class, err := f(ctx)
		sh.d.post(input{res: &result{id: id, write: op != 0, ref: ref, op: op, rec: rec, class: class,
			err: err, took: time.Since(start), reason: reason}})
	}()
}

// sweep is the start-up sweep: every VIP an earlier vipkeeper left on the node goes, before
// the core makes any decision.
func (sh *shell) sweep() {
	err := sh.d.cfg.Plane.Set(sh.ctx, nil)
	if err != nil {
		sh.d.log.Error("start-up sweep incomplete: no Lease naming this node is released until the leftover addresses' lifetimes have surely ended", "err", err)
		sh.d.m.planeFails.WithLabelValues("sweep").Inc()
	}
	sh.step(election.Swept{OK: err == nil})
}

// resweep retries a failed sweep, keeping what this process installed.
func (sh *shell) resweep() bool {
	keep := make([]announce.Address, 0, len(sh.installed))
	for _, a := range sh.installed {
		keep = append(keep, a)
	}
	err := sh.d.cfg.Plane.Set(sh.ctx, keep)
	if err != nil {
		sh.d.log.Warn("start-up sweep still incomplete", "err", err)
	}
	return err == nil
}

// abandon is the hard stop: the budget ended before the core stopped. Take every address
// down anyway; the Leases run out on their own.
func (sh *shell) abandon() {
	sh.planeUp, sh.planeRefresh, sh.planeDown = nil, nil, nil
	for ip := range sh.installed {
		sh.uninstall(election.Uninstall{VIP: ip, Reason: "shutdown deadline"})
	}
}

// primeSelf tells the core what the cache holds of its own presence record, also that it
// has none (the informer says nothing of a record that does not exist).
func (sh *shell) primeSelf() {
	ref := election.NodeRef(sh.d.cfg.Election.Identity)
	rec, rv := sh.d.cfg.Source.Cached(ref)
	sh.noteRV(ref, rv)
	sh.step(election.Observed{Ref: ref, Record: rec})
}
