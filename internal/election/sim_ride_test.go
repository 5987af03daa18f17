package election

import (
	"flag"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// The ride-through in the model (issue 11): a share of the seeds runs worlds with
// Config.Ride on, clock rates within Ride.ClockRate, a peer channel (sim_peer_test.go) and
// faults that blind whole clusters, cut nodes from their peers and from the API separately,
// for long enough that rides reach their cap and revokers their unacknowledged wait.

var simRide = flag.String("sim.ride", "mixed", "ride-through worlds: mixed (seeds 2 and 3 mod 4), on (every seed) or off")

// simRideTimings: the ride-through's default timings with the nftables fence (the cap is
// drawn per seed, small so that runs reach it), and a longer lease with kernel lifetimes.
var simRideTimings = []Config{
	{LeaseDuration: 2 * time.Second, RenewDeadline: 1200 * time.Millisecond, RetryPeriod: 400 * time.Millisecond,
		MinLifetime: 10 * time.Millisecond, KernelSlack: 100 * time.Millisecond, KernelLateness: 50 * time.Millisecond,
		Ride: RideConfig{Cap: 4 * time.Second}},
	{LeaseDuration: 8 * time.Second, RenewDeadline: 6 * time.Second, RetryPeriod: time.Second,
		Ride: RideConfig{Cap: 10 * time.Second}},
}

// rideSeed reports whether seed runs a ride world. In mixed mode the classic seeds (0 and 1
// mod 4) keep both classic timings (seed mod 2) and draw exactly what they drew before the
// ride-through existed.
func rideSeed(seed uint64) bool {
	switch *simRide {
	case "on":
		return true
	case "off":
		return false
	}
	return seed%4 >= 2
}

// pickConfig sets the world's timings: classic, or a ride world (the 2s lease twice as
// often as the 8s one, as it is the ride-through's default).
func (w *simWorld) pickConfig() {
	w.ride = rideSeed(w.seed)
	if !w.ride {
		w.cfg = simTimings[w.seed%uint64(len(simTimings))]
		return
	}
	i := w.rng.IntN(3) / 2
	w.cfg = simRideTimings[i]
	if i == 0 {
		w.cfg.Ride.Cap = w.uniform(4*time.Second, 10*time.Second)
	}
	w.stats.ride.seeds++
}

// faultPhase is how long the faults go on: 60-150 s, or 40-100 s at the ride-through's
// 2 s lease (still 20-50 leases and several caps; its steps are three times as dense, and
// the default seed count must stay fast under -race).
func (w *simWorld) faultPhase() time.Duration {
	if w.ride && w.cfg.LeaseDuration < 5*time.Second {
		return time.Duration(40+w.rng.IntN(60)) * time.Second
	}
	return time.Duration(60+w.rng.IntN(90)) * time.Second
}

// drawDrift is a node's clock-rate error: within ±simDrift in classic worlds, within ±ρ in
// ride worlds (its safety argument assumes rates within ρ), a quarter of them at the bound.
func (w *simWorld) drawDrift() float64 {
	if !w.ride {
		return (w.rng.Float64()*2 - 1) * simDrift
	}
	rho := w.cfg.WithDefaults().Ride.ClockRate
	if w.rng.Float64() < 0.25 {
		return rho * float64(1-2*w.rng.IntN(2))
	}
	return (w.rng.Float64()*2 - 1) * rho
}

// faultLen is how long a fault lasts. Ride worlds need outages past RD + Cap (a ride
// reaching its cap) and past LD + Cap (a revoker's unacknowledged wait).
func (w *simWorld) faultLen() time.Duration {
	hi := 2 * w.cfg.LeaseDuration
	if w.ride {
		hi += w.cfg.Ride.Cap + w.cfg.RenewDeadline
	}
	return w.uniform(500*time.Millisecond, hi)
}

// rideFault injects, in a ride world, a fault of the peer channel or a cluster-wide blind
// spell; it returns false (most of the time) to leave the turn to the classic faults,
// whose API partition is "API cut but peers reachable".
func (w *simWorld) rideFault(n *simNode, long time.Duration) bool {
	switch k := w.rng.IntN(100); {
	case k < 10:
		w.cutPeers(n, w.allPeers(n), long) // peers cut only
	case k < 18:
		w.cutPeers(n, w.somePeers(n), long)
	case k < 26:
		n.partUntil, n.missed = max(n.partUntil, w.now+long), true // API and peers cut
		w.logf("%s: partitioned from the API until %.3f", n.id, n.partUntil.Seconds())
		w.after(long+w.uniform(0, time.Second), func() { w.relistIfCut(n) })
		w.cutPeers(n, w.allPeers(n), long)
	case k < 32:
		w.peerLossUntil, w.peerLoss = w.now+long, 0.2+0.7*w.rng.Float64()
		w.logf("peers: losing %.0f%% of messages until %.3f", 100*w.peerLoss, w.peerLossUntil.Seconds())
	case k < 36:
		w.peerSlowUntil, w.peerLag = w.now+long, w.uniform(100*time.Millisecond, w.cfg.RenewDeadline)
		w.logf("peers: delayed by up to %v until %.3f", w.peerLag, w.peerSlowUntil.Seconds())
	case k < 42:
		w.clusterBlind()
	case k < 44:
		w.isolateAndRestartOthers(n)
	case k < 46:
		w.joinDuringOutage(n)
	default:
		return false
	}
	return true
}

// clusterBlind takes the API server away from every node: every member vouches, and rides
// run into their cap. Half of the time nothing else happens meanwhile (an API outage, the
// ride-through's purpose: a ride reaches its cap only if no member crashes, freezes or is
// cut off for RD + Cap); otherwise the faults go on, crashing riders and members mid-ride.
func (w *simWorld) clusterBlind() {
	c := w.cfg
	d := w.uniform(c.RenewDeadline+c.Ride.Cap/2, c.RenewDeadline+c.Ride.Cap+2*c.LeaseDuration)
	quiet := w.rng.IntN(2) == 0
	if quiet {
		w.calmExcept(nil)
		w.quietUntil = w.now + d
	}
	w.apiDownUntil = max(w.apiDownUntil, w.now+d)
	w.logf("api: down (cluster blind, quiet=%v) until %.3f", quiet, w.apiDownUntil.Seconds())
}

// isolateAndRestartOthers cuts a holder of a wanted VIP record (n if none) from the API
// and its peers for about the unacknowledged wait, and restarts every other node: their
// new incarnations never get its acknowledgement, so a takeover from it has to wait out
// LD + X (rule 5). Every other fault ends, and no new one (not even a slow request) comes
// meanwhile: at ride timings two slow renewals in a row take a node's sight (Sight = RD),
// and regaining it restarts every wait (rule 2), so under the usual faults the
// unacknowledged wait would hardly ever run out.
func (w *simWorld) isolateAndRestartOthers(n *simNode) {
	if h := w.someHolder(); h != nil {
		n = h
	}
	uw := w.cfg.WithDefaults().UnackedWait()
	long := w.uniform(uw, 2*uw)
	w.calmExcept(n)
	w.quietUntil = w.now + long
	n.partUntil, n.missed = max(n.partUntil, w.now+long), true
	w.logf("%s: partitioned from the API until %.3f; the others restart; no other fault meanwhile", n.id, n.partUntil.Seconds())
	w.after(long+w.uniform(0, time.Second), func() { w.relistIfCut(n) })
	w.cutPeers(n, w.allPeers(n), long)
	for _, o := range w.nodes {
		if o != n && o.alive {
			o.crash()
			w.after(w.uniform(100*time.Millisecond, 3*time.Second), func() { w.restartIfDead(o) })
		}
	}
}

// joinDuringOutage makes j a node the holders do not know: it crashes, and once its
// presence is revoked every other node loses the API while j comes back as a new
// incarnation. The holders ride on each other's attestations without asking j, so j must
// wait LD + X (rule 5); their links return one by one, and an acknowledgement they then
// send j counts only for waits that begin after it (finding 2). Quiet, as for
// isolateAndRestartOthers.
func (w *simWorld) joinDuringOutage(j *simNode) {
	if !j.alive {
		return
	}
	j.crash()
	w.logf("%s: leaves, to join again during an outage once revoked", j.id)
	c := w.cfg.WithDefaults()
	w.awaitRevoked(j, w.now+3*(c.UnackedWait()+c.LeaseDuration))
}

// awaitRevoked polls the store until j's presence is revoked, then starts the outage (or,
// past the deadline, just restarts j).
func (w *simWorld) awaitRevoked(j *simNode, deadline time.Duration) {
	w.after(time.Second, func() {
		rec, _ := w.store.get(NodeRef(j.id))
		switch {
		case w.healed || j.alive:
		case rec.revoked():
			w.outageForJoin(j)
		case w.now < deadline:
			w.awaitRevoked(j, deadline)
		default:
			j.start()
		}
	})
}

func (w *simWorld) outageForJoin(j *simNode) {
	d := w.uniform(w.cfg.LeaseDuration, 2*w.cfg.WithDefaults().UnackedWait())
	w.calmExcept(nil)
	w.quietUntil = w.now + d
	for _, o := range w.nodes {
		if o != j && o.alive {
			o.partUntil, o.missed = w.now+w.uniform(d/2, d), true
			w.after(o.partUntil-w.now+w.uniform(0, time.Second), func() { w.relistIfCut(o) })
		}
	}
	w.logf("%s: joins while the others are cut from the API (quiet until %.3f)", j.id, w.quietUntil.Seconds())
	w.stats.ride.joins++
	j.start()
}

// someHolder is a live node that the store names as the holder of a wanted VIP.
func (w *simWorld) someHolder() *simNode {
	for _, ip := range w.vips {
		rec, _ := w.store.get(VIPRef(ip))
		if n := w.node(rec.Holder); n != nil && n.alive && w.wanted[ip] {
			return n
		}
	}
	return nil
}

// calmExcept ends every fault but those of n (nil: all). A frozen node thaws now, taking
// its queued events first, as when the faults stop.
func (w *simWorld) calmExcept(n *simNode) {
	w.apiDownUntil, w.apiSlowUntil, w.peerLossUntil, w.peerSlowUntil = 0, 0, 0, 0
	for _, o := range w.nodes {
		if o == n {
			continue
		}
		o.partUntil, o.forbidUntil, o.planeBadUntil, o.planeSlowUntil = 0, 0, 0, 0
		clear(o.peerCut)
		if o.frozen() {
			o.frozenUntil = w.now
			o.thaw()
		}
	}
}

// simRideStats counts what the ride-through did, to show the ride worlds reach its code.
type simRideStats struct {
	seeds                             int
	rounds, granted, relayed, vouched uint64 // RideStatus, summed over processes
	sends, received, dups             int    // peer messages
	relayWrites, relayLanded          int    // renewals written for a peer
	rideInstalls, rideEnds, capEnds   int    // installs past the fence; withdrawals at a ride's end
	unackedRevokes                    int    // revocations issued after the unacknowledged wait
	joins                             int    // nodes that joined during an outage (joinDuringOutage)
	// closest is the shortest time from another node's address expiring by its lifetime
	// to this VIP going up on a node where it was not up: how tight the fence runs.
	closest     time.Duration
	haveClosest bool
}

func (s *simRideStats) add(o simRideStats) {
	s.seeds += o.seeds
	s.rounds, s.granted, s.relayed, s.vouched = s.rounds+o.rounds, s.granted+o.granted, s.relayed+o.relayed, s.vouched+o.vouched
	s.sends, s.received, s.dups = s.sends+o.sends, s.received+o.received, s.dups+o.dups
	s.relayWrites, s.relayLanded = s.relayWrites+o.relayWrites, s.relayLanded+o.relayLanded
	s.rideInstalls, s.rideEnds, s.capEnds = s.rideInstalls+o.rideInstalls, s.rideEnds+o.rideEnds, s.capEnds+o.capEnds
	s.unackedRevokes, s.joins = s.unackedRevokes+o.unackedRevokes, s.joins+o.joins
	if o.haveClosest && (!s.haveClosest || o.closest < s.closest) {
		s.closest, s.haveClosest = o.closest, true
	}
}

// noteGap records, when ip goes up at n in a ride world, how long ago another node's
// address for it expired by its lifetime (a withdrawn address leaves no entry).
func (w *simWorld) noteGap(n *simNode, ip netip.Addr) {
	if until, up := n.addrs[ip]; !w.ride || (up && w.now < until) {
		return
	}
	s := &w.stats.ride
	for _, o := range w.nodes {
		if e, ok := o.addrs[ip]; ok && o != n && e <= w.now && (!s.haveClosest || w.now-e < s.closest) {
			s.closest, s.haveClosest = w.now-e, true
		}
	}
}

// exercised reports whether every part of the ride-through was reached at least once.
func (s simRideStats) exercised() bool {
	return s.granted > 0 && s.relayed > 0 && s.vouched > 0 && s.relayLanded > 0 && s.rideInstalls > 0 &&
		s.capEnds > 0 && s.unackedRevokes > 0
}

func (s simRideStats) String() string {
	return fmt.Sprintf("ride worlds %d: rounds %d, granted %d, vouches %d, relays credited %d (relay writes %d, landed %d); "+
		"installs past the fence %d, withdrawals at a ride's end %d (at the cap %d); unacknowledged revocations %d (joins during an outage %d); "+
		"peer messages sent %d, received %d, duplicated %d; closest takeover %v after a lifetime ended",
		s.seeds, s.rounds, s.granted, s.vouched, s.relayed, s.relayWrites, s.relayLanded,
		s.rideInstalls, s.rideEnds, s.capEnds, s.unackedRevokes, s.joins, s.sends, s.received, s.dups, s.closest)
}

// retire adds the ending process's ride counters (a restart starts them afresh).
func (n *simNode) retire() {
	if n.core == nil || !n.w.ride {
		return
	}
	rs := n.core.RideStatus()
	s := &n.w.stats.ride
	s.rounds, s.granted, s.relayed, s.vouched = s.rounds+rs.Rounds, s.granted+rs.Granted, s.relayed+rs.Relayed, s.vouched+rs.Vouched
}

// noteRide counts, as the shell executes it, what an action shows of the ride-through.
func (n *simNode) noteRide(a Action) {
	if !n.w.ride {
		return
	}
	c, s := n.core, &n.w.stats.ride
	switch a := a.(type) {
	case Install:
		if c.self.ride.After(c.self.fence) {
			s.rideInstalls++
		}
	case Uninstall:
		if a.Reason == ReasonRideEnded {
			s.rideEnds++
			if strings.Contains(c.rd.ended, "cap") {
				s.capEnds++
			}
		}
	case Write:
		switch {
		case a.Ref.Kind == KindNode && a.Op == OpRenew && a.Ref.Node != n.id:
			s.relayWrites++
		case a.Op == OpRevoke:
			if p := c.peers[a.Ref.Node]; p != nil && !c.ackedBy(p) {
				s.unackedRevokes++
			}
		}
	}
}

// retireAll counts the processes still running at the end of a run.
func (w *simWorld) retireAll() {
	for _, n := range w.nodes {
		if n.alive {
			n.retire()
		}
	}
}

// announcing reports whether some address of n is up now.
func (n *simNode) announcing() bool {
	for _, until := range n.addrs {
		if n.w.now < until {
			return true
		}
	}
	return false
}
