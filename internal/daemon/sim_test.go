package daemon_test

import (
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
)

// Seeds of the randomized simulation: DAEMON_SIM_SEEDS raises the count, DAEMON_SIM_SEED
// runs one seed.
const defaultSimSeeds = 100

func simSeeds(t *testing.T) (first, n uint64) {
	first, n = 1, defaultSimSeeds
	if testing.Short() {
		n = 10
	}
	if v := os.Getenv("DAEMON_SIM_SEEDS"); v != "" {
		c, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			t.Fatalf("DAEMON_SIM_SEEDS=%q: %v", v, err)
		}
		n = c
	}
	if v := os.Getenv("DAEMON_SIM_SEED"); v != "" {
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("DAEMON_SIM_SEED=%q: %v", v, err)
		}
		first, n = s, 1
	}
	return first, n
}

// TestDaemon_RandomFaultsNeverMakeTwoAnnouncersAndHealOnceCalm runs three daemons on two
// VIPs through random faults (per-node transient errors, hung API, 403, replies lost after
// the write landed, writes landing after the caller gave up, partitions, SIGKILL-like crashes with restarts, graceful stops,
// per-node eligibility and wants, cluster-wide outages), then calm. No VIP may ever be on
// two nodes' kernels (checked at every Add and every 50 ms), and once calm every VIP must
// be announced by one eligible node within the bound and stay there.
func TestDaemon_RandomFaultsNeverMakeTwoAnnouncersAndHealOnceCalm(t *testing.T) {
	first, n := simSeeds(t)
	var worst time.Duration
	for seed := first; seed < first+n; seed++ {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			bubble(t, func(t *testing.T) { worst = max(worst, runSim(t, seed)) })
		})
	}
	t.Logf("%d seeds; slowest recovery after calm: %v (DAEMON_SIM_SEED=n reruns one)", n, worst)
}

type sim struct {
	*cluster
	rng     *lockedRand
	upAt    map[*node]time.Time // a down node starts again then
	crashed map[*node]bool      // down by SIGKILL (else by SIGTERM)
	outage  time.Time           // a cluster-wide outage ends then
}

// runSim runs one seed and returns how long after calm the VIPs took to settle.
func runSim(t *testing.T, seed uint64) time.Duration {
	rng := newLockedRand(seed)
	tm := timings[seed%uint64(len(timings))]
	vips := []netip.Addr{vip, netip.MustParseAddr("2001:db8::7")}
	s := &sim{cluster: newCluster(t, tm, vips, three...), rng: rng,
		upAt: map[*node]time.Time{}, crashed: map[*node]bool{}}
	s.cluster.rng = rng.child()
	defer s.shutdown()
	s.startAll(wantsFor(vips, three...))
	calmAt := time.Now().Add(time.Duration(4+rng.IntN(5)) * tm.ld)
	for time.Now().Before(calmAt) {
		time.Sleep(time.Duration(rng.IntN(int(3*tm.rp/2/time.Millisecond))) * time.Millisecond)
		s.wakeUp()
		s.inject()
	}
	eligible, calm := s.calm()
	// docs/design.md's liveness bound: a request stuck at calm runs out its timeout (at most
	// LD), its backoff ends, a peer's presence may need LD to lapse, plus the spread
	bound := tm.ld + 2*tm.ld + 2*tm.rp + time.Duration(len(three))*tm.spread() + 200*time.Millisecond
	time.Sleep(bound + 2*tm.ld)
	var took time.Duration
	for _, ip := range vips {
		took = max(took, s.checkHealed(ip, eligible, calm, bound))
	}
	if os.Getenv("DAEMON_SIM_TRACE") != "" {
		s.t.Logf("faults:\n%s\nhistory:\n%s", s.faults(), s.hist.Tail(1000))
	}
	s.t.Logf("%v of faults, %d injected; %d announcements, %d withdrawals, %d writes (%d failed)",
		calm.Sub(bubbleStart), len(s.trace), len(s.hist.Events(of("", daemontest.KindAdd))),
		len(s.hist.Events(of("", daemontest.KindRemove))), len(s.hist.Events(of("", daemontest.KindWrite))),
		len(s.hist.Events(and(of("", daemontest.KindWrite), func(e event) bool { return !e.OK() }))))
	return took
}

// checkHealed: after calm+bound the holder of ip never changed, and it is one eligible
// node. It returns when the holder last changed, after calm.
func (s *sim) checkHealed(ip netip.Addr, eligible []string, calm time.Time, bound time.Duration) time.Duration {
	hs := s.holders(ip)
	ch := s.changesSince(ip, calm)
	last := calm
	if len(ch) > 0 {
		last = ch[len(ch)-1].at
	}
	ok := len(hs) == 1 && contains(eligible, hs[0])
	if !ok || last.Sub(calm) > bound {
		s.t.Errorf("%s: calm at %v, eligible %v: holders now %v, holder changes after calm %v (bound %v)\nfaults:\n%s\nhistory:\n%s\nlog:\n%s",
			ip, calm.Sub(bubbleStart), eligible, hs, ch, bound, s.faults(), s.hist.Tail(50), s.logs.String())
		return 0
	}
	return last.Sub(calm)
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *sim) pick() *node { return s.nodes[s.rng.IntN(len(s.nodes))] }

func (s *sim) up(n *node) bool { return n.d != nil }

// inject applies one random fault.
func (s *sim) inject() {
	n := s.pick()
	switch r := s.rng.IntN(100); {
	case r < 30:
		m := []daemontest.Mode{daemontest.OK, daemontest.OK, daemontest.Transient, daemontest.Hang,
			daemontest.LandsTimesOut, daemontest.LandsLate, daemontest.Forbidden}[s.rng.IntN(7)]
		s.setMode(n, m)
	case r < 42:
		s.partition(n, !s.partitioned(n))
	case r < 52:
		s.down(n, true)
	case r < 57:
		s.down(n, false)
	case r < 75:
		s.randomWants(n)
	case r < 80:
		s.clusterOutage()
	default:
		s.setMode(n, daemontest.OK)
		s.partition(n, false)
	}
}

func (s *sim) setMode(n *node, m daemontest.Mode) {
	n.mode = m
	if s.up(n) {
		late := time.Duration(s.rng.IntN(int(s.tm.rp/time.Millisecond))) * time.Millisecond
		n.store.SetLateBy(late)
		n.store.SetMode(m)
		s.tracef("%s store %s (late by %v)", n.name, m, late)
	}
}

func (s *sim) partitioned(n *node) bool { return s.up(n) && n.mode == daemontest.Hang && n.src.Cut() }

// partition cuts n off the API (its store hangs, its informer gets nothing) or heals it.
func (s *sim) partition(n *node, on bool) {
	if !s.up(n) {
		return
	}
	if on {
		s.setMode(n, daemontest.Hang)
	} else if n.mode == daemontest.Hang {
		s.setMode(n, daemontest.OK)
	}
	if n.src.Cut() != on {
		s.tracef("%s partition %v", n.name, on)
		n.src.Partition(on)
	}
}

// down kills (SIGKILL) or stops (SIGTERM) n for up to two LeaseDurations.
func (s *sim) down(n *node, kill bool) {
	if !s.up(n) {
		return
	}
	s.tracef("%s down (kill=%v)", n.name, kill)
	if kill {
		s.crash(n)
	} else if err := s.stop(n); err != nil {
		s.tracef("%s stop: %v", n.name, err)
	}
	s.crashed[n] = kill
	s.upAt[n] = time.Now().Add(time.Duration(s.rng.IntN(int(2*s.tm.ld/time.Millisecond))) * time.Millisecond)
}

// wakeUp restarts the nodes whose downtime is over and ends a cluster-wide outage.
func (s *sim) wakeUp() {
	now := time.Now()
	for n, at := range s.upAt {
		if !now.Before(at) {
			s.bringUp(n)
		}
	}
	if !s.outage.IsZero() && !now.Before(s.outage) {
		s.outage = time.Time{}
		for _, n := range s.nodes {
			s.setMode(n, daemontest.OK)
		}
	}
}

func (s *sim) bringUp(n *node) {
	delete(s.upAt, n)
	n.mode = daemontest.OK
	s.tracef("%s up", n.name)
	if s.crashed[n] {
		s.restart(n)
		return
	}
	s.start(n)
}

// randomWants gives n its own view of the VIPs: some unwanted, some not eligible, random
// ranks (the nodes' controllers need not agree).
func (s *sim) randomWants(n *node) {
	w := map[netip.Addr]daemon.Want{}
	for _, ip := range s.vips {
		switch r := s.rng.IntN(10); {
		case r < 1:
			continue
		case r < 4:
			w[ip] = daemon.Want{Wanted: true}
		default:
			w[ip] = daemon.Want{Wanted: true, Eligible: true, Rank: s.rng.IntN(3)}
		}
	}
	s.tracef("%s wants %v", n.name, w)
	s.setWants(n, w)
}

// clusterOutage makes every node's API calls fail or hang for up to 1.5 LeaseDurations.
func (s *sim) clusterOutage() {
	m := daemontest.Transient
	if s.rng.IntN(2) == 0 {
		m = daemontest.Hang
	}
	s.outage = time.Now().Add(time.Duration(s.rng.IntN(int(3*s.tm.ld/2/time.Millisecond))) * time.Millisecond)
	for _, n := range s.nodes {
		s.setMode(n, m)
	}
}

// calm ends every fault: all nodes up and healed, every VIP wanted everywhere, a random
// non-empty set of nodes eligible with rendezvous ranks. It returns that set and when.
func (s *sim) calm() ([]string, time.Time) {
	s.outage = time.Time{}
	for _, n := range s.nodes {
		if !s.up(n) {
			s.bringUp(n)
		}
		s.partition(n, false)
		s.setMode(n, daemontest.OK)
	}
	var eligible []string
	for _, name := range three {
		if s.rng.IntN(10) < 7 {
			eligible = append(eligible, name)
		}
	}
	if len(eligible) == 0 {
		eligible = []string{three[s.rng.IntN(3)]}
	}
	for _, n := range s.nodes {
		s.setWants(n, wantsFor(s.vips, eligible...)(n.name))
	}
	s.tracef("calm; eligible %v", eligible)
	return eligible, time.Now()
}
