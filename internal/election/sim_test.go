package election

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"
)

var (
	simSeeds = flag.Int("sim.seeds", 300, "model seeds to run")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this model seed (0: all)")
)

// TestModel_NeverTwoAnnouncersAndEveryVIPServedOnceCalm runs the randomized model: 3-5
// nodes and 2-4 VIPs share one API server through a network that delays, drops and
// reorders (presence renewals overlap and land in any order); writes land after their
// timeout; the API server hangs or slows down by seconds per request; nodes are
// partitioned, frozen, crashed and restarted (new incarnations), stopped, forbidden (403),
// have their clocks stepped back and their data plane failing (installs, removals and the
// start-up sweep); an administrator deletes records; wants and eligibility change. At every
// install no other node's address for the VIP may be up (kernel lifetimes count, also after
// a crash). After the faults stop, every wanted VIP with a candidate must be announced
// within the bound (simBound) and stay announced to the end.
//
// Half the seeds (-sim.ride) run ride-through worlds (sim_ride_test.go): Config.Ride on at
// 2s/1.2s/0.4s with the nftables fence and a cap of 4-10 s, or at 8s/6s/1s with kernel
// lifetimes and a 10 s cap; clock rates within Ride.ClockRate; a peer channel that delays,
// loses, duplicates and reorders, with peer partitions apart from API partitions
// (sim_peer_test.go); and faults that blind the whole cluster long enough for rides to
// reach their cap and revokers their unacknowledged wait. The invariant is the same.
func TestModel_NeverTwoAnnouncersAndEveryVIPServedOnceCalm(t *testing.T) {
	seeds := *simSeeds
	if testing.Short() {
		seeds = 30
	}
	first, last := uint64(1), uint64(seeds)
	if *simSeed != 0 {
		first, last = *simSeed, *simSeed
	}
	var stats simStats
	var worst time.Duration
	for seed := first; seed <= last; seed++ {
		w := newSimWorld(seed)
		w.run()
		w.retireAll()
		w.checkLiveness()
		if w.fail != "" {
			t.Fatalf("seed %d: %s\nreproduce: go test ./internal/election/ -run TestModel -sim.seed=%d -v\nlast events:\n%s",
				seed, w.fail, seed, w.trace.String())
		}
		worst = max(worst, w.recovered)
		stats.add(w.stats)
	}
	t.Logf("%d seeds; longest dark time after the faults stopped, over the bound: %v", last-first+1, worst)
	t.Logf("steps %d, writes applied %d (%d after their timeout), installs %d, revocations %d",
		stats.steps, stats.writes, stats.lateLandings, stats.installs, stats.revokes)
	t.Logf("refusals %d, failed removals %d, failed sweeps %d, admin deletes %d; ops %v",
		stats.refusals, stats.removeFails, stats.sweepFails, stats.adminDeletes, stats.ops)
	if last-first >= 50 && (stats.revokes == 0 || stats.installs == 0 || stats.lateLandings == 0) {
		t.Errorf("the model exercised too little: %+v", stats)
	}
	if stats.ride.seeds > 0 {
		t.Logf("%v", stats.ride)
	}
	if last-first >= 50 && stats.ride.seeds > 0 && !stats.ride.exercised() {
		t.Errorf("the ride worlds exercised the ride-through too little: %v", stats.ride)
	}
}

// simTimings: client-go's defaults and kube-vip's fast manifest timings.
var simTimings = []Config{
	{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second},
	{LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second},
}

// simDrift is the clock rate error each node may have (both signs).
const simDrift = 0.01

func newSimWorld(seed uint64) *simWorld {
	w := &simWorld{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed)), wanted: map[netip.Addr]bool{},
		darkSince: map[netip.Addr]time.Duration{}}
	w.store.recs = map[Ref]simRec{}
	w.stats.add(simStats{})
	w.pickConfig()
	w.heal = w.faultPhase()
	w.end = w.heal + 6*w.cfg.LeaseDuration
	if w.ride {
		// the VIPs must stay served through one unacknowledged wait after calm: a
		// revocation timed by it that began before calm would come then (simBound)
		w.end += w.cfg.WithDefaults().UnackedWait()
	}
	for i := range 2 + w.rng.IntN(3) {
		ip := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		w.vips = append(w.vips, ip)
		w.wanted[ip] = true
	}
	for i := range 3 + w.rng.IntN(3) {
		n := &simNode{w: w, idx: i, id: fmt.Sprintf("n%d", i), addrs: map[netip.Addr]time.Duration{}}
		n.drift = w.drawDrift()
		w.nodes = append(w.nodes, n)
	}
	for _, n := range w.nodes {
		n.peerCut = make([]time.Duration, len(w.nodes))
	}
	w.initWants()
	for _, n := range w.nodes {
		w.after(w.uniform(0, time.Second), n.start)
	}
	w.after(0, w.injectFault)
	w.after(w.heal, w.stopFaults)
	return w
}

// simWants: per VIP, the rendezvous order and which nodes are eligible.
type simWant struct {
	order    []int
	eligible map[int]bool
}

func (w *simWorld) initWants() {
	w.wants = map[netip.Addr]*simWant{}
	for _, ip := range w.vips {
		sw := &simWant{order: w.rng.Perm(len(w.nodes)), eligible: map[int]bool{}}
		for i := range w.nodes {
			sw.eligible[i] = w.rng.Float64() < 0.8
		}
		w.wants[ip] = sw
	}
}

// want is what node n's controller says of ip: candidates are the eligible nodes, ranked by
// the VIP's order.
func (w *simWorld) want(n *simNode, ip netip.Addr) WantChanged {
	sw := w.wants[ip]
	wc := WantChanged{VIP: ip, Want: Want{Wanted: w.wanted[ip], Eligible: sw.eligible[n.idx]}}
	for _, i := range sw.order {
		if i == n.idx {
			break
		}
		if sw.eligible[i] {
			wc.Ahead = append(wc.Ahead, w.nodes[i].id)
		}
	}
	wc.Rank = len(wc.Ahead)
	return wc
}

// refs lists every record the informer lists: every VIP's and every node's.
func (w *simWorld) refs() []Ref {
	var out []Ref
	for _, ip := range w.vips {
		out = append(out, VIPRef(ip))
	}
	for _, n := range w.nodes {
		out = append(out, NodeRef(n.id))
	}
	return out
}

// injectFault applies one random fault, then schedules the next until the faults stop.
func (w *simWorld) injectFault() {
	if w.healed {
		return
	}
	if w.now >= w.quietUntil { // else a fault that needs calm is under way (isolateAndRestartOthers)
		n := w.nodes[w.rng.IntN(len(w.nodes))]
		long := w.faultLen()
		if !w.ride || !w.rideFault(n, long) {
			w.nodeFault(n, long)
		}
	}
	w.after(w.uniform(200*time.Millisecond, 4*time.Second), w.injectFault)
}

// nodeFault applies one of the classic faults to n (or to the API server, or the wants).
func (w *simWorld) nodeFault(n *simNode, long time.Duration) {
	switch k := w.rng.IntN(100); {
	case k < 8:
		w.crashNode(n)
	case k < 18:
		n.frozenUntil = max(n.frozenUntil, w.now+long)
		w.logf("%s: frozen until %.3f", n.id, n.frozenUntil.Seconds())
		w.after(long, n.thaw)
	case k < 30:
		n.partUntil = max(n.partUntil, w.now+long)
		n.missed = true
		w.logf("%s: partitioned until %.3f", n.id, n.partUntil.Seconds())
		w.after(long+w.uniform(0, time.Second), func() { w.relistIfCut(n) })
	case k < 34:
		n.forbidUntil = w.now + long
		w.logf("%s: forbidden (403) until %.3f", n.id, n.forbidUntil.Seconds())
	case k < 40:
		w.apiDownUntil = w.now + long
		w.logf("api: down until %.3f", w.apiDownUntil.Seconds())
	case k < 48:
		w.apiSlowUntil, w.slowBy = w.now+long, w.uniform(200*time.Millisecond, w.cfg.RenewDeadline)
		w.logf("api: slowed by up to %v until %.3f", w.slowBy, w.apiSlowUntil.Seconds())
	case k < 54:
		n.planeBadUntil = w.now + long
		w.logf("%s: data plane failing until %.3f", n.id, n.planeBadUntil.Seconds())
	case k < 72:
		w.reconsider()
	case k < 76:
		w.stepClockBack(n)
	case k < 80:
		w.sigterm(n)
	case k < 85:
		w.adminDelete()
	case k < 90:
		n.planeSlowUntil, n.planeLag = w.now+long, w.uniform(100*time.Millisecond, w.cfg.RenewDeadline)
		w.logf("%s: data plane queue lags up to %v until %.3f", n.id, n.planeLag, n.planeSlowUntil.Seconds())
	default:
		n.deliver(n.proc, Ticked{}) // a spurious wake-up
	}
}

func (w *simWorld) crashNode(n *simNode) {
	if !n.alive {
		return
	}
	n.crash()
	if w.rng.Float64() < 0.8 {
		w.after(w.uniform(500*time.Millisecond, 20*time.Second), func() { w.restartIfDead(n) })
	}
}

func (w *simWorld) restartIfDead(n *simNode) {
	if !n.alive {
		n.start()
	}
}

func (w *simWorld) relistIfCut(n *simNode) {
	if n.alive && !n.cut() && n.missed {
		n.relist()
	}
}

func (w *simWorld) sigterm(n *simNode) {
	if n.alive && !n.stopping {
		n.stopping = true
		w.logf("%s: SIGTERM", n.id)
		n.deliver(n.proc, StopRequested{})
	}
}

func (w *simWorld) stepClockBack(n *simNode) {
	d := w.uniform(time.Millisecond, time.Hour)
	n.off -= d
	w.logf("%s: wall clock stepped back %v", n.id, d)
}

// reconsider changes what the controllers want: a VIP's eligibility, rank order or whether
// it is wanted; each node's controller learns it after its own delay.
func (w *simWorld) reconsider() {
	ip := w.vips[w.rng.IntN(len(w.vips))]
	sw := w.wants[ip]
	switch w.rng.IntN(3) {
	case 0:
		i := w.rng.IntN(len(w.nodes))
		sw.eligible[i] = !sw.eligible[i]
	case 1:
		sw.order = w.rng.Perm(len(w.nodes))
	default:
		w.wanted[ip] = w.rng.Float64() < 0.7
	}
	w.logf("wants %s: wanted=%v eligible=%v order=%v", ip, w.wanted[ip], sw.eligible, sw.order)
	w.tellWants(ip)
}

func (w *simWorld) tellWants(ip netip.Addr) {
	for _, n := range w.nodes {
		proc := n.proc
		w.after(w.uniform(0, 500*time.Millisecond), func() {
			if n.alive && n.proc == proc {
				n.deliver(proc, w.want(n, ip))
			}
		})
	}
}

// adminDelete is `kubectl delete lease`: a VIP record with the finalizer only becomes
// terminating; a presence record goes at once.
func (w *simWorld) adminDelete() {
	refs := w.refs()
	r := refs[w.rng.IntN(len(refs))]
	cur, ok := w.store.recs[r]
	if !ok {
		return
	}
	w.stats.adminDeletes++
	w.store.delete(r, cur)
	w.logf("admin: kubectl delete %s", r)
	w.changed(r)
}

// stopFaults ends every fault: nodes come back, the informers relist in order, wants settle.
func (w *simWorld) stopFaults() {
	w.healed = true
	w.gen++
	w.logf("faults stop")
	for _, n := range w.nodes {
		n.partUntil, n.forbidUntil, n.planeBadUntil, n.planeSlowUntil = 0, 0, 0, 0
		if n.frozen() {
			n.frozenUntil = w.now
			n.thaw()
		}
		if !n.alive {
			n.start()
		} else {
			n.relist()
		}
	}
	w.apiDownUntil, w.apiSlowUntil = 0, 0
	w.healPeers()
	for _, ip := range w.vips {
		w.tellWants(ip)
	}
	w.after(time.Millisecond, w.sample)
}
