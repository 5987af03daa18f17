package election

import (
	"slices"
	"strconv"
	"time"
)

// presence is this node's own presence record: its incarnation, the fence its renewals
// earned, and the renewals in flight.
type presence struct {
	inc string // current incarnation
	gen int    // incarnations started by this process

	view  Record // newest known of our presence record (the base of a registration)
	known bool

	registered bool      // a registration of inc landed (and inc has not ended since)
	fence      time.Time // start of the newest successful write of inc + RenewDeadline
	downReason string    // why the fence is void or passed, for the withdrawals

	reg      uint64    // registration write or read in flight (0: none)
	renews   int       // renewals in flight
	lastEmit time.Time // when the newest renewal (or registration) was emitted
	pending  []pendingWrite
	needRead bool // a write's outcome is unknown: read the record
	fails    int
	failedAs ErrClass  // the class of the last failure: another class ramps afresh
	notAfter time.Time // no new attempt before this (backoff)

	resignTried bool

	// Sight (ride-through): ownLand is when we last learned that an own write (not a
	// relayed one) landed, ownEmit the newest such write's emission.
	ownLand    time.Time
	ownEmit    time.Time
	lastCredit time.Time // core time a write of ours (own or relayed) was last credited
	ride       time.Time // the deadline granted by the newest complete attestation round
}

// pendingWrite is a presence write of ours that may have landed: a record carrying its
// token proves it did, and it then counts from emit.
type pendingWrite struct {
	token   string
	emit    time.Time
	era     int
	relayed bool // asked of a peer (ride-through): it does not make us sighted
}

// deadline is when the addresses must be gone by the process: the fence, or later the
// ride-through's deadline.
func (p *presence) deadline() time.Time { return later(p.fence, p.ride) }

// live reports whether the deadline stands at t.
func (p *presence) live(t time.Time) bool {
	d := p.deadline()
	return p.registered && !d.IsZero() && t.Before(d)
}

// maxRenews bounds the renewals in flight: enough for one every RetryPeriod to run for a
// whole RenewDeadline.
func (n *Node) maxRenews() int {
	return int((n.cfg.RenewDeadline+n.cfg.RetryPeriod-1)/n.cfg.RetryPeriod) + 1
}

// renewTimeout lets a renewal run until shortly before the fence it would set: a reply
// after that could not extend anything.
func (n *Node) renewTimeout() time.Duration {
	return n.cfg.RenewDeadline - min(100*time.Millisecond, n.cfg.RenewDeadline/20)
}

// wake is the next time the presence needs plan (zero: none).
func (p *presence) wake(n *Node) time.Time {
	if n.stopping {
		return time.Time{}
	}
	var w time.Time
	if p.live(n.clk.last) {
		w = p.deadline()
	}
	if at, ok := n.nextPresenceAttempt(); ok {
		w = earliest(w, at)
	}
	return w
}

// nextPresenceAttempt is when the next registration, renewal or read may start.
func (n *Node) nextPresenceAttempt() (time.Time, bool) {
	p := &n.self
	switch {
	case n.stopping:
		return time.Time{}, false
	case !p.registered || p.needRead:
		if p.reg != 0 {
			return time.Time{}, false
		}
		return p.notAfter, true
	case p.renews >= n.maxRenews():
		return time.Time{}, false
	}
	if p.fails > 0 && p.notAfter.After(p.lastEmit) {
		return p.notAfter, true // the retry after a failure, drawn once when it failed
	}
	gap := n.cfg.RetryPeriod
	if p.renews > 0 {
		gap = max(gap, n.cfg.RenewDeadline/2) // a second only when the first may be lost
	}
	return later(p.lastEmit.Add(gap), p.notAfter), true
}

// checkFence notes that the fence passed, so plan withdraws every VIP.
func (n *Node) checkFence(t time.Time) {
	p := &n.self
	d := p.deadline()
	if p.registered && !d.IsZero() && !t.Before(d) && p.downReason == "" {
		p.downReason = ReasonDeadline
		if p.ride.After(p.fence) {
			p.downReason = ReasonRideEnded
			n.rideEnded(t)
		}
		n.markMine()
	}
}

// planPresence starts the next presence attempt if one is due.
func (n *Node) planPresence(t time.Time, out []Action) []Action {
	p := &n.self
	at, ok := n.nextPresenceAttempt()
	if !ok || t.Before(at) {
		return out
	}
	switch {
	case p.needRead || !p.known:
		return n.issueRead(t, NodeRef(n.cfg.Identity), out)
	case !p.registered && p.view.Exists:
		return n.issuePresence(t, OpAcquire, out)
	case !p.registered:
		return n.issuePresence(t, OpCreate, out)
	}
	return n.issuePresence(t, OpRenew, out)
}

func (n *Node) issuePresence(t time.Time, op Op, out []Action) []Action {
	p := &n.self
	a := n.newAttempt(t, NodeRef(n.cfg.Identity), true, op, p.view)
	a.token = p.inc + "-" + strconv.FormatUint(a.id, 10)
	timeout := n.renewTimeout()
	if op == OpRenew {
		p.renews++
	} else {
		p.reg = a.id
		timeout = n.attemptTimeout()
	}
	p.lastEmit = t
	p.remember(a)
	return append(out, Write{ID: a.id, Ref: a.ref, Op: op, Base: a.base, Incarnation: a.inc,
		Token: a.token, Timeout: timeout})
}

// maxPending bounds the writes remembered as possibly landed; forgetting one only means
// not recognising it, which is safe.
const maxPending = 16

func (p *presence) remember(a *attempt) {
	p.rememberWrite(pendingWrite{token: a.token, emit: a.emit, era: a.era})
}

func (p *presence) rememberWrite(w pendingWrite) {
	if len(p.pending) == maxPending {
		p.pending = slices.Delete(p.pending, 0, 1)
	}
	p.pending = append(p.pending, w)
}

// claim removes the pending write with token and returns it.
func (p *presence) claim(token string) (pendingWrite, bool) {
	if token == "" {
		return pendingWrite{}, false
	}
	for i, w := range p.pending {
		if w.token == token {
			p.pending = slices.Delete(p.pending, i, i+1)
			return w, true
		}
	}
	return pendingWrite{}, false
}

// prune drops pending writes too old to move the fence past t.
func (n *Node) prunePending(t time.Time) {
	n.self.pending = slices.DeleteFunc(n.self.pending, func(w pendingWrite) bool {
		return !w.emit.Add(n.cfg.RenewDeadline).After(t)
	})
}

// credit takes a write of inc emitted at emit (in era) as landed: the fence moves to
// emit + RenewDeadline if that is later. The write landed after emit, so any peer saw its
// version after emit and waits LeaseDuration > RenewDeadline from then.
func (n *Node) credit(t time.Time, w pendingWrite) {
	p := &n.self
	if w.era != n.era {
		return // emitted before the clock stepped back: it cannot fence
	}
	// A write forgotten as too old to move the fence (w zero) still landed: the API answers,
	// so the backoff ends (its emission is unknown, so it brings no sight).
	p.lastCredit = t
	if !p.registered {
		p.registered = true
		n.markAll() // claims wait for the registration: let every VIP and peer look again
	}
	if !w.relayed && !w.emit.IsZero() {
		n.see(t, w.emit)
	}
	if f := w.emit.Add(n.cfg.RenewDeadline); f.After(p.fence) {
		p.fence, p.downReason = f, ""
		n.markMine()
	}
	p.fails, p.notAfter = 0, time.Time{}
}

// onPresenceWrite handles the result of a write to our own presence record.
func (n *Node) onPresenceWrite(t time.Time, a *attempt, ev result) {
	p := &n.self
	if a.op == OpRenew {
		p.renews--
	} else if p.reg == a.id {
		p.reg = 0
	}
	if a.inc != p.inc {
		return // a write of an incarnation that ended: nothing to learn for the current one
	}
	if a.op == OpRelease {
		return // resigning: nothing follows
	}
	w, _ := p.claim(a.token)
	switch ev.class {
	case ClassNone:
		if !ev.stale {
			p.seeOwn(ev.rec)
		}
		n.credit(t, w) // it landed, whatever came after it
	case ClassConflict:
		if a.op == OpRenew {
			n.endIncarnation(t) // the test failed: the record no longer names our incarnation
			return
		}
		p.needRead = true // a registration raced: read the record again
	case ClassNotFound:
		if a.op == OpCreate {
			n.presenceFailed(t, ClassPermanent) // the namespace is missing
			return
		}
		if p.registered {
			n.endIncarnation(t)
		}
		p.seeOwn(Record{})
	case ClassTransient:
		p.remember(a) // it may still land; a later record carrying its token proves it
		p.needRead = !p.registered
		n.presenceFailed(t, ClassTransient)
	default:
		n.presenceFailed(t, ClassPermanent)
	}
}

// A failure of another class than the last restarts the ramp: a kube-apiserver that comes
// back after a long outage answers 403 for a moment while its RBAC cache fills, and those
// 403s must not wait out the ramp the outage's timeouts built (the lab measured the VIP back
// 4.5 s after kube-apiserver was ready, up to LD with the permanent ramp).
func (n *Node) presenceFailed(t time.Time, class ErrClass) {
	p := &n.self
	if class != p.failedAs {
		p.fails, p.failedAs = 0, class
	}
	p.fails++
	p.notAfter = t.Add(n.backoff(p.fails, class))
}

// onPresenceRead handles an authoritative read of our own presence record.
func (n *Node) onPresenceRead(t time.Time, ev result) {
	p := &n.self
	switch ev.class {
	case ClassNone, ClassNotFound:
		rec := ev.rec
		if ev.class == ClassNotFound {
			rec = Record{}
		}
		p.needRead, p.fails, p.notAfter = false, 0, time.Time{}
		if ev.stale {
			return // we know a newer version already
		}
		n.learnOwn(t, rec, true)
	case ClassPermanent:
		n.presenceFailed(t, ClassPermanent)
	default:
		n.presenceFailed(t, ClassTransient)
	}
}

// learnOwn takes in our own presence record. A record carrying one of our pending tokens
// proves that write landed. A revoked record of our incarnation ends it, whatever its age;
// so does an authoritative record that no longer names it while we are registered.
func (n *Node) learnOwn(t time.Time, rec Record, auth bool) {
	p := &n.self
	p.seeOwn(rec)
	switch {
	case rec.Exists && rec.Holder == n.cfg.Identity && rec.Incarnation == p.inc:
		if w, ok := p.claim(rec.Token); ok {
			n.credit(t, w)
		}
	case rec.revoked() && rec.Incarnation == p.inc:
		n.endIncarnation(t)
	case auth && p.registered:
		n.endIncarnation(t)
	}
}

func (p *presence) seeOwn(rec Record) { p.view, p.known = rec, true }

// endIncarnation withdraws everything and starts a new incarnation, which registers
// afresh. Records naming the old one are then this node's to re-acquire or release.
func (n *Node) endIncarnation(t time.Time) {
	p := &n.self
	p.registered, p.fence, p.pending, p.ride = false, time.Time{}, nil, time.Time{}
	n.forgetAcks()
	p.downReason = ReasonIncarnation
	p.needRead = true
	n.markMine()
	p.inc = n.newIncarnation(n.clk.raw(t))
}

// markMine marks every VIP whose record names this node, so plan refreshes or withdraws it.
func (n *Node) markMine() {
	for ip := range n.byHolder[n.cfg.Identity] {
		n.sched.markVIP(ip)
	}
	for ip := range n.active {
		n.sched.markVIP(ip)
	}
}

func (n *Node) markAll() {
	for ip := range n.vips {
		n.sched.markVIP(ip)
	}
	for name := range n.peers {
		n.sched.markPeer(name)
	}
}
