package election

import (
	"maps"
	"net/netip"
	"slices"
	"time"
)

// plan enforces the fence, then lets every dirty or due VIP and peer, and the presence,
// start what is due. Withdrawals come out first, in the same Step as their cause.
func (n *Node) plan(t time.Time, out []Action) []Action {
	n.prunePending(t)
	n.checkFence(t)
	n.sched.due(t)
	out = n.planRide(t, out)
	for len(n.sched.dirtyPeers) > 0 || len(n.sched.dirtyVIPs) > 0 {
		peers := slices.Sorted(maps.Keys(n.sched.dirtyPeers))
		clear(n.sched.dirtyPeers)
		for _, name := range peers {
			if p := n.peers[name]; p != nil {
				out = n.planPeer(t, p, out)
			}
		}
		ips := slices.SortedFunc(maps.Keys(n.sched.dirtyVIPs), netip.Addr.Compare)
		clear(n.sched.dirtyVIPs)
		for _, ip := range ips {
			if v := n.vips[ip]; v != nil {
				out = n.planVIP(t, v, out)
			}
		}
	}
	out = n.planPresence(t, out)
	out = n.planSweep(t, out)
	out = append(out, n.outbox...)
	n.outbox = n.outbox[:0]
	if n.stopping {
		out = n.planStop(t, out)
	}
	return out
}

// planVIP brings v's address in line with what we know, then starts its next request. It
// recomputes v's one wake-up from everything that waits on time.
func (n *Node) planVIP(t time.Time, v *vip, out []Action) []Action {
	out, wake := n.planPlane(t, v, out)
	if t.Before(v.blockedUntil) {
		wake = earliest(wake, v.blockedUntil)
	}
	if v.inflight == 0 {
		if n.forgettable(v) {
			n.forget(v)
			return out
		}
		var at time.Time
		out, at = n.planRequest(t, v, out)
		wake = earliest(wake, at)
	}
	n.sched.wakeVIP(v.ip, wake)
	return out
}

// planRequest starts v's next request if it is due, else returns when it will be.
func (n *Node) planRequest(t time.Time, v *vip, out []Action) ([]Action, time.Time) {
	s, ok := n.chooseVIP(v, t)
	if !ok {
		return out, time.Time{}
	}
	if at := later(s.at, v.notAfter); t.Before(at) {
		return out, at
	}
	if !n.slotFree(waiter{vip: v.ip}) {
		return out, time.Time{}
	}
	if s.read {
		return n.issueRead(t, VIPRef(v.ip), out), time.Time{}
	}
	return n.issueVIPWrite(t, v, s, out), time.Time{}
}

// step is the next request a VIP wants, and the earliest core time for it.
type step struct {
	read   bool
	op     Op
	at     time.Time
	reason string
}

// chooseVIP picks v's next request from what we know.
func (n *Node) chooseVIP(v *vip, t time.Time) (step, bool) {
	switch {
	case !v.told:
		return step{}, false // nothing is decided before the wants are known
	case !v.known || v.needRead:
		return step{read: true}, true
	case v.deadRV != "" && (v.view.RV == v.deadRV || (v.deadRV == "absent" && !v.view.Exists)):
		return step{read: true, at: v.deadAt.Add(n.readFallback())}, true // unless the informer brings it first
	}
	if node, _ := n.names(v.view); node {
		return n.chooseOwn(v, t)
	}
	if !n.wantsLead(v, t) {
		if !v.want.Wanted && v.mine && v.view.Exists && v.view.Holder == "" {
			return step{op: OpDelete, reason: "no Service wants the VIP"}, true // our own release
		}
		return step{}, false // others' records of VIPs we do not serve are not our business
	}
	if !n.self.registered {
		return step{}, false // no claim before our incarnation's registration landed
	}
	spread := time.Duration(n.effRank(v, t)) * n.cfg.SpreadDelay
	switch {
	case !v.view.Exists:
		return step{op: OpCreate, at: v.since.Add(spread), reason: "created"}, true
	case v.view.Holder == "" && v.view.Terminating:
		return step{}, false // being deleted: create it afresh once it is gone
	case v.view.Holder == "":
		return step{op: OpAcquire, at: v.since.Add(spread), reason: "released by " + orUnknown(v.releaser)}, true
	}
	dead, ok := n.holderDead(v, t)
	if !ok {
		return step{}, false // planPeer watches the holder's presence and marks v when it lapses
	}
	at := later(dead, v.since).Add(spread)
	if v.view.Terminating {
		return step{op: OpRelease, at: at, reason: "cleared for deletion: " + v.view.Holder + "'s incarnation ended"}, true
	}
	return step{op: OpAcquire, at: at, reason: "taken over: " + v.view.Holder + "'s incarnation ended"}, true
}

// chooseOwn decides about a record naming this node: re-acquire a record of an earlier
// incarnation at once (ours is the only process of this node), or release it once the
// address is gone when we should not hold it.
func (n *Node) chooseOwn(v *vip, t time.Time) (step, bool) {
	_, mine := n.names(v.view)
	if n.wantsLead(v, t) && !v.view.Terminating {
		switch {
		case !n.self.registered, mine && !v.unsure:
			return step{}, false
		case mine:
			return step{op: OpAcquire, reason: "re-acquired after an unresolved release"}, true
		}
		return step{op: OpAcquire, reason: "re-acquired by a new incarnation"}, true
	}
	if n.stopping && v.stopTried {
		return step{}, false
	}
	at, ok := n.releasable(v, t)
	if !ok && at.IsZero() {
		return step{}, false // the address comes down first
	}
	return step{op: OpRelease, at: at, reason: n.releaseReason(v, t)}, true
}

func (n *Node) releaseReason(v *vip, t time.Time) string {
	switch {
	case n.stopping:
		return "released: " + n.cfg.Identity + " is stopping"
	case v.view.Terminating:
		return "released for deletion"
	case !v.want.Wanted:
		return "released: no Service wants the VIP"
	case t.Before(v.blockedUntil):
		return "released: " + n.cfg.Identity + " cannot install the address"
	}
	return "released: " + n.cfg.Identity + " is not eligible"
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// issueVIPWrite emits s for v, conditioned on the view.
func (n *Node) issueVIPWrite(t time.Time, v *vip, s step, out []Action) []Action {
	base := v.view
	if s.op == OpCreate {
		base = Record{}
	}
	a := n.newAttempt(t, VIPRef(v.ip), true, s.op, base)
	v.inflight = a.id
	if s.op == OpRelease {
		v.unsure, v.unsureRV = true, base.RV
	}
	if n.stopping && s.op == OpRelease {
		v.stopTried = true
	}
	return append(out, Write{ID: a.id, Ref: a.ref, Op: s.op, Base: base, Incarnation: n.self.inc,
		Reason: s.reason, Timeout: n.attemptTimeout()})
}
