package election

import (
	"fmt"
	"time"
)

// simBound is the liveness bound the model checks, for the best-ranked live eligible
// candidate having rank k once faults stop at T0:
//
//	T0 + L + (LeaseDuration + k x SpreadDelay) x (1+2ε) + 3 RTT
//
// L is how long after T0 a request sent before T0 can still land or be reported (the
// model lets a write land up to 1.5 x AttemptTimeout after it was sent), ε the clock rate
// error, RTT one round trip. The record current once requests settle was first seen by
// the candidate by T0+L+RTT/2; it then waits LeaseDuration plus its spread (any backoff
// pending at T0 ends by T0+AttemptTimeout+LeaseDuration, the permanent cap), reads once if
// it must, and writes once.
func simBound(cfg Config, k int) time.Duration {
	landing := cfg.AttemptTimeout * 3 / 2
	wait := time.Duration(float64(cfg.LeaseDuration+time.Duration(k)*cfg.SpreadDelay) * (1 + 2*simDrift))
	return landing + wait + 3*2*simCalmDelay + simCheckEvery
}

const simCheckEvery = 50 * time.Millisecond

// stopFaults ends every fault at once: the network is calm, partitions heal, frozen nodes
// thaw, most dead nodes restart; every node wants the VIP and at least one live node is
// eligible, with distinct ranks. Messages still in flight from the faulty period are
// dropped (an informer relists); requests in flight are not.
func (w *simWorld) stopFaults() {
	w.healed = true
	w.gen++
	w.apiDownUntil, w.apiSlowUntil = 0, 0
	var live []*simNode // nodes that run from now on
	restart := map[*simNode]bool{}
	for _, n := range w.nodes {
		n.partUntil, n.forbidUntil = 0, 0
		restart[n] = !n.alive && w.chance(0.7)
		if n.alive || restart[n] {
			live = append(live, n)
		}
	}
	if len(live) == 0 {
		n := w.nodes[w.rng.IntN(len(w.nodes))]
		restart[n], live = true, []*simNode{n}
	}
	w.assignCandidacy(live)
	for _, n := range w.nodes {
		w.calm(n, restart[n])
	}
	best := len(w.nodes)
	for _, n := range live {
		if n.eligible {
			best = min(best, n.rank)
		}
	}
	w.bound = simBound(w.cfg, best)
	w.logf("faults stop; bound %v (best live rank %d)", w.bound, best)
	w.after(simCheckEvery, w.checkLive)
}

// assignCandidacy makes every node want the VIP, some eligible (at least one live one),
// and ranks the eligible ones 0..k-1 in random order.
func (w *simWorld) assignCandidacy(live []*simNode) {
	for _, n := range w.nodes {
		n.wanted, n.eligible = true, w.chance(0.7)
	}
	anyLive := false
	for _, n := range live {
		anyLive = anyLive || n.eligible
	}
	if !anyLive {
		live[w.rng.IntN(len(live))].eligible = true
	}
	k := 0
	for _, i := range w.rng.Perm(len(w.nodes)) {
		if n := w.nodes[i]; n.eligible {
			n.rank, k = k, k+1
		}
	}
	for _, n := range w.nodes {
		if !n.eligible {
			n.rank, k = k, k+1
		}
	}
}

func (w *simWorld) calm(n *simNode, restart bool) {
	if n.frozen() {
		n.frozenUntil = w.now
		n.thaw()
	}
	switch {
	case restart:
		n.start()
		w.relist(n)
	case n.alive:
		n.eligAfter(w.uniform(0, simCalmDelay))
		w.relist(n)
	}
}

// checkLive samples the announcers after the faults stopped. Until the bound it only
// records when the VIP was last dark; after it the VIP must be lit by exactly one eligible
// live node.
func (w *simWorld) checkLive() {
	act := w.activeAnnouncers()
	ok := len(act) == 1 && act[0].eligible && act[0].alive
	if !ok {
		w.recovered = w.now + simCheckEvery // not recovered yet
		if w.now-w.heal > w.bound {
			w.violate("after faults stopped at %.3f, no single eligible node announces at +%v (bound %v): %s",
				w.heal.Seconds(), w.now-w.heal, w.bound, w.describe(act))
		}
	}
	w.after(simCheckEvery, w.checkLive)
}

func (w *simWorld) describe(act []*simNode) string {
	s := fmt.Sprintf("%d announcing;", len(act))
	for _, n := range w.nodes {
		st := "dead"
		if n.alive {
			st = n.e.State().String()
		}
		s += fmt.Sprintf(" %s[%s elig=%v rank=%d]", n.id, st, n.eligible, n.rank)
	}
	rec, _ := w.store.current()
	return s + " lease " + rec.String()
}
