package daemon

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	coordv1 "k8s.io/api/coordination/v1"

	"github.com/vipkeeper/vipkeeper/internal/election"
)

// Run syncs the Lease cache, runs the electors until ctx ends, then stops them gracefully:
// every held VIP is withdrawn and its Lease released within StopTimeout.
func (d *Daemon) Run(ctx context.Context) error {
	// The runners and the cache outlive ctx by the stop budget, so they can still release.
	rctx, hard := context.WithCancel(context.WithoutCancel(ctx))
	defer hard()
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
	if ctx.Err() == nil {
		d.mu.Lock()
		d.ctx = rctx
		d.reconcileLocked()
		d.mu.Unlock()
		d.deps.log.Info("electors running", "namespace", d.cfg.Namespace)
		<-ctx.Done()
	}
	return d.stop(hard)
}

// Synced reports whether the Lease cache is synced and the electors run (for /readyz).
func (d *Daemon) Synced() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.ctx != nil
}

func (d *Daemon) stop(hard context.CancelFunc) error {
	d.mu.Lock()
	d.stopping = true // wants that arrive from now on start no elector
	for _, r := range d.runners {
		r.postStop()
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() { d.wg.Wait(); close(done) }()
	select {
	case <-done:
		d.deps.log.Info("stopped: every VIP withdrawn")
		return nil
	case <-time.After(d.cfg.StopTimeout):
		hard() // the runners withdraw their VIPs on the way out; unreleased Leases run out
		<-done
		d.deps.log.Warn("stop budget spent: every VIP withdrawn, some Leases left to expire", "budget", d.cfg.StopTimeout)
		return nil
	}
}

// SetWants replaces what this node should do about every VIP any Service wants; VIPs
// absent from wants are wanted by nobody.
func (d *Daemon) SetWants(wants map[netip.Addr]Want) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.wants = wants
	if d.ctx != nil && !d.stopping {
		d.reconcileLocked()
	}
}

func (d *Daemon) reconcileLocked() {
	for ip, r := range d.runners {
		if _, ok := d.wants[ip]; !ok {
			r.postWant(Want{})
			r.postStop()
			delete(d.runners, ip)
		}
	}
	for ip, w := range d.wants {
		w.Wanted = true
		if r, ok := d.runners[ip]; ok {
			r.postWant(w)
			continue
		}
		if err := d.startLocked(ip, w); err != nil {
			d.deps.log.Error("cannot start elector", "vip", ip.String(), "err", err)
		}
	}
	d.deps.metrics.wanted.Set(float64(len(d.wants)))
}

func (d *Daemon) startLocked(ip netip.Addr, w Want) error {
	el, err := election.New(d.cfg.Election)
	if err != nil {
		return err
	}
	r := newRunner(ip, el, d.deps)
	prev := d.byName[r.name] // still stopping after an earlier unwant
	d.runners[ip], d.byName[r.name] = r, r
	r.postWant(w)
	r.postObservation(d.cached(r.name))
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		if prev != nil {
			<-prev.done
		}
		r.loop(d.ctx)
		d.forget(r)
	}()
	return nil
}

func (d *Daemon) forget(r *runner) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.byName[r.name] == r {
		delete(d.byName, r.name)
	}
}

func (d *Daemon) cached(name string) observation {
	l := d.cfg.Source.Cached(name)
	if l == nil {
		return observation{}
	}
	return observation{lease: l, rv: l.ResourceVersion}
}

// observe routes a Lease change from the cache to its VIP's runner.
func (d *Daemon) observe(name string, l *coordv1.Lease, rv string) {
	d.mu.Lock()
	r := d.byName[name]
	d.mu.Unlock()
	if r != nil {
		r.postObservation(observation{lease: l, rv: rv})
	}
}
