package election

import (
	"net/netip"
	"time"
)

// handle applies one event to the state; plan then decides what to start.
func (n *Node) handle(t time.Time, ev Event, out []Action) []Action {
	switch ev := ev.(type) {
	case Observed:
		n.observe(t, ev)
	case WantChanged:
		n.onWant(ev)
	case WriteDone:
		n.onResult(t, result{id: ev.ID, write: true, rec: ev.Record, class: ev.Class, took: ev.Took, stale: ev.Stale})
	case ReadDone:
		n.onResult(t, result{id: ev.ID, rec: ev.Record, class: ev.Class, took: ev.Took, stale: ev.Stale})
	case PlaneDue:
		out = n.onPlaneDue(t, ev.VIP, out)
	case PlaneDone:
		n.onPlane(t, ev)
	case Swept:
		n.onSwept(t, ev.OK)
	case Received:
		out = n.onReceived(t, ev, out)
	case StopRequested:
		if !n.stopping {
			n.stopping = true
			for ip := range n.vips {
				n.sched.markVIP(ip)
			}
		}
	}
	return out
}

func (n *Node) observe(t time.Time, ev Observed) {
	switch {
	case ev.Ref.Kind == KindVIP:
		n.observeVIP(t, ev.Ref.VIP, ev.Record)
	case ev.Ref.Node == n.cfg.Identity:
		n.learnOwn(t, ev.Record, false)
	default:
		n.seePeer(t, n.peerOf(ev.Ref.Node, t), ev.Record)
	}
}

// planStop resigns the presence once every VIP is withdrawn and its record released (or
// tried), then stops. It skips the resignation while an address may still be up (a failed
// withdrawal or start-up sweep): peers then wait out the presence as for a dead node.
func (n *Node) planStop(t time.Time, out []Action) []Action {
	safe := t.After(n.sweepGoneAt()) || n.sweepFailedAt.IsZero()
	for _, v := range n.vips {
		switch {
		case v.plane.busy, v.inflight != 0:
			return out
		case v.plane.mayBeUp && !v.plane.removeFailed:
			return out
		case v.plane.mayBeUp:
			safe = false
		}
		if node, _ := n.names(v.view); node && !v.stopTried {
			if _, ok := n.releasable(v, t); ok {
				return out // its release comes first
			}
		}
	}
	if safe && n.self.registered && !n.self.resignTried {
		n.self.resignTried = true
		a := n.newAttempt(t, NodeRef(n.cfg.Identity), true, OpRelease, n.self.view)
		return append(out, Write{ID: a.id, Ref: a.ref, Op: OpRelease, Incarnation: n.self.inc,
			Reason: n.cfg.Identity + " is stopping", Timeout: n.attemptTimeout()})
	}
	if n.self.resignTried && n.resignPending() {
		return out
	}
	n.stopped = true
	return append(out, Stopped{})
}

func (n *Node) resignPending() bool {
	for _, a := range n.attempts {
		if a.op == OpRelease && a.ref.Kind == KindNode && a.ref.Node == n.cfg.Identity {
			return true
		}
	}
	return false
}

// VIPs lists the VIPs the node keeps state for, for tests and metrics.
func (n *Node) VIPs() []netip.Addr {
	out := make([]netip.Addr, 0, len(n.vips))
	for ip := range n.vips {
		out = append(out, ip)
	}
	return out
}
