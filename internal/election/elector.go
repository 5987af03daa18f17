package election

import (
	"fmt"
	"strconv"
	"time"
)

// Elector is the election state machine for one VIP. It is not safe for concurrent use:
// one goroutine (the shell's loop for the VIP) calls Step and the accessors.
type Elector struct {
	cfg   Config
	clk   clock
	era   int    // bumped when now steps back: earlier emission times cannot fence
	epoch string // prefix of this incarnation's write tokens

	told             bool // an EligibilityChanged arrived; until then make no writes
	eligible, wanted bool
	rank             int
	ahead            []string // candidates ranked before this node, when the shell knows them

	view     Record    // newest knowledge of the Lease, from any source; may be stale
	known    bool      // view holds real knowledge
	since    time.Time // core time the view's version (Exists, RV) was first seen
	heldSeen bool      // the Lease was seen to exist, and we have not deleted it since
	releaser string    // who held the view before it was seen released, if we saw that
	deadRV   string    // a resourceVersion that a Conflict proved superseded
	needRead bool      // the view may be stale: a write's outcome is unknown, or it conflicted

	leading  bool
	own      Record    // the record our newest confirmed write produced
	ownEmit  time.Time // core time that write was emitted
	deadline time.Time // ownEmit + RenewDeadline: the leader fence

	inflight  *attempt
	lastID    uint64
	pending   []pendingWrite // holder-setting writes that timed out and may still land
	fails     int            // consecutive failed attempts, for backoff
	notBefore time.Time      // no attempt before this core time
	lastClass ErrClass

	stopping, stopTried, stopped bool
}

// attempt is the one read or write in flight.
type attempt struct {
	id    uint64
	write bool
	op    Op
	base  Record
	token string
	emit  time.Time
	era   int
}

// pendingWrite is a write of ours that may have landed: if a record carrying its token
// shows up, the write counts as successful from emit.
type pendingWrite struct {
	token string
	emit  time.Time
}

// New validates cfg and returns an elector that is idle until EligibilityChanged.
func New(cfg Config) (*Elector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("new elector for %q: %w", cfg.Identity, err)
	}
	return &Elector{cfg: cfg}, nil
}

// Step feeds one event at time now (the shell's time.Now(), monotonic) and returns the
// actions to execute in order. It is deterministic: the same state, now and event always
// yield the same actions.
func (e *Elector) Step(now time.Time, ev Event) []Action {
	if e.stopped {
		return nil
	}
	if e.epoch == "" {
		e.epoch = e.newEpoch(now)
	}
	t, back := e.clk.at(now)
	var out []Action
	if back {
		out = e.clockStepped(t, out)
	}
	out = e.handle(t, ev, out)
	return e.plan(t, out)
}

// clockStepped handles a backward step of now. Core time counted it as no time, but real
// time may have passed (a process frozen across the step): every fence measured from an
// emission before the step is void. The leader steps down, and no write emitted before the
// step can make us leader.
func (e *Elector) clockStepped(t time.Time, out []Action) []Action {
	e.era++
	e.pending = nil
	if e.leading {
		return e.stepDown(t, out, ReasonClockJump)
	}
	return out
}

// NextWake is when the shell must send Ticked next (zero: nothing scheduled).
func (e *Elector) NextWake() time.Time {
	if e.stopped || !e.clk.started {
		return time.Time{}
	}
	var w time.Time
	if e.leading {
		w = e.deadline
	}
	if s, ok := e.next(e.clk.last); ok && !e.stopping && (w.IsZero() || s.at.Before(w)) {
		w = s.at
	}
	return e.clk.raw(w)
}

// Leading reports whether the VIP is announced (between Announce and Withdraw).
func (e *Elector) Leading() bool { return e.leading }

// State is the coarse state.
func (e *Elector) State() State {
	switch {
	case e.stopped:
		return StateStopped
	case e.stopping:
		return StateStopping
	case e.leading:
		return StateLeader
	case e.eligible && e.wanted:
		return StateCandidate
	}
	return StateIdle
}

// Holder is this node while it leads, else the holder of the newest record seen ("" if
// released, absent or unknown).
func (e *Elector) Holder() string {
	if e.leading {
		return e.cfg.Identity
	}
	return e.view.Holder
}

// LastClass is the class of the most recently completed read or write.
func (e *Elector) LastClass() ErrClass { return e.lastClass }

// Deadline is the current leader fence on the shell's clock (zero when not leading).
func (e *Elector) Deadline() time.Time {
	if !e.leading {
		return time.Time{}
	}
	return e.clk.raw(e.deadline)
}

// newEpoch names this incarnation so that its write tokens differ from any earlier
// incarnation's (a restarted process must not mistake its predecessor's write for its own).
func (e *Elector) newEpoch(now time.Time) string {
	s := strconv.FormatInt(now.UnixNano(), 36)
	if e.cfg.Rand != nil {
		s += "." + strconv.FormatUint(uint64(clamp01(e.cfg.Rand())*(1<<53)), 36)
	}
	return s
}

func (e *Elector) token(id uint64) string { return e.epoch + "-" + strconv.FormatUint(id, 10) }

func (e *Elector) wantsLead() bool { return e.eligible && e.wanted && !e.stopping }

// holds reports whether, as far as we know, the Lease names us.
func (e *Elector) holds() bool {
	return e.leading || (e.known && e.view.names(e.cfg.Identity))
}

// base is the record our next CAS is conditioned on: a leader's own newest write (an
// informer may still show older records), otherwise the newest record seen.
func (e *Elector) base() Record {
	if e.leading {
		return e.own
	}
	return e.view
}

// baseDead reports whether a Conflict already proved the base superseded.
func (e *Elector) baseDead() bool {
	b := e.base()
	return b.Exists && e.deadRV != "" && b.RV == e.deadRV
}
