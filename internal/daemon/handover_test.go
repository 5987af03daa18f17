package daemon_test

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/controller"
	"github.com/vipkeeper/vipkeeper/internal/daemon"
	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
)

func TestDaemon_ForbiddenNodeKeepsTryingSlowlyAndLeadsOnceAllowed(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c := newCluster(t, tm, []netip.Addr{vip}, three...)
		defer c.shutdown()
		a := c.node("a")
		a.mode = daemontest.Forbidden
		c.startAll(wantsFor(c.vips, "a")) // only a may serve the VIP
		const outage = 5 * time.Minute
		time.Sleep(outage)

		tries := c.hist.Events(func(e event) bool {
			return e.Node == "a" && (e.Kind == daemontest.KindWrite || e.Kind == daemontest.KindRead)
		})
		t.Logf("%d attempts in %v under 403", len(tries), outage)
		for _, e := range tries[:min(6, len(tries))] {
			t.Logf("  %s", e)
		}
		c.checkRamp(tries, time.Now().Add(-outage+time.Minute))
		if p := a.notes.Problems(); len(p) == 0 || p[0] != "LeasePermissionDenied" {
			t.Errorf("problems reported %v, want LeasePermissionDenied", p)
		}
		if hs := c.holders(vip); len(hs) > 0 {
			t.Errorf("holders %v while the only candidate is forbidden", hs)
		}

		a.store.SetMode(daemontest.OK)
		fixed := time.Now()
		time.Sleep(tm.ld + tm.rp)
		add, ok := c.hist.First(and(of("a", daemontest.KindAdd), after(fixed)))
		if !ok {
			t.Fatalf("a did not announce after the 403 stopped\n%s", c.hist.Tail(20))
		}
		t.Logf("a announced %v after the 403 stopped", add.At.Sub(fixed))
		if took := add.At.Sub(fixed); took > tm.ld {
			t.Errorf("a announced %v after the 403 stopped, want within LeaseDuration (the backoff cap)", took)
		}
		c.soleHolder(vip)
	})
}

// checkRamp checks that attempts under a permanent error ramp up and never stop: each
// comes RetryPeriod/4 to LeaseDuration after the one before, never sooner than that one
// did, and once ramped (from steady on) there is about one per LeaseDuration.
func (c *cluster) checkRamp(tries []event, steady time.Time) {
	c.t.Helper()
	var prev time.Duration
	late := 0
	for i := 1; i < len(tries); i++ {
		gap := tries[i].At.Sub(tries[i-1].At)
		if gap < c.tm.rp/4 || gap > c.tm.ld || gap < prev {
			c.t.Errorf("attempt %d came %v after the one before (which came %v after its own), want a ramp within [RetryPeriod/4, LeaseDuration]", i, gap, prev)
		}
		prev = gap
		if !tries[i].At.Before(steady) {
			late++
		}
	}
	if most := int(time.Since(steady)/c.tm.ld) + 1; late > most || late == 0 {
		c.t.Errorf("%d attempts in the %v after the ramp, want 1 to %d (one per LeaseDuration)", late, time.Since(steady), most)
	}
}

func TestDaemon_GracefulStopWithdrawsThenReleasesAndASuccessorAnnounces(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		if err := c.stop(leader); err != nil {
			t.Errorf("stop: %v", err)
		}
		rel := c.withdrewThen(leader, bubbleStart, election.OpRelease)
		time.Sleep(tm.ld)
		next, ok := c.hist.First(and(of("", daemontest.KindAdd), after(rel.At)))
		if !ok {
			t.Fatalf("no successor announced after the release\n%s", c.hist.Tail(20))
		}
		// The controller does not re-rank a node that stops, but the releaser's place does
		// not count (Want.Ahead): the best-ranked remaining node takes it with no spread.
		rest := slices.DeleteFunc(slices.Clone(three), func(n string) bool { return n == leader.name })
		if want := ranked(vip, rest)[0]; next.Node != want {
			t.Errorf("successor %s, want the best-ranked remaining node %s", next.Node, want)
		}
		took := next.At.Sub(rel.Done)
		t.Logf("successor %s announced %v after the release (target 500ms)", next.Node, took)
		if took > 500*time.Millisecond {
			t.Errorf("successor announced %v after the release, want within 500ms", took)
		}
		if got := c.soleHolder(vip); got.name != next.Node {
			t.Errorf("holder %s, want %s", got.name, next.Node)
		}
	})
}

// withdrewThen checks that n withdrew the VIP (after from) and only then made a
// successful write of kind o, and returns that write.
func (c *cluster) withdrewThen(n *node, from time.Time, o election.Op) event {
	c.t.Helper()
	w, ok := c.hist.First(and(of(n.name, daemontest.KindRemove), after(from)))
	if !ok {
		c.t.Fatalf("%s did not withdraw\n%s", n.name, c.hist.Tail(20))
	}
	wr, ok := c.hist.First(and(of(n.name, daemontest.KindWrite), vipWrites, op(o), okEv, after(from)))
	if !ok {
		c.t.Fatalf("%s did not %s the Lease\n%s", n.name, o, c.hist.Tail(20))
	}
	if w.Seq > wr.Seq {
		c.t.Errorf("%s: %s (#%d) before withdrawing (#%d)", n.name, o, wr.Seq, w.Seq)
	}
	return wr
}

func TestDaemon_EligibilityMovesTheVIPAndAnUnwantedVIPsLeaseIsDeleted(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		rest := slices.DeleteFunc(slices.Clone(three), func(n string) bool { return n == leader.name })
		moved := time.Now()
		for _, n := range c.nodes { // the controller re-ranks over the new candidates
			c.setWants(n, wantsFor(c.vips, rest...)(n.name))
		}
		time.Sleep(tm.ld)
		rel := c.withdrewThen(leader, moved, election.OpRelease)
		next, ok := c.hist.First(and(of("", daemontest.KindAdd), after(moved)))
		if !ok || next.Node != ranked(vip, rest)[0] {
			t.Fatalf("announcer after the move %v, want %s\n%s", next, ranked(vip, rest)[0], c.hist.Tail(20))
		}
		took := next.At.Sub(rel.Done)
		t.Logf("%s announced %v after %s released", next.Node, took, leader.name)
		if took > 500*time.Millisecond {
			t.Errorf("%s announced %v after the release, want within 500ms", next.Node, took)
		}
		holder := c.soleHolder(vip)

		unwanted := time.Now()
		for _, n := range c.nodes {
			c.setWants(n, map[netip.Addr]daemon.Want{})
		}
		time.Sleep(tm.ld)
		del := c.withdrewThen(holder, unwanted, election.OpDelete)
		if l := c.lease(vip); l != nil {
			t.Errorf("Lease still exists: holder %q", holderOf(l))
		}
		if hs := c.holders(vip); len(hs) > 0 {
			t.Errorf("holders %v of an unwanted VIP", hs)
		}
		if evs := c.hist.Events(and(of("", daemontest.KindAdd), func(e event) bool { return e.Seq > del.Seq })); len(evs) > 0 {
			t.Errorf("announced an unwanted VIP: %v", evs)
		}
	})
}

func TestDaemon_ManyVIPsSpreadOverTheNodesByRank(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		var vips []netip.Addr
		for i := range 30 {
			vips = append(vips, netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}))
		}
		c := newCluster(t, tm, vips, three...)
		defer c.shutdown()
		c.startAll(wantsFor(vips, three...))
		time.Sleep(tm.ld)
		settled := time.Now()
		time.Sleep(2 * tm.ld)
		led := map[string]int{}
		for _, ip := range vips {
			hs := c.holders(ip)
			if want := ranked(ip, three)[0]; len(hs) != 1 || hs[0] != want {
				t.Errorf("%s: holders %v, want %s (rank 0)", ip, hs, want)
				continue
			}
			led[hs[0]]++
			if ch := c.changesSince(ip, settled); len(ch) > 0 {
				t.Errorf("%s: holder changed after settling: %v", ip, ch)
			}
		}
		t.Logf("VIPs led per node: %v", led)
		for _, n := range three {
			if led[n] == 0 {
				t.Errorf("node %s leads none of %d VIPs: %v", n, len(vips), led)
			}
		}
		if evs := c.hist.Events(of("", daemontest.KindRemove)); len(evs) > 0 {
			t.Errorf("withdrawals: %v", evs[:min(3, len(evs))])
		}
	})
}

func TestDaemon_RestartedLeaderRenewsItsOwnLeaseAtOnce(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		c.afterRenew(leader)
		c.crash(leader)
		crashed := time.Now()
		if !leader.kernel.Holds(vip) {
			t.Errorf("a killed process's VIP must stay until its lifetime ends")
		}
		time.Sleep(tm.rp)
		c.restart(leader)
		restarted := time.Now()
		time.Sleep(tm.ld)
		add, ok := c.hist.First(and(of("", daemontest.KindAdd), after(crashed)))
		if !ok || add.Node != leader.name {
			t.Fatalf("first announcer after the restart %v, want %s\n%s", add, leader.name, c.hist.Tail(20))
		}
		t.Logf("%s announced again %v after restarting", leader.name, add.At.Sub(restarted))
		if took := add.At.Sub(restarted); took > tm.rp {
			t.Errorf("restarted leader announced after %v, want within RetryPeriod (it renews its own Lease at once)", took)
		}
		if got := c.soleHolder(vip); got != leader {
			t.Errorf("holder %s, want %s", got.name, leader.name)
		}
	})
}

// A node whose kernel refuses the VIP (a foreign copy on its interface) says so with a
// CannotAnnounce problem (an Event on the Service in the real notifier), gives the VIP up,
// and another node serves it; the refusing node never announces it meanwhile.
func TestDaemon_ANodeThatCannotInstallReportsItAndAnotherServes(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c := newCluster(t, tm, []netip.Addr{vip}, three...)
		defer c.shutdown()
		var bad *node // the best-ranked node, which would take the VIP first
		for _, name := range three {
			if len(controller.Ahead(name, vip, three)) == 0 {
				bad = c.node(name)
			}
		}
		bad.kernel.SetFail(func(op string, _ netip.Addr) error {
			if op == "add" {
				return fmt.Errorf("a copy of the VIP that is not ours: %w", announce.ErrForeign)
			}
			return nil
		})
		c.startAll(wantsFor(c.vips, three...))
		time.Sleep(tm.ld + 2*tm.rp)
		if p := bad.notes.Problems(); !slices.Contains(p, daemon.ProblemCannotAnnounce) {
			t.Errorf("%s reported %v, want %s", bad.name, p, daemon.ProblemCannotAnnounce)
		}
		hs := c.holders(vip)
		if len(hs) != 1 || hs[0] == bad.name {
			t.Errorf("holders %v, want one node other than %s\n%s", hs, bad.name, c.hist.Tail(20))
		}
		if bad.kernel.Holds(vip) {
			t.Errorf("%s holds the VIP its kernel refused", bad.name)
		}
	})
}
