package election

import (
	"slices"
	"time"
)

// step is the next attempt the elector wants to start, and the earliest core time for it.
type step struct {
	read bool
	op   Op
	at   time.Time
}

// plan enforces the fence, then starts the next attempt if it is due.
func (e *Elector) plan(t time.Time, out []Action) []Action {
	if e.leading && !t.Before(e.deadline) {
		out = e.stepDown(t, out, ReasonDeadline)
	}
	e.prune(t)
	if e.stopping {
		return e.planStop(t, out)
	}
	s, ok := e.next(t)
	if !ok || t.Before(s.at) {
		return out
	}
	if s.read {
		return e.issueRead(t, out)
	}
	return e.issueWrite(t, s.op, out)
}

// planStop makes one release attempt if the Lease names us, then stops. It waits for an
// attempt in flight only if that attempt may leave the Lease naming us.
func (e *Elector) planStop(t time.Time, out []Action) []Action {
	if a := e.inflight; a != nil {
		if e.holds() || (a.write && a.op.setsHolder()) {
			return out
		}
	} else if e.holds() && !e.stopTried {
		e.stopTried = true
		return e.issueWrite(t, OpRelease, out)
	}
	e.stopped, e.inflight = true, nil
	return append(out, Stopped{})
}

// next is the attempt to start next, if any (none while one is in flight). A leader never
// starts an attempt that cannot finish before its deadline.
func (e *Elector) next(t time.Time) (step, bool) {
	if e.inflight != nil {
		return step{}, false
	}
	s, ok := e.choose()
	if !ok {
		return s, false
	}
	s.at = later(s.at, e.notBefore)
	if e.leading && e.deadline.Sub(later(s.at, t)) < e.minAttempt() {
		return step{}, false // the deadline comes first
	}
	return s, true
}

// choose picks the attempt from what we know; next applies backoff.
func (e *Elector) choose() (step, bool) {
	if !e.wantsLead() {
		return e.chooseIdle()
	}
	switch {
	case e.needRead || !e.known || e.baseDead():
		return step{read: true}, true
	case e.leading:
		return step{op: OpRenew, at: e.ownEmit.Add(e.cfg.RetryPeriod)}, true
	case e.holds():
		return step{op: OpRenew}, true // ours already (restart, outage): renew at once
	case e.view.Exists:
		return step{op: OpAcquire, at: e.acquireAt()}, true
	}
	return step{op: OpCreate, at: e.acquireAt()}, true
}

// chooseIdle: a node that should not lead only cleans up a Lease that names it: release
// it so a successor takes it at once, or delete it when no Service wants the VIP.
func (e *Elector) chooseIdle() (step, bool) {
	switch {
	case !e.told || !e.holds():
		return step{}, false
	case e.needRead || e.baseDead():
		return step{read: true}, true
	case !e.wanted:
		return step{op: OpDelete}, true
	}
	return step{op: OpRelease}, true
}

// acquireAt is when a candidate may take the Lease it sees (not naming it). A record held
// by another node must stay the same version for LeaseDuration on our clock, and so must
// the absence of a Lease that was seen to exist: by then the holder has passed its
// deadline. A released or never-seen Lease is free at once. Rank spreads the candidates;
// the releaser of a released Lease is not counted, so a graceful handover goes to the
// best-ranked remaining node with no spread delay.
func (e *Elector) acquireAt() time.Time {
	rank := e.rank
	if e.view.Exists && e.view.Holder == "" && e.releaser != "" && slices.Contains(e.ahead, e.releaser) {
		rank = max(rank-1, 0)
	}
	wait := time.Duration(rank) * e.cfg.SpreadDelay
	if (e.view.Exists && e.view.Holder != "") || (!e.view.Exists && e.heldSeen) {
		wait += e.cfg.LeaseDuration
	}
	return e.since.Add(wait)
}

func (e *Elector) issueWrite(t time.Time, op Op, out []Action) []Action {
	a := &attempt{id: e.newID(), write: true, op: op, base: e.base(), emit: t, era: e.era}
	if op == OpCreate {
		a.base = Record{}
	}
	if op.setsHolder() {
		a.token = e.token(a.id)
		e.remember(a)
	}
	e.inflight = a
	return append(out, Write{ID: a.id, Op: op, Base: a.base, Token: a.token, Timeout: e.timeout(t)})
}

func (e *Elector) issueRead(t time.Time, out []Action) []Action {
	a := &attempt{id: e.newID(), emit: t}
	e.inflight = a
	return append(out, Read{ID: a.id, Timeout: e.timeout(t)})
}

func (e *Elector) newID() uint64 {
	e.lastID++
	return e.lastID
}

// timeout bounds an attempt: AttemptTimeout, and for a leader the time left to its
// deadline, so the outcome is known before the fence falls.
func (e *Elector) timeout(t time.Time) time.Duration {
	d := e.cfg.AttemptTimeout
	if e.leading {
		d = min(d, e.deadline.Sub(t))
	}
	return d
}

// minAttempt is the shortest attempt worth starting.
func (e *Elector) minAttempt() time.Duration { return min(100*time.Millisecond, e.cfg.AttemptTimeout) }
