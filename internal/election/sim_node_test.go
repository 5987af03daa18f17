package election

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// simNode is one node: its shell (executing actions, timing out requests), its clock, its
// kernel address and its elector. A crash keeps the kernel address until its lifetime ends.
type simNode struct {
	w     *simWorld
	idx   int
	id    string
	e     *Elector
	inc   int // incarnation: messages to an earlier process are dropped
	alive bool

	off   time.Duration // wall-clock offset (only ever stepped back)
	drift float64       // clock rate error

	frozenUntil, partUntil, forbidUntil time.Duration
	buffer                              []Event // events that arrived while frozen
	stopping                            bool

	eligible, wanted bool
	rank             int

	ann       bool
	annExpire time.Duration
	wakeGen   int
	obsFIFO   time.Duration // once calm: no observation is delivered before this
}

// clock is the node's time.Now().
func (n *simNode) clock() time.Time {
	v := n.w.now
	return simEpoch.Add(n.off + v + time.Duration(float64(v)*n.drift))
}

// virtualIn converts a duration on the node's clock into virtual time.
func (n *simNode) virtualIn(d time.Duration) time.Duration {
	return time.Duration(float64(d) / (1 + n.drift))
}

func (n *simNode) cut() bool    { return n.w.now < n.partUntil }
func (n *simNode) frozen() bool { return n.w.now < n.frozenUntil }

func (n *simNode) start() {
	n.inc++
	cfg := n.w.cfg
	cfg.Identity = n.id
	cfg.Rand = rand.New(rand.NewPCG(n.w.seed, uint64(n.idx*1000+n.inc))).Float64
	e, err := New(cfg)
	if err != nil {
		panic(err) // the model's own configs are valid
	}
	n.e, n.alive, n.stopping, n.buffer = e, true, false, nil
	n.ann = false // the start-up sweep removes what the previous process left
	n.w.logf("%s: start (incarnation %d)", n.id, n.inc)
	rec, _ := n.w.store.current()
	if n.w.chance(0.5) {
		n.observeAfter(n.w.uniform(0, 50*time.Millisecond), rec)
	}
	n.eligAfter(n.w.uniform(0, 50*time.Millisecond))
}

func (n *simNode) crash() {
	n.alive, n.buffer = false, nil
	n.inc++
	n.w.logf("%s: crash (address stays until %.3f)", n.id, n.annExpire.Seconds())
}

// deliver hands ev to the process that was current when it was sent.
func (n *simNode) deliver(inc int, ev Event) {
	if !n.alive || n.inc != inc {
		return
	}
	if n.frozen() {
		n.buffer = append(n.buffer, ev)
		return
	}
	n.step(ev)
}

func (n *simNode) step(ev Event) {
	acts := n.e.Step(n.clock(), ev)
	n.w.stats.steps++
	if wd, ok := ev.(WriteDone); ok {
		n.w.stats.results[wd.Class]++
	}
	n.w.logf("%s: %v -> %v [%v]", n.id, simFmt{ev}, simFmt{acts}, n.e.State())
	for _, a := range acts {
		if !n.alive {
			break
		}
		n.exec(a)
	}
	if n.alive {
		n.scheduleWake()
	}
}

func (n *simNode) thaw() {
	if n.frozen() || !n.alive {
		return
	}
	buf := n.buffer
	n.buffer = nil
	n.w.logf("%s: thaw, %d events queued", n.id, len(buf))
	for _, ev := range buf {
		if !n.alive {
			return
		}
		n.step(ev)
	}
	if n.alive {
		n.step(Ticked{})
	}
}

func (n *simNode) exec(a Action) {
	switch a := a.(type) {
	case Announce:
		if !n.ann {
			n.w.stats.takeovers++
		}
		n.ann = true
		n.annExpire = n.w.now + n.virtualIn(a.Until.Sub(n.clock()))
		n.w.checkSafety()
	case Withdraw:
		n.ann = false
		n.w.stats.stepDowns[a.Reason]++
	case Write:
		n.send(a.ID, a.Timeout, true, func() (Record, ErrClass) { return n.serveWrite(a) })
	case Read:
		n.send(a.ID, a.Timeout, false, n.serveRead)
	case Stopped:
		n.alive = false
		n.inc++
		n.w.logf("%s: exited", n.id)
		switch {
		case n.w.healed:
			n.w.after(0, n.start)
		case n.w.chance(0.9):
			n.w.after(n.w.uniform(0, 5*time.Second), func() { n.w.restartIfDead(n) })
		}
	}
}

// send models one request: the shell reports a timeout at Timeout unless the reply
// arrives first; the request itself may be lost, or land after the timeout.
func (n *simNode) send(id uint64, timeout time.Duration, write bool, serve func() (Record, ErrClass)) {
	w, inc, done := n.w, n.inc, false
	sent := w.now
	report := func(rec Record, class ErrClass) {
		if done {
			return
		}
		done = true
		if write {
			n.deliver(inc, WriteDone{ID: id, Record: rec, Class: class})
		} else {
			n.deliver(inc, ReadDone{ID: id, Record: rec, Class: class})
		}
	}
	w.after(timeout, func() { report(Record{}, ClassTransient) })
	if n.cut() || (!w.healed && w.chance(0.03)) {
		return // lost on the way
	}
	w.after(w.netDelay(timeout), func() {
		rec, class := serve()
		if write && class == ClassNone && w.now-sent > timeout {
			w.stats.lateLandings++
		}
		if !w.healed && w.now < w.apiDownUntil && w.chance(0.5) {
			return // a hung API server: no reply at all
		}
		w.after(w.netDelay(timeout), func() {
			if n.cut() || (!w.healed && w.chance(0.03)) {
				return // the reply is lost
			}
			report(rec, class)
		})
	})
}

func (n *simNode) serveWrite(a Write) (Record, ErrClass) {
	w := n.w
	switch {
	case w.now < n.forbidUntil:
		return Record{}, ClassPermanent
	case w.now < w.apiDownUntil || (!w.healed && w.chance(0.03)):
		return Record{}, ClassTransient // etcdserver: request timed out, not applied
	}
	rec, class, changed := w.store.apply(n.id, a)
	w.stats.writes++
	w.logf("store: %s %s %s by %s -> %s %s", a.Op, fmtBase(a.Base), a.Token, n.id, class, rec)
	if changed {
		w.changed()
	}
	return rec, class
}

func (n *simNode) serveRead() (Record, ErrClass) {
	w := n.w
	switch {
	case w.now < n.forbidUntil && w.chance(0.5):
		return Record{}, ClassPermanent
	case w.now < w.apiDownUntil:
		return Record{}, ClassTransient
	}
	return w.store.current()
}

// observeAfter delivers an informer event. Under faults events may overtake each other;
// once calm, an informer delivers in order.
func (n *simNode) observeAfter(d time.Duration, rec Record) {
	inc, gen := n.inc, n.w.gen
	if n.w.healed {
		d = max(d, n.obsFIFO-n.w.now)
		n.obsFIFO = n.w.now + d
	}
	n.w.after(d, func() {
		if gen == n.w.gen {
			n.deliver(inc, Observed{Record: rec})
		}
	})
}

func (n *simNode) eligAfter(d time.Duration) {
	inc, gen := n.inc, n.w.gen
	ev := EligibilityChanged{Eligible: n.eligible, Wanted: n.wanted, Rank: n.rank}
	n.w.after(d, func() {
		if gen == n.w.gen {
			n.deliver(inc, ev)
		}
	})
}

// scheduleWake arranges the Ticked the elector asked for; under faults the shell may be
// late (a busy node), which the kernel lifetime must cover.
func (n *simNode) scheduleWake() {
	wake := n.e.NextWake()
	if wake.IsZero() {
		return
	}
	if !wake.After(n.clock()) {
		n.w.violate("%s: NextWake %v is not after now %v: the shell would spin", n.id, wake, n.clock())
	}
	n.wakeGen++
	gen, inc := n.wakeGen, n.inc
	d := n.virtualIn(wake.Sub(n.clock())) + time.Microsecond
	if !n.w.healed && n.w.chance(0.2) {
		d += n.w.uniform(0, 300*time.Millisecond)
	}
	n.w.after(d, func() {
		if n.wakeGen == gen {
			n.deliver(inc, Ticked{})
		}
	})
}

// simFmt defers formatting an event or actions to when a trace is printed.
type simFmt struct{ v any }

func (f simFmt) String() string {
	if acts, ok := f.v.([]Action); ok {
		return fmtActions(acts)
	}
	return fmtEvent(f.v.(Event))
}

func fmtEvent(ev Event) string {
	switch ev := ev.(type) {
	case Observed:
		return "observed " + ev.Record.String() + " " + ev.Record.Token
	case WriteDone:
		return fmt.Sprintf("wrote#%d %s %s", ev.ID, ev.Class, ev.Record)
	case ReadDone:
		return fmt.Sprintf("read#%d %s %s", ev.ID, ev.Class, ev.Record)
	}
	return fmt.Sprintf("%T%+v", ev, ev)
}

func fmtActions(acts []Action) string {
	s := ""
	for i, a := range acts {
		if i > 0 {
			s += "; "
		}
		switch a := a.(type) {
		case Write:
			s += fmt.Sprintf("write#%d %s %s %s", a.ID, a.Op, fmtBase(a.Base), a.Token)
		case Announce:
			s += "announce until " + a.Until.Format("15:04:05.000")
		default:
			s += fmt.Sprintf("%T%+v", a, a)
		}
	}
	return s
}
