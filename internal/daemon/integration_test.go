package daemon_test

import (
	"net/netip"
	"os"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"

	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
	"github.com/vipkeeper/vipkeeper/internal/testenv"
)

// The integration tests run three daemons in this process against a real kube-apiserver
// and etcd (internal/testenv), in real time with the fast timings 5s/3s/1s. They skip when
// the binaries are missing, unless $CI is set. Waits are generous bounds, not targets; the
// measured figures are logged.

var shared = testenv.NewShared(testenv.Options{})

func TestMain(m *testing.M) { os.Exit(shared.Run(m)) }

var fast = timings[1]

// slack is what a busy two-core machine may add to a bound in real time.
const slack = 10 * time.Second

func newRealCluster(t *testing.T) (*cluster, *testenv.Env) {
	return newRealClusterOf(t, []netip.Addr{vip})
}

func newRealClusterOf(t *testing.T, vips []netip.Addr) (*cluster, *testenv.Env) {
	return newRealClusterTimed(t, fast, vips)
}

func newRealClusterTimed(t *testing.T, tm timing, vips []netip.Addr) (*cluster, *testenv.Env) {
	if testing.Short() {
		t.Skip("runs for seconds of real time against kube-apiserver; skipped with -short")
	}
	env := shared.Env(t)
	namespace := env.Namespace(t)
	admin, err := kubernetes.NewForConfig(env.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	store := func(node string) daemontest.LeaseStore {
		lc, err := lease.NewClient(env.AdminConfig(), lease.ClientConfig{QPS: 50, Burst: 100, Timeout: tm.rd})
		if err != nil {
			t.Fatal(err)
		}
		s, err := lease.New(lease.Config{Client: lc.CoordinationV1(), Namespace: namespace, Identity: node, Duration: tm.ld})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	watch := func() daemontest.LeaseSource { return lease.NewSource(admin, namespace) }
	c := buildCluster(t, tm, namespace, admin, store, watch, vips, three)
	t.Cleanup(c.shutdown)
	c.startAll(wantsFor(c.vips, three...))
	return c, env
}

// waitFor polls cond every 10ms until it holds, failing t after limit; it returns how long
// it took.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return time.Since(start)
}

// waitLeader waits for one node to announce vip and returns it.
func (c *cluster) waitLeader() *node {
	c.t.Helper()
	took := waitFor(c.t, slack+c.tm.ld, "a leader", func() bool { return len(c.holders(vip)) == 1 })
	n := c.soleHolder(vip)
	c.t.Logf("%s leads after %v", n.name, took)
	return n
}

// waitRenew returns right after n's next successful renew.
func (c *cluster) waitRenew(n *node) {
	c.t.Helper()
	last := c.lastClaim(n.name)
	waitFor(c.t, slack, n.name+" renews", func() bool { return c.lastClaim(n.name).After(last) })
}

// checkLease compares the Lease with what kubectl would show after the failovers seen:
// holderIdentity, leaseDurationSeconds and leaseTransitions (one per takeover of a held
// record: a change of announcer, as these tests release nothing).
func (c *cluster) checkLease(holder string) {
	c.t.Helper()
	l := c.lease(vip)
	if l == nil {
		c.t.Fatalf("Lease %s/%s is missing", c.ns, lease.Name(vip))
	}
	takeovers, last := 0, ""
	for _, e := range c.hist.Events(of("", daemontest.KindAdd)) {
		if last != "" && e.Node != last {
			takeovers++
		}
		last = e.Node
	}
	var d, tr int32 = -1, 0 // a Lease never taken over has no leaseTransitions
	if l.Spec.LeaseDurationSeconds != nil {
		d = *l.Spec.LeaseDurationSeconds
	}
	if l.Spec.LeaseTransitions != nil {
		tr = *l.Spec.LeaseTransitions
	}
	c.t.Logf("lease: holderIdentity=%q leaseDurationSeconds=%d leaseTransitions=%d (announcer changes %d)", holderOf(l), d, tr, takeovers)
	if holderOf(l) != holder || d != int32(c.tm.ld/time.Second) || tr != int32(takeovers) {
		c.t.Errorf("lease holder %q duration %ds transitions %d, want %q, %v, %d", holderOf(l), d, tr, holder, c.tm.ld, takeovers)
	}
}

func TestIntegration_EtcdFrozenShorterThanRenewDeadlineChangesNothing(t *testing.T) {
	c, env := newRealCluster(t)
	leader := c.waitLeader()
	c.waitRenew(leader)
	start := time.Now()
	env.Proxy().Freeze()
	t.Cleanup(env.Proxy().Resume)
	time.Sleep(fast.rd / 2)
	env.Proxy().Resume()
	time.Sleep(fast.ld + fast.rp)
	// As c.steady, except that a dark moment is only logged: in real time the kernel
	// lifetime, floor(Until-now), is RenewDeadline-1s after each renew, so a renew that the
	// freeze delays by more than a second lets the address lapse for a moment.
	if evs := c.hist.Events(and(of("", daemontest.KindRemove), after(start))); len(evs) > 0 {
		t.Errorf("withdrawals: %v", evs)
	}
	if evs := c.hist.Events(and(of("", daemontest.KindAdd), notNode(leader.name), after(start))); len(evs) > 0 {
		t.Errorf("other announcers: %v", evs)
	}
	if got := c.soleHolder(vip); got != leader {
		t.Errorf("holder %s, want %s", got.name, leader.name)
	}
	if ch := c.changesSince(vip, start); len(ch) > 0 {
		t.Logf("sampled holder changes (the address lapsed): %v", ch)
	}
	var failed int
	var slowest time.Duration
	for _, e := range c.hist.Events(and(of(leader.name, daemontest.KindWrite), after(start))) {
		slowest = max(slowest, e.Done.Sub(e.At))
		if !e.OK() {
			failed++
		}
	}
	t.Logf("etcd frozen %v: %d of the leader's writes failed, the slowest took %v; no withdrawal", fast.rd/2, failed, slowest)
	if slowest < 100*time.Millisecond {
		t.Errorf("no write of the leader's was held by the freeze (slowest %v)", slowest)
	}
	c.checkLease(leader.name)
}

func TestIntegration_EtcdFrozenLongerThanLeaseDurationWithdrawsInTimeAndRecovers(t *testing.T) {
	c, env := newRealCluster(t)
	leader := c.waitLeader()
	c.waitRenew(leader)
	frozen := time.Now()
	env.Proxy().Freeze()
	t.Cleanup(env.Proxy().Resume)
	time.Sleep(fast.ld + 2*time.Second)
	resumed := time.Now()
	env.Proxy().Resume()
	took := waitFor(t, fast.rp+fast.ld+slack, "an announcement after resume", func() bool {
		_, ok := c.hist.First(and(of("", daemontest.KindAdd), after(resumed)))
		return ok
	})
	a, _ := c.hist.First(and(of("", daemontest.KindAdd), after(resumed)))
	t.Logf("after resume %s announced in %v (bound RetryPeriod+LeaseDuration = %v)", a.Node, took, fast.rp+fast.ld)

	w, ok := c.hist.First(and(of(leader.name, daemontest.KindRemove), after(frozen)))
	if !ok || !w.At.Before(resumed) {
		t.Fatalf("the leader did not withdraw while etcd was frozen: %v\n%s", w, c.hist.Tail(30))
	}
	fence, _ := c.hist.Last(and(of(leader.name, daemontest.KindAdd), before(w.At)))
	// The issue time of the write that set the fence: Until is the fence plus the slack.
	issued := fence.Until.Add(-fast.rd - election.DefaultKernelSlack(fast.ld, fast.rd))
	t.Logf("leader withdrew %v after its last confirmed write was issued (fence %v, %v late)",
		w.At.Sub(issued), fast.rd, w.At.Sub(fence.Until))
	if w.At.Sub(issued) >= fast.ld {
		t.Errorf("leader withdrew %v after its last renew, not before LeaseDuration %v", w.At.Sub(issued), fast.ld)
	}
	time.Sleep(fast.rp)
	c.checkLease(c.soleHolder(vip).name)
}

func TestIntegration_LeaderCutOffFromTheAPIWithdrawsBeforeASuccessorAnnounces(t *testing.T) {
	c, _ := newRealCluster(t)
	leader := c.waitLeader()
	c.waitRenew(leader)
	cut := time.Now()
	leader.store.SetMode(daemontest.Hang)
	leader.src.Partition(true)
	waitFor(t, fast.ld+fast.rp+slack, "a successor", func() bool {
		_, ok := c.hist.First(and(of("", daemontest.KindAdd), notNode(leader.name), after(cut)))
		return ok
	})
	a, _ := c.hist.First(and(of("", daemontest.KindAdd), notNode(leader.name), after(cut)))
	w, ok := c.hist.First(and(of(leader.name, daemontest.KindRemove), after(cut)))
	if !ok || !w.Done.Before(a.At) {
		t.Fatalf("old leader's withdrawal %v is not before the successor's announcement %v\n%s", w, a, c.hist.Tail(30))
	}
	s := c.lastClaimBefore(leader.name, cut)
	t.Logf("old leader withdrew %v after its last renew; %s announced %v after it, %v after the withdrawal",
		w.At.Sub(s), a.Node, a.At.Sub(s), a.At.Sub(w.Done))
	c.checkLease(a.Node)

	limit := s.Add(fast.rd + election.DefaultKernelSlack(fast.ld, fast.rd))
	for _, e := range c.hist.Events(and(of(leader.name, daemontest.KindAdd), after(cut))) {
		if e.Seq < w.Seq && e.Until.After(limit) {
			t.Errorf("the old leader set a lifetime past its fence + slack %v: %v", limit, e)
		}
	}
	leader.store.SetMode(daemontest.OK)
	leader.src.Partition(false)
	time.Sleep(fast.ld)
	if evs := c.hist.Events(and(of(leader.name, daemontest.KindAdd), afterSeq(w.Seq))); len(evs) > 0 {
		t.Errorf("the old leader announced again after it withdrew: %v", evs)
	}
	if got := c.soleHolder(vip); got.name != a.Node {
		t.Errorf("holder %s, want %s", got.name, a.Node)
	}
}

func TestIntegration_StoppedLeaderReleasesAndASuccessorAnnounces(t *testing.T) {
	c, _ := newRealCluster(t)
	leader := c.waitLeader()
	start := time.Now()
	if err := c.stop(leader); err != nil {
		t.Errorf("stop: %v", err)
	}
	t.Logf("graceful stop took %v", time.Since(start))
	rel := c.withdrewThen(leader, start, election.OpRelease)
	waitFor(t, slack, "a successor", func() bool {
		_, ok := c.hist.First(and(of("", daemontest.KindAdd), after(rel.At)))
		return ok
	})
	a, _ := c.hist.First(and(of("", daemontest.KindAdd), after(rel.At)))
	k := rank(a.Node, vip, three)
	t.Logf("%s (rank %d) announced %v after the release returned (target 500ms; its spread wait is %v)",
		a.Node, k, a.At.Sub(rel.Done), time.Duration(k)*fast.spread())
	if l := c.lease(vip); holderOf(l) != a.Node {
		t.Errorf("lease holder %q, want %s", holderOf(l), a.Node)
	}
}

// etcd answering slowly (latency on every round trip, not an outage): every Lease write
// takes longer than a retry period, so a renewal cancelled at its retry period (the old
// per-attempt timeout) would never land. A renewal runs until shortly before the fence it
// would set, is credited from its issue time, and the next goes max(RP, its latency) after it,
// so the leader keeps the VIP throughout (issue: a slow etcd is not a dead etcd). A renewal costs kube-apiserver one etcd round trip, or two when its watch
// cache lags behind the previous renewal (the try on the cached copy conflicts and it reads
// etcd), and the fence holds while twice the write latency is less than the renew deadline
// (docs/design.md, "A slow etcd"): 2 x 2 x 1.2 s < 6 s.
func TestIntegration_SlowEtcdLongerThanTheRetryPeriodPerRequestChangesNothing(t *testing.T) {
	tm := timing{"slow-etcd", 8 * time.Second, 6 * time.Second, time.Second, false}
	c, env := newRealClusterTimed(t, tm, []netip.Addr{vip})
	leader := c.waitLeader()
	c.waitRenew(leader)
	start := time.Now()
	const perTrip = 1200 * time.Millisecond // added to each etcd round trip; RP is 1s
	env.Proxy().Delay(perTrip / 2)
	t.Cleanup(func() { env.Proxy().Delay(0) })
	time.Sleep(4 * tm.rd)
	env.Proxy().Delay(0)
	time.Sleep(tm.rp)
	if evs := c.hist.Events(and(of("", daemontest.KindRemove), after(start))); len(evs) > 0 {
		t.Errorf("withdrawals while etcd was slow: %v\n%s", evs, c.hist.Tail(30))
	}
	if evs := c.hist.Events(and(of("", daemontest.KindAdd), notNode(leader.name), after(start))); len(evs) > 0 {
		t.Errorf("other announcers: %v", evs)
	}
	var slow, landed int
	var slowest time.Duration
	for _, e := range c.hist.Events(and(of(leader.name, daemontest.KindWrite), claimed, after(start))) {
		landed++
		if d := e.Done.Sub(e.At); d > tm.rp {
			slow++
			slowest = max(slowest, d)
		}
	}
	t.Logf("etcd slowed by %v per round trip for %v: %d renewals landed, %d of them took longer than the retry period (slowest %v)",
		perTrip, 4*tm.rd, landed, slow, slowest)
	if slow == 0 {
		t.Errorf("no renewal took longer than the retry period: the latency did not reach the writes")
	}
	if got := c.soleHolder(vip); got != leader {
		t.Errorf("holder %s, want %s", got.name, leader.name)
	}
}

// A node holding many VIPs is cut off from the API: it withdraws all of them at its fence,
// one revocation of its presence frees them all, and the other nodes take every one;
// no VIP is ever on two nodes (the harness checks at every Add and every 50 ms).
func TestIntegration_AHolderOfManyVIPsCutOffLosesThemAllAndTheOthersTakeThemAll(t *testing.T) {
	var vips []netip.Addr
	for i := range 24 {
		vips = append(vips, netip.AddrFrom4([4]byte{198, 51, 100, byte(20 + i)}))
	}
	c, _ := newRealClusterOf(t, vips)
	waitFor(t, slack+fast.ld, "every VIP announced", func() bool {
		for _, ip := range vips {
			if len(c.holders(ip)) != 1 {
				return false
			}
		}
		return true
	})
	held := map[string][]netip.Addr{}
	for _, ip := range vips {
		h := c.holders(ip)[0]
		held[h] = append(held[h], ip)
	}
	victim := c.node(ranked(vips[0], three)[0])
	for _, n := range three {
		if len(held[n]) > len(held[victim.name]) {
			victim = c.node(n)
		}
	}
	mine := held[victim.name]
	t.Logf("VIPs per node %v; cutting %s off (%d VIPs)", counts(held), victim.name, len(mine))
	c.waitRenew(victim)
	cut := time.Now()
	victim.store.SetMode(daemontest.Hang)
	victim.src.Partition(true)
	took := waitFor(t, fast.ld+fast.rp+slack, "every VIP of the cut node elsewhere", func() bool {
		for _, ip := range mine {
			if hs := c.holders(ip); len(hs) != 1 || hs[0] == victim.name {
				return false
			}
		}
		return true
	})
	revokes := c.hist.Events(and(of("", daemontest.KindWrite), op(election.OpRevoke), okEv, after(cut)))
	t.Logf("all %d VIPs served elsewhere %v after the cut, with %d revocation(s) of %s's presence",
		len(mine), took, len(revokes), victim.name)
	if len(revokes) != 1 {
		t.Errorf("%d successful revocations, want exactly one for all %d VIPs", len(revokes), len(mine))
	}
	for _, ip := range mine {
		w, ok := c.hist.First(and(of(victim.name, daemontest.KindRemove), after(cut), func(e event) bool { return e.VIP == ip }))
		a, ok2 := c.hist.First(and(of("", daemontest.KindAdd), notNode(victim.name), after(cut), func(e event) bool { return e.VIP == ip }))
		if !ok || !ok2 || w.Seq > a.Seq {
			t.Errorf("%s: withdrawal %v must come before the successor's %v", ip, w, a)
		}
	}
}

func counts(m map[string][]netip.Addr) map[string]int {
	out := map[string]int{}
	for k, v := range m {
		out[k] = len(v)
	}
	return out
}
