package election

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

var (
	simSeeds = flag.Int("sim.seeds", 500, "model seeds to run")
	simSeed  = flag.Uint64("sim.seed", 0, "run only this model seed (0: all)")
)

// TestModel_NeverTwoAnnouncersAndNeverDarkOnceCalm runs the randomized model: 3-5 electors
// share one CAS store through a network that delays, drops and reorders; writes land after
// their timeout; nodes are partitioned, frozen, crashed, restarted, stopped, forbidden (403)
// and have their clocks stepped back; the API server hangs or slows down; eligibility
// changes at random. At every announcement no other node's address may be up (its kernel
// lifetime counts, also after a crash). After the faults stop, some eligible node must
// announce within the proven bound (simBound) and keep announcing to the end.
func TestModel_NeverTwoAnnouncersAndNeverDarkOnceCalm(t *testing.T) {
	seeds := *simSeeds
	if testing.Short() {
		seeds = 50
	}
	first, last := uint64(1), uint64(seeds)
	if *simSeed != 0 {
		first, last = *simSeed, *simSeed
	}
	var worst, worstBound time.Duration
	var stats simStats
	for seed := first; seed <= last; seed++ {
		w := newSimWorld(seed)
		w.run()
		if w.fail != "" {
			t.Fatalf("seed %d: %s\nreproduce: go test ./internal/election/ -run TestModel -sim.seed=%d\nlast events:\n%s",
				seed, w.fail, seed, w.trace.String())
		}
		if r := w.recovered - w.heal; float64(r)/float64(w.bound) > float64(worst)/float64(max(worstBound, 1)) {
			worst, worstBound = r, w.bound
		}
		stats.add(w.stats)
	}
	t.Logf("%d seeds; closest to the bound: dark for %v after faults stopped (bound %v)", last-first+1, worst, worstBound)
	t.Logf("steps %d, writes applied %d (%d after their timeout), announcement starts %d",
		stats.steps, stats.writes, stats.lateLandings, stats.takeovers)
	t.Logf("write results %v; withdrawals %v", stats.results, stats.stepDowns)
}

// simTimings: client-go's defaults and kube-vip's fast manifest timings.
var simTimings = []Config{
	{LeaseDuration: 15 * time.Second, RenewDeadline: 10 * time.Second, RetryPeriod: 2 * time.Second,
		SpreadDelay: time.Second, AttemptTimeout: 2 * time.Second},
	{LeaseDuration: 5 * time.Second, RenewDeadline: 3 * time.Second, RetryPeriod: time.Second,
		SpreadDelay: 500 * time.Millisecond, AttemptTimeout: time.Second},
}

func newSimWorld(seed uint64) *simWorld {
	w := &simWorld{seed: seed, rng: rand.New(rand.NewPCG(seed, 0x5eed))}
	w.stats.add(simStats{})
	w.cfg = simTimings[seed%uint64(len(simTimings))]
	w.heal = time.Duration(60+w.rng.IntN(60)) * time.Second
	w.end = w.heal + 4*w.cfg.LeaseDuration
	nn := 3 + w.rng.IntN(3)
	for i := range nn {
		n := &simNode{w: w, idx: i, id: fmt.Sprintf("n%d", i), rank: i, eligible: true, wanted: true}
		n.drift = (w.rng.Float64()*2 - 1) * simDrift
		w.nodes = append(w.nodes, n)
		w.after(w.uniform(0, time.Second), n.start)
	}
	w.after(0, w.injectFault)
	w.after(w.heal, w.stopFaults)
	w.recovered = w.heal
	return w
}

// simDrift is the clock rate error each node may have (both signs).
const simDrift = 0.01

// injectFault applies one random fault, then schedules the next until the faults stop.
func (w *simWorld) injectFault() {
	if w.healed {
		return
	}
	n := w.nodes[w.rng.IntN(len(w.nodes))]
	long := w.uniform(500*time.Millisecond, 2*w.cfg.LeaseDuration)
	switch k := w.rng.IntN(100); {
	case k < 10:
		if n.alive {
			n.crash()
			if w.chance(0.8) {
				w.after(w.uniform(500*time.Millisecond, 20*time.Second), func() { w.restartIfDead(n) })
			}
		}
	case k < 22:
		n.frozenUntil = max(n.frozenUntil, w.now+long)
		w.logf("%s: frozen until %.3f", n.id, n.frozenUntil.Seconds())
		w.after(long, n.thaw)
	case k < 37:
		n.partUntil = max(n.partUntil, w.now+long)
		w.logf("%s: partitioned until %.3f", n.id, n.partUntil.Seconds())
		w.after(long, func() { w.relist(n) })
	case k < 42:
		n.forbidUntil = w.now + long
		w.logf("%s: forbidden (403) until %.3f", n.id, n.forbidUntil.Seconds())
	case k < 49:
		w.apiDownUntil = w.now + long
		w.logf("api: down until %.3f", w.apiDownUntil.Seconds())
	case k < 57:
		w.apiSlowUntil = w.now + long
		w.logf("api: slow until %.3f", w.apiSlowUntil.Seconds())
	case k < 80:
		w.reconsider(n)
	case k < 85:
		w.stepClockBack(n)
	case k < 90:
		if n.alive && !n.stopping {
			n.stopping = true
			w.logf("%s: SIGTERM", n.id)
			n.deliver(n.inc, StopRequested{})
		}
	case k < 95:
		w.injectStale(n)
	default:
		n.deliver(n.inc, Ticked{}) // a spurious wake-up
	}
	w.after(w.uniform(200*time.Millisecond, 4*time.Second), w.injectFault)
}

func (w *simWorld) restartIfDead(n *simNode) {
	if !n.alive && !w.healed {
		n.start()
	}
}

// reconsider changes n's candidacy as a controller would (sometimes the VIP goes unwanted).
func (w *simWorld) reconsider(n *simNode) {
	n.eligible = w.chance(0.75)
	n.wanted = w.chance(0.85)
	n.rank = w.rng.IntN(len(w.nodes))
	w.logf("%s: eligible=%v wanted=%v rank=%d", n.id, n.eligible, n.wanted, n.rank)
	n.eligAfter(w.uniform(0, 500*time.Millisecond))
}

func (w *simWorld) stepClockBack(n *simNode) {
	d := w.uniform(time.Millisecond, time.Hour)
	n.off -= d
	w.logf("%s: wall clock stepped back %v", n.id, d)
}

// injectStale delivers an old version of the Lease out of order.
func (w *simWorld) injectStale(n *simNode) {
	if h := w.store.history; len(h) > 0 {
		rec := h[w.rng.IntN(len(h))]
		w.logf("%s: stale observation %s", n.id, rec)
		n.observeAfter(w.uniform(0, 100*time.Millisecond), rec)
	}
}

// relist is the informer resyncing after a partition: the current state, once.
func (w *simWorld) relist(n *simNode) {
	if n.cut() {
		return
	}
	rec, _ := w.store.current()
	n.observeAfter(w.uniform(time.Millisecond, 40*time.Millisecond), rec)
}
