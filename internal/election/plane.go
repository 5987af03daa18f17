package election

import (
	"net/netip"
	"time"
)

// planeState is what the core knows of one VIP's address on this node.
type planeState struct {
	up   bool // the last Install succeeded and no Uninstall was asked for since
	busy bool // an Install or Uninstall was emitted; its PlaneDone has not come
	// installing: what is in flight is an Install (a queued one may be PlaneDue'd).
	installing bool
	mayBeUp    bool      // an Install was emitted since the last successful Uninstall
	until      time.Time // the latest kernel expiry asked for since then (core time)
	asked      time.Time // Until of the Install in flight
	have       time.Time // Until of the last successful Install
	expired    time.Time // Until of the last Install that came back PlaneExpired
	// removeFailed: the last Uninstall failed, so the address may live until until +
	// KernelLateness; no release of the VIP's record before it is gone or that time passed.
	removeFailed bool
	retryAt      time.Time
	installFails int
	removeFails  int
}

// kernelGoneAt is when an address we may have left up is surely gone: the kernel removes
// it at its lifetime's end, at most KernelLateness late.
func (n *Node) kernelGoneAt(v *vip) time.Time { return v.plane.until.Add(n.cfg.KernelLateness) }

// target is the kernel expiry of an address installed now: the fence plus the slack.
func (n *Node) target() time.Time { return n.self.deadline().Add(n.cfg.KernelSlack) }

// minLifetime is the shortest lifetime an Install may ask for: with kernel lifetimes,
// whole seconds rounded down (announce refuses less with ErrExpired).
func (n *Node) minLifetime() time.Duration { return n.cfg.MinLifetime }

// desiredUp reports whether v's address should be up here at t: its record names our
// incarnation, our presence fence stands, and we should hold it.
func (n *Node) desiredUp(v *vip, t time.Time) bool {
	return n.owned(v) && n.self.live(t) && n.wantsLead(v, t) && !v.view.Terminating
}

// planPlane emits the Install or Uninstall v needs, if any, or says when to look again.
func (n *Node) planPlane(t time.Time, v *vip, out []Action) ([]Action, time.Time) {
	ps := &v.plane
	if ps.busy {
		return out, time.Time{}
	}
	if n.desiredUp(v, t) {
		tgt := n.target()
		switch {
		case ps.up && !ps.have.Before(tgt):
			return out, time.Time{}
		case ps.up && ps.have.Sub(t) > n.cfg.RefreshAhead+n.minLifetime():
			// extend once little is left (the kernel's whole seconds may end it up to
			// minLifetime before have)
			return out, ps.have.Add(-n.cfg.RefreshAhead - n.minLifetime())
		case tgt.Sub(t) < n.minLifetime() || !tgt.After(ps.expired):
			return out, time.Time{} // too short for the kernel: the next renewal moves the fence
		case t.Before(ps.retryAt):
			return out, ps.retryAt
		}
		ps.busy, ps.installing, ps.mayBeUp, ps.asked = true, true, true, tgt
		ps.until = later(ps.until, tgt)
		n.active[v.ip] = struct{}{}
		return append(out, Install{VIP: v.ip, Until: n.clk.raw(tgt), Refresh: ps.up}), time.Time{}
	}
	switch {
	case !ps.mayBeUp:
		return out, time.Time{}
	case ps.removeFailed && t.Before(ps.retryAt):
		return out, ps.retryAt
	}
	ps.busy, ps.up = true, false
	return append(out, Uninstall{VIP: v.ip, Reason: n.downReason(v, t)}), time.Time{}
}

// downReason says why v's address comes down.
func (n *Node) downReason(v *vip, t time.Time) string {
	switch {
	case v.plane.removeFailed:
		return ReasonRetry
	case n.stopping:
		return ReasonStopping
	case !v.view.Exists || v.view.Terminating:
		return ReasonDeleted
	case !n.owned(v) && n.self.registered:
		return ReasonLost
	case !n.self.live(t):
		if r := n.self.downReason; r != "" {
			return r
		}
		return ReasonDeadline
	case !v.want.Wanted:
		return ReasonNotWanted
	case t.Before(v.blockedUntil):
		return ReasonRefused
	}
	return ReasonNotEligible
}

// onPlaneDue answers a shell about to run v's queued Install: run it now with the target
// of the fence that stands now, or cancel it (the address should not go up here now, or
// the lifetime left would be too short) and plan v afresh.
func (n *Node) onPlaneDue(t time.Time, ip netip.Addr, out []Action) []Action {
	v := n.vips[ip]
	if v == nil || !v.plane.busy || !v.plane.installing {
		return out
	}
	ps := &v.plane
	tgt := n.target()
	if !n.desiredUp(v, t) || tgt.Sub(t) < n.minLifetime() {
		ps.busy, ps.installing = false, false
		n.sched.markVIP(ip)
		return out
	}
	ps.asked = later(ps.asked, tgt)
	ps.until = later(ps.until, ps.asked)
	return append(out, Install{VIP: ip, Until: n.clk.raw(ps.asked), Ready: true, Refresh: ps.up})
}

// onPlane handles the outcome of an Install or Uninstall.
func (n *Node) onPlane(t time.Time, ev PlaneDone) {
	v := n.vips[ev.VIP]
	if v == nil {
		return
	}
	ps := &v.plane
	ps.busy, ps.installing = false, false
	n.sched.markVIP(v.ip)
	if !ev.Install {
		n.onUninstalled(t, v, ev.Class)
		return
	}
	switch ev.Class {
	case PlaneOK:
		ps.up, ps.have, ps.installFails, ps.retryAt = true, ps.asked, 0, time.Time{}
	case PlaneRefused:
		n.refuse(t, v)
	case PlaneExpired: // the data plane removed the address rather than set so short a lifetime
		ps.up, ps.expired = false, ps.asked
	default:
		ps.installFails++
		if ps.installFails >= maxInstallFails {
			n.refuse(t, v)
			return
		}
		ps.retryAt = t.Add(n.backoff(ps.installFails, ClassTransient))
	}
}

// maxInstallFails is how many transient install failures in a row make the node give the
// VIP up, so that a node that cannot put the address in place never keeps it dark.
const maxInstallFails = 3

func (n *Node) onUninstalled(t time.Time, v *vip, class PlaneClass) {
	ps := &v.plane
	if class == PlaneOK {
		*ps = planeState{installFails: ps.installFails}
		delete(n.active, v.ip)
		return
	}
	ps.removeFailed = true
	ps.removeFails++
	ps.retryAt = t.Add(n.backoff(ps.removeFails, ClassTransient))
}

// refuse gives the VIP up here for a while, growing with each refusal: the node steps
// down and releases, so another node serves it.
func (n *Node) refuse(t time.Time, v *vip) {
	v.refusals++
	v.plane.installFails, v.plane.retryAt = 0, time.Time{}
	d := n.cfg.LeaseDuration << min(v.refusals-1, 5)
	v.blockedUntil = t.Add(min(d, maxRefusal))
}

// maxRefusal caps how long a refused VIP stays out of this node's reach.
const maxRefusal = 5 * time.Minute

// releasable reports whether v's record may be released or deleted at t, and if not, when
// to look again: only once its address is surely gone (withdraw before release), and a
// record of an earlier process of this node only once a failed start-up sweep cannot have
// left its address up.
func (n *Node) releasable(v *vip, t time.Time) (time.Time, bool) {
	ps := &v.plane
	switch {
	case ps.busy:
		return time.Time{}, false
	case ps.mayBeUp && !ps.removeFailed:
		return time.Time{}, false // the Uninstall comes first
	case ps.mayBeUp && t.Before(n.kernelGoneAt(v)):
		return n.kernelGoneAt(v), false
	}
	if _, mine := n.names(v.view); !mine {
		if gone := n.sweepGoneAt(); t.Before(gone) {
			return gone, false
		}
	}
	return time.Time{}, true
}

// sweepGoneAt is when any address a previous process left is surely gone, after a failed
// start-up sweep: that process renewed last before the sweep, so its fence, slack and the
// kernel's lateness end within RenewDeadline + slack + lateness of it.
func (n *Node) sweepGoneAt() time.Time {
	if n.sweepFailedAt.IsZero() {
		return time.Time{}
	}
	return n.sweepFailedAt.Add(n.cfg.RenewDeadline + n.cfg.KernelSlack + n.cfg.KernelLateness)
}

// onSwept takes in the start-up sweep's outcome.
func (n *Node) onSwept(t time.Time, ok bool) {
	n.sweepAsked = false
	if ok { // every address an earlier process left is gone now
		n.sweepRetry, n.sweepFailedAt = time.Time{}, time.Time{}
		n.markMine()
		return
	}
	if n.sweepFailedAt.IsZero() {
		n.sweepFailedAt = t
	}
	n.sweepRetry = t.Add(n.cfg.RetryPeriod)
}

// planSweep asks the shell to retry a failed sweep.
func (n *Node) planSweep(t time.Time, out []Action) []Action {
	if n.sweepRetry.IsZero() || n.sweepAsked || t.Before(n.sweepRetry) {
		return out
	}
	n.sweepAsked = true
	n.sweepRetry = t.Add(n.cfg.RetryPeriod)
	return append(out, Sweep{})
}
