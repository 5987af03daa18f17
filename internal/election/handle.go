package election

import (
	"slices"
	"time"
)

// handle applies one event to the state; plan then decides what to start.
func (e *Elector) handle(t time.Time, ev Event, out []Action) []Action {
	switch ev := ev.(type) {
	case Observed:
		return e.learn(t, ev.Record, false, out)
	case EligibilityChanged:
		return e.onEligibility(t, ev, out)
	case WriteDone:
		if a := e.finish(ev.ID, true); a != nil {
			return e.onWrite(t, a, ev, out)
		}
	case ReadDone:
		if a := e.finish(ev.ID, false); a != nil {
			return e.onRead(t, ev, out)
		}
	case StopRequested:
		e.stopping = true
		if e.leading {
			return e.stepDown(t, out, ReasonStopping)
		}
	}
	return out
}

// finish ends the attempt in flight if id is its; results with any other id are stale.
func (e *Elector) finish(id uint64, write bool) *attempt {
	a := e.inflight
	if a == nil || a.id != id || a.write != write {
		return nil
	}
	e.inflight = nil
	return a
}

func (e *Elector) onEligibility(t time.Time, ev EligibilityChanged, out []Action) []Action {
	e.told, e.eligible, e.wanted, e.rank = true, ev.Eligible, ev.Wanted, max(ev.Rank, 0)
	e.ahead = ev.Ahead
	switch {
	case e.leading && !e.wanted:
		return e.stepDown(t, out, ReasonNotWanted)
	case e.leading && !e.eligible:
		return e.stepDown(t, out, ReasonNotEligible)
	}
	return out
}

// see records rec as the newest knowledge. The candidate wait restarts whenever the
// version changes: resourceVersions are compared for equality only, never ordered, so a
// stale record seen again only makes the wait longer.
func (e *Elector) see(t time.Time, rec Record) {
	if !e.known || rec.Exists != e.view.Exists || rec.RV != e.view.RV {
		e.since = t
	}
	if rec.Exists {
		e.heldSeen = true
	}
	switch {
	case rec.Exists && rec.Holder == "" && e.view.Exists && e.view.Holder != "":
		e.releaser = e.view.Holder
	case rec.Holder != "":
		e.releaser = ""
	}
	e.view, e.known = rec, true
}

// learn takes in a record. auth marks an answer of the API server itself (a read or a
// write's result), as opposed to the informer's possibly stale view: only an
// authoritative record can make a leader step down before its deadline.
func (e *Elector) learn(t time.Time, rec Record, auth bool, out []Action) []Action {
	e.see(t, rec)
	if rec.names(e.cfg.Identity) {
		if emit, ok := e.claim(rec.Token); ok {
			return e.confirmed(t, rec, emit, out)
		}
		if e.leading && auth {
			// Our name, not our write (a predecessor's late write): our fence still
			// stands, and the next renew must be conditioned on this version.
			e.own = rec
		}
		return out
	}
	if e.leading && auth {
		if rec.Exists {
			return e.stepDown(t, out, ReasonLost)
		}
		return e.stepDown(t, out, ReasonDeleted)
	}
	return out
}

// confirmed takes a write of ours, emitted at emit, as landed. The fence moves to
// emit+RenewDeadline: the write landed after emit, so every candidate saw its version
// after emit and waits LeaseDuration > RenewDeadline from then.
func (e *Elector) confirmed(t time.Time, rec Record, emit time.Time, out []Action) []Action {
	if !emit.After(e.ownEmit) {
		return out // an older write of ours, seen late: it cannot move the fence
	}
	e.own, e.ownEmit, e.deadline = rec, emit, emit.Add(e.cfg.RenewDeadline)
	e.fails, e.notBefore = 0, time.Time{}
	if !e.wantsLead() || !t.Before(e.deadline) {
		return out
	}
	e.leading = true
	return append(out, Announce{Until: e.clk.raw(e.deadline)})
}

// stepDown withdraws the VIP and makes us a candidate again. Unless the API said we lost,
// the newest record we know of is our own, so the next attempt renews it by CAS.
func (e *Elector) stepDown(t time.Time, out []Action, reason string) []Action {
	e.leading = false
	if reason != ReasonLost && reason != ReasonDeleted {
		e.see(t, e.own)
	}
	return append(out, Withdraw{Reason: reason})
}

func (e *Elector) onWrite(t time.Time, a *attempt, ev WriteDone, out []Action) []Action {
	e.lastClass = ev.Class
	if ev.Class != ClassTransient {
		e.forget(a.token) // definitive: it landed now, or it never will
	}
	switch ev.Class {
	case ClassNone:
		e.fails, e.notBefore, e.needRead = 0, time.Time{}, false
		return e.wrote(t, a, ev.Record, out)
	case ClassConflict:
		e.needRead = true
		if a.op == OpCreate {
			e.heldSeen = true // someone created it
		} else {
			e.deadRV = a.base.RV
		}
	case ClassNotFound:
		return e.learn(t, Record{}, true, out)
	case ClassTransient:
		e.needRead = true // it may have landed
		e.failed(t, ev.Class)
	default:
		e.failed(t, ClassPermanent)
	}
	return out
}

func (e *Elector) wrote(t time.Time, a *attempt, rec Record, out []Action) []Action {
	switch {
	case a.op.setsHolder() && rec.names(e.cfg.Identity) && a.era == e.era:
		e.see(t, rec)
		return e.confirmed(t, rec, a.emit, out)
	case a.op == OpDelete:
		e.see(t, Record{})
		e.heldSeen = false // we withdrew before deleting: nobody holds it
		return out
	}
	return e.learn(t, rec, true, out)
}

func (e *Elector) onRead(t time.Time, ev ReadDone, out []Action) []Action {
	e.lastClass = ev.Class
	switch ev.Class {
	case ClassNone:
		if ev.Record.Exists && ev.Record.RV == e.deadRV {
			e.failed(t, ClassTransient) // a stale read: try again later
			return out
		}
		e.needRead = false
		return e.learn(t, ev.Record, true, out)
	case ClassNotFound:
		e.needRead = false
		return e.learn(t, Record{}, true, out)
	case ClassPermanent:
		e.failed(t, ClassPermanent)
	default:
		e.failed(t, ClassTransient)
	}
	return out
}

func (e *Elector) failed(t time.Time, class ErrClass) {
	e.fails++
	e.notBefore = t.Add(e.backoff(e.fails, class))
}

// maxPending bounds the writes remembered as possibly landed; forgetting one only means
// not recognising it, which is safe.
const maxPending = 16

func (e *Elector) remember(a *attempt) {
	if len(e.pending) == maxPending {
		e.pending = slices.Delete(e.pending, 0, 1)
	}
	e.pending = append(e.pending, pendingWrite{token: a.token, emit: a.emit})
}

func (e *Elector) forget(token string) { e.claim(token) }

// claim removes the pending write with token and returns when it was emitted.
func (e *Elector) claim(token string) (time.Time, bool) {
	if token == "" {
		return time.Time{}, false
	}
	for i, p := range e.pending {
		if p.token == token {
			e.pending = slices.Delete(e.pending, i, i+1)
			return p.emit, true
		}
	}
	return time.Time{}, false
}

// prune drops pending writes too old to move the fence past t.
func (e *Elector) prune(t time.Time) {
	e.pending = slices.DeleteFunc(e.pending, func(p pendingWrite) bool {
		return !p.emit.Add(e.cfg.RenewDeadline).After(t)
	})
}
