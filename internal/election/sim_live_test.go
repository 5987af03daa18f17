package election

import (
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// sample records, every 100 ms after the faults stopped, which VIPs had no announcer.
func (w *simWorld) sample() {
	for _, ip := range w.vips {
		if w.servable(ip) && len(w.activeAnnouncers(ip)) == 0 {
			w.darkSince[ip] = w.now
		}
	}
	w.after(100*time.Millisecond, w.sample)
}

// servable reports whether some node should announce ip once calm.
func (w *simWorld) servable(ip netip.Addr) bool {
	if !w.wanted[ip] {
		return false
	}
	sw := w.wants[ip]
	return slices.ContainsFunc(w.nodes, func(n *simNode) bool { return sw.eligible[n.idx] })
}

// checkLiveness: every servable VIP was announced within the bound after the faults
// stopped (or after the last node that refused it could take it again), and to the end.
func (w *simWorld) checkLiveness() {
	if w.fail != "" {
		return
	}
	for _, ip := range w.vips {
		if !w.servable(ip) {
			continue
		}
		last, ok := w.darkSince[ip]
		if !ok {
			continue
		}
		start := max(w.heal, w.unblockedAt(ip))
		bound := w.simBound()
		if w.end-last < 2*time.Second {
			w.violate("%s is dark at the end (last dark %.3f, faults stopped %.3f)\n%s", ip, last.Seconds(), w.heal.Seconds(), w.debugVIP(ip))
			return
		}
		if last-start > bound {
			w.violate("%s dark until %.3f: %v after %.3f, over the bound %v", ip, last.Seconds(), last-start, start.Seconds(), bound)
			return
		}
		w.recovered = max(w.recovered, last-start-bound)
	}
}

// simBound is the liveness bound once calm: a request stuck before the faults stopped
// times out within MaxAttemptTimeout, its backoff ends within LeaseDuration, a conflicting
// write waits the read fallback, a peer's presence may need LeaseDuration to lapse, and the
// spread adds a step per node.
//
// Ride worlds keep this bound. The ride-through's longer waits (the unacknowledged wait
// and an absence's LD + X, both UnackedWait) delay only a takeover from a holder that is
// gone or cut off; once calm every node runs again (stopFaults restarts the dead and
// thaws the frozen) and renews or re-acquires its own records, so no takeover after calm
// waits on them.
func (w *simWorld) simBound() time.Duration {
	c := w.cfg.WithDefaults()
	return c.MaxAttemptTimeout + 2*c.LeaseDuration + 2*c.RetryPeriod + time.Duration(len(w.nodes))*c.SpreadDelay
}

// unblockedAt is the earliest virtual time some eligible node may hold ip again after a
// refusal by its data plane.
func (w *simWorld) unblockedAt(ip netip.Addr) time.Duration {
	best := time.Duration(-1)
	for _, n := range w.nodes {
		if !w.wants[ip].eligible[n.idx] || n.core == nil {
			continue
		}
		at := time.Duration(0)
		if v := n.core.vips[ip]; v != nil && !v.blockedUntil.IsZero() {
			at = w.now + n.virtualIn(n.core.clk.raw(v.blockedUntil).Sub(n.clock()))
		}
		if best < 0 || at < best {
			best = at
		}
	}
	return max(best, 0)
}

func (w *simWorld) debugVIP(ip netip.Addr) string {
	s := ""
	for _, n := range w.nodes {
		if n.core != nil {
			s += fmt.Sprintf("  alive=%v %s\n", n.alive, n.core.debugVIP(ip))
		}
	}
	return s
}
