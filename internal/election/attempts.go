package election

import "time"

// newAttempt registers a request about to be emitted. Requests about anything but our own
// presence count against MaxInflight.
func (n *Node) newAttempt(t time.Time, ref Ref, write bool, op Op, base Record) *attempt {
	a := &attempt{id: n.newID(), write: write, ref: ref, op: op, base: base, inc: n.self.inc,
		emit: t, era: n.era, seq: n.seq}
	a.owner = !(ref.Kind == KindNode && ref.Node == n.cfg.Identity)
	if a.owner {
		n.busy++
	}
	n.attempts[a.id] = a
	return a
}

// slotFree reports whether another request may start; if not, the VIP or peer waits for
// one (requeued when a request completes).
func (n *Node) slotFree(w waiter) bool {
	if n.busy < n.cfg.MaxInflight {
		return true
	}
	if _, ok := n.waitSet[w]; !ok {
		n.waitSet[w] = struct{}{}
		n.waitQ = append(n.waitQ, w)
	}
	return false
}

// release frees a's slot and lets waiting VIPs and peers try again.
func (n *Node) finishAttempt(a *attempt) {
	delete(n.attempts, a.id)
	if !a.owner {
		return
	}
	n.busy--
	for len(n.waitQ) > 0 && n.busy+len(n.woken) < n.cfg.MaxInflight {
		w := n.waitQ[0]
		n.waitQ = n.waitQ[1:]
		delete(n.waitSet, w)
		n.woken = append(n.woken, w)
	}
	for _, w := range n.woken {
		if w.peer != "" {
			n.sched.markPeer(w.peer)
		} else {
			n.sched.markVIP(w.vip)
		}
	}
	n.woken = n.woken[:0]
}

func (n *Node) issueRead(t time.Time, ref Ref, out []Action) []Action {
	a := n.newAttempt(t, ref, false, 0, Record{})
	switch {
	case ref.Kind == KindNode && ref.Node == n.cfg.Identity:
		n.self.reg = a.id
	case ref.Kind == KindNode:
		n.peerOf(ref.Node, t).busy = a.id
	default:
		n.vips[ref.VIP].inflight = a.id
	}
	return append(out, Read{ID: a.id, Ref: ref, Timeout: n.attemptTimeout()})
}

// result is a WriteDone or ReadDone.
type result struct {
	id           uint64
	write, stale bool
	rec          Record
	class        ErrClass
	took         time.Duration
}

// onResult routes a read or write result to what issued it. Results of unknown IDs
// (abandoned, or from before a restart of the state) are ignored.
func (n *Node) onResult(t time.Time, r result) {
	a := n.attempts[r.id]
	if a == nil || a.write != r.write {
		return
	}
	n.finishAttempt(a)
	n.lat.add(r.took)
	switch {
	case a.ref.Kind == KindNode && a.ref.Node == n.cfg.Identity && r.write:
		n.onPresenceWrite(t, a, r)
	case a.ref.Kind == KindNode && a.ref.Node == n.cfg.Identity:
		if n.self.reg == r.id {
			n.self.reg = 0
		}
		n.onPresenceRead(t, r)
	case a.ref.Kind == KindNode && a.write && a.op == OpRenew:
		n.onRelayResult(t, a, r) // a renewal of a peer's presence on its behalf
	case a.ref.Kind == KindNode:
		n.onPeerResult(t, a, r)
	default:
		n.onVIPResult(t, a, r)
	}
}
