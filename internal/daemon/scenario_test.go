package daemon_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
)

var (
	vip   = netip.MustParseAddr("198.51.100.7")
	three = []string{"a", "b", "c"}
)

// settle starts three eligible nodes for vip and returns the one that leads after
// LeaseDuration: the node ranked first, which creates the Lease at once.
func settle(t *testing.T, tm timing) (*cluster, *node) {
	c := newCluster(t, tm, []netip.Addr{vip}, three...)
	c.startAll(wantsFor(c.vips, three...))
	time.Sleep(tm.ld)
	leader := c.soleHolder(vip)
	if want := ranked(vip, three)[0]; leader.name != want {
		t.Errorf("leader %s, want %s (rank 0)", leader.name, want)
	}
	return c, leader
}

// steady asserts that since t nobody withdrew vip, nobody but leader announced it, the
// sampled holder never changed, and leader holds it now.
func (c *cluster) steady(leader *node, since time.Time) {
	c.t.Helper()
	if evs := c.hist.Events(and(of("", daemontest.KindRemove), after(since))); len(evs) > 0 {
		c.t.Errorf("withdrawals since %v: %v", since.Sub(bubbleStart), evs)
	}
	if evs := c.hist.Events(and(of("", daemontest.KindAdd), notNode(leader.name), after(since))); len(evs) > 0 {
		c.t.Errorf("other announcers since %v: %v", since.Sub(bubbleStart), evs)
	}
	if ch := c.changesSince(vip, since); len(ch) > 0 {
		c.t.Errorf("holder changed since %v: %v", since.Sub(bubbleStart), ch)
	}
	if got := c.soleHolder(vip); got != leader {
		c.t.Errorf("holder %s, want %s", got.name, leader.name)
	}
}

func TestDaemon_ExactlyOneOfThreeNodesAnnouncesAndKeepsIt(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		first, _ := c.hist.First(of("", daemontest.KindAdd))
		t.Logf("%s announced %v after start", first.Node, first.At.Sub(bubbleStart))
		if evs := c.hist.Events(of("", daemontest.KindAdd)); len(evs) == 0 || evs[0].Node != leader.name {
			t.Errorf("first announcer %v, want %s", evs[:min(1, len(evs))], leader.name)
		}
		settled := time.Now()
		time.Sleep(4 * tm.ld)
		c.steady(leader, settled)
		if n := len(c.hist.Events(and(of(leader.name, daemontest.KindWrite), claimed, after(settled)))); n < int(4*tm.ld/tm.rp)-1 {
			t.Errorf("%d presence renews in %v, want one every %v", n, 4*tm.ld, tm.rp)
		}
		if evs := c.hist.Events(and(vipWrites, after(settled))); len(evs) > 0 {
			t.Errorf("VIP Lease written in steady state (only ownership changes may write it): %v", evs)
		}
	})
}

func TestDaemon_APIOutageShorterThanRenewDeadlineChangesNothing(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		c.afterRenew(leader)
		start := time.Now()
		c.setModes(daemontest.Transient)
		// Survivable: the next attempt after the outage comes within RetryPeriod (the
		// backoff cap), before RenewDeadline after the last renew.
		time.Sleep(tm.rd - tm.rp - time.Millisecond)
		c.setModes(daemontest.OK)
		time.Sleep(2 * tm.ld)
		c.steady(leader, start)
		failed := c.hist.Events(and(of(leader.name, daemontest.KindWrite), after(start), func(e event) bool { return !e.OK() }))
		if len(failed) == 0 {
			t.Errorf("the outage did not reach the leader's writes")
		}
	})
}

func TestDaemon_APIOutageLongerThanLeaseDurationWithdrawsAtTheDeadlineAndRecovers(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		c.afterRenew(leader)
		outage := time.Now()
		c.setModes(daemontest.Transient)
		time.Sleep(tm.ld + tm.rp)
		recovered := time.Now()
		c.setModes(daemontest.OK)
		time.Sleep(2 * tm.ld)

		w := c.fenced(leader, outage)
		if w.At.After(recovered) {
			t.Errorf("leader withdrew at %v, after the API recovered at %v", w.At.Sub(bubbleStart), recovered.Sub(bubbleStart))
		}
		dark := c.hist.Events(and(of("", daemontest.KindAdd), after(w.At), before(recovered)))
		if len(dark) > 0 {
			t.Errorf("announced while the API was down: %v", dark)
		}
		a, ok := c.hist.First(and(of("", daemontest.KindAdd), after(recovered)))
		if !ok {
			t.Fatalf("nobody announced after the API recovered\n%s", c.hist.Tail(40))
		}
		took := a.At.Sub(recovered)
		t.Logf("after recovery %s announced in %v (bound RetryPeriod+LeaseDuration+2 spread)", a.Node, took)
		if bound := tm.rp + tm.ld + 2*tm.spread(); took > bound {
			t.Errorf("announced %v after recovery, bound %v", took, bound)
		}
		c.soleHolder(vip)
	})
}

// fenced finds n's first withdrawal after from and checks it came no later than
// RenewDeadline after the issue of n's last successful write.
func (c *cluster) fenced(n *node, from time.Time) event {
	c.t.Helper()
	w, ok := c.hist.First(and(of(n.name, daemontest.KindRemove), after(from)))
	if !ok {
		c.t.Fatalf("%s never withdrew\n%s", n.name, c.hist.Tail(40))
	}
	s := c.lastClaimBefore(n.name, w.At)
	c.t.Logf("%s withdrew %v after issuing its last successful write (RenewDeadline %v)", n.name, w.At.Sub(s), c.tm.rd)
	if w.At.After(s.Add(c.tm.rd)) {
		c.t.Errorf("%s withdrew at %v, %v after its last successful write: later than RenewDeadline %v",
			n.name, w.At.Sub(bubbleStart), w.At.Sub(s), c.tm.rd)
	}
	return w
}

// withinFence checks that n's adds between the cut and its withdrawal w (lifetime
// refreshes) never set a kernel lifetime past the fence of its last successful write s
// plus the slack.
func (c *cluster) withinFence(n *node, s, cut time.Time, w event) {
	c.t.Helper()
	limit := s.Add(c.tm.rd + election.DefaultKernelSlack(c.tm.ld, c.tm.rd))
	for _, e := range c.hist.Events(and(of(n.name, daemontest.KindAdd), after(cut))) {
		if e.Seq < w.Seq && e.Until.After(limit) {
			c.t.Errorf("%s set a lifetime until %v, past its fence + slack %v: %v", n.name,
				e.Until.Sub(bubbleStart), limit.Sub(bubbleStart), e)
		}
	}
}

func (c *cluster) setModes(m daemontest.Mode) {
	for _, n := range c.nodes {
		n.store.SetMode(m)
	}
}

func TestDaemon_PartitionedLeaderWithdrawsBeforeASuccessorAnnounces(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		c.afterRenew(leader)
		cut := time.Now()
		leader.store.SetMode(daemontest.Hang)
		leader.src.Partition(true)
		time.Sleep(tm.ld + 2*tm.rp)

		w := c.fenced(leader, cut)
		a, ok := c.hist.First(and(of("", daemontest.KindAdd), notNode(leader.name), after(cut)))
		if !ok {
			t.Fatalf("no successor announced\n%s", c.hist.Tail(40))
		}
		if !w.At.Before(a.At) || w.Seq > a.Seq {
			t.Errorf("old leader withdrew at %v (#%d), successor %s announced at %v (#%d)",
				w.At.Sub(bubbleStart), w.Seq, a.Node, a.At.Sub(bubbleStart), a.Seq)
		}
		s := c.lastClaimBefore(leader.name, cut.Add(time.Millisecond))
		t.Logf("successor %s announced %v after the old leader's last renew, %v after it withdrew",
			a.Node, a.At.Sub(s), a.At.Sub(w.At))
		if took, bound := a.At.Sub(s), tm.ld+tm.rp; took > bound {
			t.Errorf("successor announced %v after the last renew, bound LeaseDuration+RetryPeriod = %v", took, bound)
		}

		c.withinFence(leader, s, cut, w)
		leader.store.SetMode(daemontest.OK)
		leader.src.Partition(false)
		time.Sleep(2 * tm.ld)
		if evs := c.hist.Events(and(of(leader.name, daemontest.KindAdd), afterSeq(w.Seq))); len(evs) > 0 {
			t.Errorf("the old leader announced again after it withdrew: %v", evs)
		}
		if got := c.soleHolder(vip); got.name != a.Node {
			t.Errorf("holder %s, want the successor %s", got.name, a.Node)
		}
		if l := c.lease(vip); holderOf(l) != a.Node || l.Spec.LeaseTransitions == nil || *l.Spec.LeaseTransitions != 1 {
			t.Errorf("lease holder %q transitions %v, want %s and 1", holderOf(l), l.Spec.LeaseTransitions, a.Node)
		}
	})
}

func TestDaemon_AmbiguousWritesThatLandedAreKept(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		c.afterRenew(leader)
		start := time.Now()
		rv := c.lease(vip).ResourceVersion
		leader.store.SetMode(daemontest.LandsTimesOut)
		time.Sleep(3 * tm.ld)
		leader.store.SetMode(daemontest.OK)
		time.Sleep(tm.ld)
		c.steady(leader, start)
		landed := c.hist.Events(and(of(leader.name, daemontest.KindWrite), claimed,
			func(e event) bool { return e.Mode == daemontest.LandsTimesOut }))
		if least := int(3*tm.ld/tm.rp) - 2; len(landed) < least {
			t.Errorf("%d presence renews landed with a lost reply, want at least %d", len(landed), least)
		}
		if l := c.lease(vip); l.ResourceVersion != rv || holderOf(l) != leader.name {
			t.Errorf("VIP lease rv %s holder %q; want it untouched (rv %s, %s): only presence is renewed", l.ResourceVersion, holderOf(l), rv, leader.name)
		}
	})
}
