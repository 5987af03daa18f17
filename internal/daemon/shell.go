package daemon

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/resourceversion"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/election"
)

// shell is the loop's state: only the loop goroutine touches it.
type shell struct {
	d   *Daemon
	ctx context.Context // requests and data-plane calls; ends at the hard stop

	lastRV    map[election.Ref]string // newest version delivered per record (the filter)
	wants     map[netip.Addr]Want
	wantsSeen bool
	unwanted  map[netip.Addr]bool // told Wanted=false for a record naming us that nobody wants
	installed map[netip.Addr]announce.Address
	refused   map[netip.Addr]string // last install problem reported, to report each once
	// presenceProblem is the reason last reported for a refused presence ("" when fine).
	presenceProblem string
	// planeDown (Uninstall, Sweep), planeRefresh (Installs that extend a lifetime) and
	// planeUp (other Installs) are the data-plane calls waiting to run, in order within
	// each lane, the lanes in that order: withdrawals first, then what keeps held VIPs up.
	planeDown, planeRefresh, planeUp []election.Action
	refreshed                        bool // the last Install run was a refresh: an other one goes next

	ride     election.RideStatus // the ride-through as last reported
	rideEnds uint64              // the core's count of rides that ran out, as reported
	rideVIPs []netip.Addr        // the VIPs held when the ride started (their Events)
}

func newShell(d *Daemon, ctx context.Context) *shell {
	return &shell{d: d, ctx: ctx, lastRV: map[election.Ref]string{}, wants: map[netip.Addr]Want{},
		unwanted: map[netip.Addr]bool{}, installed: map[netip.Addr]announce.Address{}, refused: map[netip.Addr]string{}}
}

// older reports whether rv is older than the newest version delivered for ref. Versions
// are compared only here, by kube-apiserver's rules; the core compares them for equality.
func (sh *shell) older(ref election.Ref, rv string) bool {
	last := sh.lastRV[ref]
	if last == "" || rv == "" {
		return false
	}
	c, err := resourceversion.CompareResourceVersion(rv, last)
	return err == nil && c < 0
}

func (sh *shell) noteRV(ref election.Ref, rv string) {
	if rv != "" && !sh.older(ref, rv) {
		sh.lastRV[ref] = rv
	}
}

// onObservation passes an informer event on unless it is older than what the core knows,
// so a stale event can never look like a newer holder.
func (sh *shell) onObservation(o observation) bool {
	if sh.older(o.ref, o.rv) {
		return false
	}
	sh.noteRV(o.ref, o.rv)
	if sh.step(election.Observed{Ref: o.ref, Record: o.rec}) {
		return true
	}
	return sh.tellUnwanted(o.ref, o.rec)
}

// tellUnwanted tells the core that nobody wants an observed VIP, once the controller has
// said what is wanted: it releases the record if it is ours, and forgets it.
func (sh *shell) tellUnwanted(ref election.Ref, _ election.Record) bool {
	if ref.Kind != election.KindVIP || !sh.wantsSeen {
		return false
	}
	if _, ok := sh.wants[ref.VIP]; ok || sh.unwanted[ref.VIP] {
		return false
	}
	sh.unwanted[ref.VIP] = true
	return sh.step(election.WantChanged{VIP: ref.VIP})
}

// onWants hands the core what changed: a newly wanted VIP first gets its cached record.
func (sh *shell) onWants(wants map[netip.Addr]Want) bool {
	old := sh.wants
	sh.wants, sh.wantsSeen = wants, true
	sh.d.m.wanted.Set(float64(len(wants)))
	for ip, w := range wants {
		delete(sh.unwanted, ip)
		if o, ok := old[ip]; ok && sameWant(o, w) {
			continue
		}
		if _, ok := old[ip]; !ok && sh.primeVIP(ip) {
			return true
		}
		if sh.step(election.WantChanged{VIP: ip, Want: election.Want{Wanted: true, Eligible: w.Eligible, Rank: w.Rank, Ahead: w.Ahead}}) {
			return true
		}
	}
	for ip := range old {
		if _, ok := wants[ip]; !ok && sh.step(election.WantChanged{VIP: ip}) {
			return true
		}
	}
	stop := false
	sh.d.cfg.Source.Each(func(ref election.Ref, rec election.Record, _ string) {
		stop = stop || sh.tellUnwanted(ref, rec)
	})
	return stop
}

func (sh *shell) primeVIP(ip netip.Addr) bool {
	ref := election.VIPRef(ip)
	rec, rv := sh.d.cfg.Source.Cached(ref)
	if sh.older(ref, rv) {
		return false
	}
	sh.noteRV(ref, rv)
	return sh.step(election.Observed{Ref: ref, Record: rec})
}

func sameWant(a, b Want) bool {
	return a.Eligible == b.Eligible && a.Rank == b.Rank && strings.Join(a.Ahead, ",") == strings.Join(b.Ahead, ",") &&
		strings.Join(a.Interfaces, ",") == strings.Join(b.Interfaces, ",") && len(a.Services) == len(b.Services)
}

// onResult marks a result stale if a newer version was delivered already, reports what
// operators must know, and steps it.
func (sh *shell) onResult(r result) bool {
	stale := r.rec.Exists && sh.older(r.ref, r.rec.RV)
	if r.rec.Exists {
		sh.noteRV(r.ref, r.rec.RV)
	}
	sh.account(r)
	if r.write {
		return sh.step(election.WriteDone{ID: r.id, Record: r.rec, Class: r.class, Took: r.took, Stale: stale})
	}
	return sh.step(election.ReadDone{ID: r.id, Record: r.rec, Class: r.class, Took: r.took, Stale: stale})
}

// install puts the VIP up and says how it went.
func (sh *shell) install(a election.Install) election.PlaneDone {
	addr := announce.Address{IP: a.VIP, Until: a.Until, Interfaces: sh.wants[a.VIP].Interfaces}
	ctx, cancel := context.WithTimeout(sh.ctx, planeTimeout)
	defer cancel()
	err := sh.d.cfg.Plane.Add(ctx, addr)
	class := planeClass(err)
	if err != nil {
		sh.installFailed(a.VIP, class, err)
		return election.PlaneDone{VIP: a.VIP, Install: true, Class: class}
	}
	delete(sh.refused, a.VIP)
	_, was := sh.installed[a.VIP]
	sh.installed[a.VIP] = addr
	if !was {
		sh.announced(a.VIP, a.Until)
	}
	return election.PlaneDone{VIP: a.VIP, Install: true}
}

// planeTimeout bounds one data-plane call; it must hold even during shutdown.
const planeTimeout = 5 * time.Second

// planeClass maps the data plane's error classes (announce's sentinels) to the core's:
// what this node cannot do about the VIP is Refused (the core gives it up here, so another
// node serves it); a kernel call that failed may work when retried.
func planeClass(err error) election.PlaneClass {
	switch {
	case err == nil:
		return election.PlaneOK
	case errors.Is(err, announce.ErrForeign), errors.Is(err, announce.ErrCannotCarry),
		errors.Is(err, announce.ErrAnnounce), errors.Is(err, announce.ErrInvalidVIP):
		return election.PlaneRefused
	case errors.Is(err, announce.ErrExpired):
		return election.PlaneExpired
	}
	return election.PlaneTransient
}

// uninstall takes the VIP down, even after the hard stop.
func (sh *shell) uninstall(a election.Uninstall) election.PlaneDone {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(sh.ctx), planeTimeout)
	defer cancel()
	err := sh.d.cfg.Plane.Remove(ctx, a.VIP)
	if err != nil {
		sh.d.log.Error("withdraw failed; the Lease is kept until the address's kernel lifetime has surely ended, and the removal is retried",
			"vip", a.VIP.String(), "err", err)
		sh.d.m.planeFails.WithLabelValues("remove").Inc()
		return election.PlaneDone{VIP: a.VIP, Class: election.PlaneTransient}
	}
	if _, was := sh.installed[a.VIP]; was {
		delete(sh.installed, a.VIP)
		sh.withdrawn(a.VIP, a.Reason)
	}
	return election.PlaneDone{VIP: a.VIP}
}
