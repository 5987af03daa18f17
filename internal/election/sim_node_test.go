package election

import (
	"math/rand/v2"
	"net/netip"
	"strconv"
	"time"
)

// simNode is one node: its shell (executing actions, timing out requests, filtering stale
// informer events), its clock, its kernel addresses and its core. A crash keeps the kernel
// addresses until their lifetimes end.
type simNode struct {
	w     *simWorld
	idx   int
	id    string
	core  *Node
	proc  int // process generation: messages to an earlier process are dropped
	alive bool

	off   time.Duration // wall-clock offset (only ever stepped back)
	drift float64       // clock rate error

	peerCut []time.Duration // by peer index: cut from that peer until (sim_peer_test.go)

	frozenUntil, partUntil, forbidUntil, planeBadUntil time.Duration
	// planeSlowUntil: Installs wait in the shell's queue for up to planeLag, then PlaneDue.
	planeSlowUntil, planeLag time.Duration
	buffer                   []Event
	stopping                 bool

	addrs   map[netip.Addr]time.Duration // kernel addresses: expiry in virtual time
	mine    map[netip.Addr]bool          // addresses this process installed
	lastRV  map[Ref]int                  // the shell's newest version per record (filter)
	reqSec  time.Duration                // the virtual second being counted
	reqN    int                          // requests in it
	missed  bool                         // a watch event was dropped: relist
	wakeGen int
}

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
	n.proc++
	cfg := n.w.cfg
	cfg.Identity = n.id
	cfg.Rand = rand.New(rand.NewPCG(n.w.seed, uint64(n.idx*1000+n.proc))).Float64
	c, err := New(cfg)
	if err != nil {
		panic(err) // the model's own configs are valid
	}
	n.core, n.alive, n.stopping, n.buffer = c, true, false, nil
	n.mine, n.lastRV, n.missed = map[netip.Addr]bool{}, map[Ref]int{}, false
	n.w.logf("%s: start (process %d)", n.id, n.proc)
	ok := n.sweep()
	n.step(Swept{OK: ok})
	n.syncAfter(n.w.uniform(time.Millisecond, 50*time.Millisecond))
}

// sweep removes the addresses an earlier process left, unless the data plane fails.
func (n *simNode) sweep() bool {
	if n.w.now < n.planeBadUntil && n.w.chance(0.5) {
		n.w.stats.sweepFails++
		n.w.logf("%s: sweep failed", n.id)
		return false
	}
	for ip := range n.addrs {
		if !n.mine[ip] {
			delete(n.addrs, ip)
		}
	}
	return true
}

// syncAfter is the informer's initial list, then the wants: the real daemon starts the
// core only once its caches are synced, and an informer cut off cannot sync.
func (n *simNode) syncAfter(d time.Duration) {
	proc := n.proc
	n.w.after(d, func() {
		if n.proc != proc || !n.alive {
			return
		}
		if n.cut() {
			n.syncAfter(n.partUntil - n.w.now + time.Millisecond)
			return
		}
		n.relist()
		for _, ip := range n.w.vips {
			n.deliver(proc, n.w.want(n, ip))
		}
	})
}

// relist delivers the current state of every record (through the filter).
func (n *simNode) relist() {
	n.missed = false
	for _, r := range n.w.refs() {
		rec, _ := n.w.store.get(r)
		rv := n.w.store.rev
		if rec.Exists {
			rv, _ = strconv.Atoi(rec.RV)
		}
		n.observe(n.proc, r, rec, rv)
	}
}

func (n *simNode) crash() {
	n.retire()
	n.alive, n.buffer = false, nil
	n.proc++
	n.w.logf("%s: crash (addresses stay until their lifetimes end)", n.id)
}

// deliver hands ev to the process that was current when it was sent.
func (n *simNode) deliver(proc int, ev Event) {
	if !n.alive || n.proc != proc {
		return
	}
	if n.frozen() {
		n.buffer = append(n.buffer, ev)
		return
	}
	n.step(ev)
}

func (n *simNode) step(ev Event) {
	acts := n.core.Step(n.clock(), ev)
	n.w.stats.steps++
	n.w.logf("%s: %v -> %v", n.id, simFmt{ev}, simFmt{acts})
	n.exec(acts)
	if n.alive {
		n.scheduleWake()
	}
}

// exec runs actions in order; a data-plane outcome is stepped at once and its actions run
// before the rest, as the daemon does.
func (n *simNode) exec(acts []Action) {
	for len(acts) > 0 && n.alive {
		a := acts[0]
		acts = acts[1:]
		if more := n.do(a); len(more) > 0 {
			acts = append(more, acts...)
		}
	}
}

func (n *simNode) do(a Action) []Action {
	n.noteRide(a)
	switch a := a.(type) {
	case Send:
		n.w.sendPeer(n, a)
	case Install:
		if !a.Ready && n.w.now < n.planeSlowUntil {
			proc, ip := n.proc, a.VIP
			n.w.after(n.w.uniform(0, n.planeLag), func() { n.deliver(proc, PlaneDue{VIP: ip}) })
			return nil
		}
		return n.stepNow(n.install(a))
	case Uninstall:
		return n.stepNow(n.uninstall(a))
	case Sweep:
		return n.stepNow(Swept{OK: n.sweep()})
	case Write:
		n.w.stats.ops[a.Ref.Kind.String()+"/"+a.Op.String()]++
		n.send(a.ID, a.Ref, a.Timeout, true, func() (Record, ErrClass) { return n.serveWrite(a) })
	case Read:
		n.send(a.ID, a.Ref, a.Timeout, false, func() (Record, ErrClass) { return n.serveRead(a) })
	case Stopped:
		n.exit()
	}
	return nil
}

func (n *simNode) stepNow(ev Event) []Action {
	acts := n.core.Step(n.clock(), ev)
	n.w.stats.steps++
	n.w.logf("%s: %v -> %v", n.id, simFmt{ev}, simFmt{acts})
	return acts
}

func (k Kind) String() string {
	if k == KindNode {
		return "node"
	}
	return "vip"
}

func (n *simNode) exit() {
	n.retire()
	n.alive = false
	n.proc++
	n.w.logf("%s: exited", n.id)
	if n.w.healed || n.w.rng.Float64() < 0.9 {
		n.w.after(n.w.uniform(0, 5*time.Second), func() { n.w.restartIfDead(n) })
	}
}

// install puts the address up with the lifetime Until asks for (in virtual time; with the
// ride-through, Until carries the ride's deadline), which the data plane may end up to
// KernelLateness late (a second with kernel lifetimes, 50 ms with the nftables fence) and
// refuses below MinLifetime; a bad data plane fails it.
func (n *simNode) install(a Install) PlaneDone {
	if n.w.now < n.planeBadUntil && n.w.chance(0.4) {
		class := PlaneTransient
		if n.w.chance(0.3) {
			class = PlaneRefused
			n.w.stats.refusals++
		}
		n.w.logf("%s: install %s failed (%v)", n.id, a.VIP, class)
		return PlaneDone{VIP: a.VIP, Install: true, Class: class} // a refresh keeps the old lifetime
	}
	left := n.virtualIn(a.Until.Sub(n.clock()))
	if left < n.w.cfg.WithDefaults().MinLifetime {
		delete(n.addrs, a.VIP) // the data plane removes an address with less than MinLifetime left
		delete(n.mine, a.VIP)
		return PlaneDone{VIP: a.VIP, Install: true, Class: PlaneExpired}
	}
	n.w.noteGap(n, a.VIP)
	_, was := n.addrs[a.VIP]
	n.addrs[a.VIP] = n.w.now + left + n.w.uniform(0, n.w.cfg.WithDefaults().KernelLateness)
	n.mine[a.VIP] = true
	if !was {
		n.w.stats.installs++
	}
	n.w.checkSafety(a.VIP)
	return PlaneDone{VIP: a.VIP, Install: true}
}

func (n *simNode) uninstall(a Uninstall) PlaneDone {
	if n.w.now < n.planeBadUntil && n.w.chance(0.4) {
		n.w.stats.removeFails++
		n.w.logf("%s: uninstall %s failed", n.id, a.VIP)
		return PlaneDone{VIP: a.VIP, Class: PlaneTransient}
	}
	delete(n.addrs, a.VIP)
	delete(n.mine, a.VIP)
	return PlaneDone{VIP: a.VIP}
}

// send models one request: the shell reports a timeout at Timeout unless the reply arrives
// first; the request may be lost, or land after the timeout.
func (n *simNode) send(id uint64, ref Ref, timeout time.Duration, write bool, serve func() (Record, ErrClass)) {
	w, proc, done := n.w, n.proc, false
	sent := w.now
	n.countRequest()
	report := func(rec Record, class ErrClass) {
		if done {
			return
		}
		done = true
		took, stale := w.now-sent, false
		if rec.Exists && n.proc == proc {
			// The shell's filter: a result older than a version it delivered is stale.
			rv, _ := strconv.Atoi(rec.RV)
			stale = rv < n.lastRV[ref]
			n.lastRV[ref] = max(n.lastRV[ref], rv)
		}
		if write {
			n.deliver(proc, WriteDone{ID: id, Record: rec, Class: class, Took: took, Stale: stale})
		} else {
			n.deliver(proc, ReadDone{ID: id, Record: rec, Class: class, Took: took, Stale: stale})
		}
	}
	w.after(n.virtualIn(timeout), func() { report(Record{}, ClassTransient) })
	if w.now < w.apiDownUntil && w.chance(0.3) {
		w.after(0, func() { report(Record{}, ClassTransient) }) // connection refused, at once
		return
	}
	if n.cut() || w.chance(0.02) {
		return // lost on the way
	}
	w.after(w.netDelay(), func() {
		rec, class := serve()
		if write && class == ClassNone && w.now-sent > timeout {
			w.stats.lateLandings++
		}
		if w.now < w.apiDownUntil && w.chance(0.5) {
			return // a hung API server: no reply at all
		}
		w.after(w.netDelay(), func() {
			if n.cut() || w.chance(0.02) {
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
	case w.now < w.apiDownUntil || w.chance(0.02):
		return Record{}, ClassTransient // etcdserver: request timed out, not applied
	}
	rec, class, changed := w.store.apply(n.id, a)
	w.stats.writes++
	if a.Op == OpRenew && a.Ref.Node != n.id && class == ClassNone {
		w.stats.ride.relayLanded++
	}
	if a.Op == OpRevoke && class == ClassNone {
		w.stats.revokes++
	}
	w.logf("store: %s %s %s base=%s by %s -> %s %s", a.Op, a.Ref, a.Incarnation, a.Base.RV, n.id, class, rec)
	if changed {
		w.changed(a.Ref)
	}
	return rec, class
}

func (n *simNode) serveRead(a Read) (Record, ErrClass) {
	w := n.w
	switch {
	case w.now < n.forbidUntil && w.chance(0.5):
		return Record{}, ClassPermanent
	case w.now < w.apiDownUntil:
		return Record{}, ClassTransient
	}
	return w.store.get(a.Ref)
}

// observeAfter delivers an informer event after d.
func (n *simNode) observeAfter(d time.Duration, r Ref, rec Record, rv string) {
	proc, gen := n.proc, n.w.gen
	v, _ := strconv.Atoi(rv)
	n.w.after(d, func() {
		if gen == n.w.gen {
			n.observe(proc, r, rec, v)
		}
	})
}

// observe is the shell's filter: an event older than what it knows of the record is
// dropped, so the core never sees a record older than one it saw.
func (n *simNode) observe(proc int, r Ref, rec Record, rv int) {
	if !n.alive || n.proc != proc {
		return
	}
	if rv < n.lastRV[r] {
		return
	}
	n.lastRV[r] = rv
	n.deliver(proc, Observed{Ref: r, Record: rec})
}

// scheduleWake arranges the Ticked the core asked for; under faults the shell may be late.
func (n *simNode) scheduleWake() {
	dbg := n.core.debugNext()
	wake := n.core.NextWake()
	if wake.IsZero() {
		return
	}
	if !wake.After(n.clock()) {
		n.w.violate("%s: NextWake %v is not after now %v: the shell would spin: %s", n.id, wake, n.clock(), n.core.debugWake()+" BEFORE: "+dbg)
	}
	n.wakeGen++
	gen, proc := n.wakeGen, n.proc
	d := n.virtualIn(wake.Sub(n.clock())) + time.Microsecond
	if n.w.chance(0.2) {
		d += n.w.uniform(0, 300*time.Millisecond)
	}
	n.w.after(d, func() {
		if n.wakeGen == gen {
			n.deliver(proc, Ticked{})
		}
	})
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
