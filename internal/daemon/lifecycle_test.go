package daemon_test

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/daemon/daemontest"
	"github.com/vipkeeper/vipkeeper/internal/election"
	"github.com/vipkeeper/vipkeeper/internal/lease"
)

func TestDaemon_StaleInformerEventsDoNotRestartTheCandidateWait(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		c, leader := settle(t, tm)
		defer c.shutdown()
		// Early versions of the VIP's and the leader's presence records; informers may
		// deliver such late.
		oldVIP, oldNode := election.VIPRef(vip), election.NodeRef(leader.name)
		vipRec, vipRV := c.record(oldVIP)
		nodeRec, nodeRV := c.record(oldNode)
		c.afterRenew(leader)
		cut := time.Now()
		leader.store.SetMode(daemontest.Hang)
		leader.src.Partition(true)
		for range int((tm.ld + 2*tm.rp) / (tm.rp / 2)) {
			time.Sleep(tm.rp / 2)
			for _, n := range c.nodes {
				n.src.Inject(oldVIP, vipRec, vipRV)
				n.src.Inject(oldNode, nodeRec, nodeRV)
			}
		}
		a, ok := c.hist.First(and(of("", daemontest.KindAdd), notNode(leader.name), after(cut)))
		if !ok {
			t.Fatalf("no successor within LeaseDuration+2 RetryPeriod while stale events arrived\n%s", c.hist.Tail(20))
		}
		t.Logf("successor %s announced %v after the cut", a.Node, a.At.Sub(cut))
	})
}

func TestDaemon_WantsArrivingDuringStopStartNoElector(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		vip2 := netip.MustParseAddr("198.51.100.8")
		c := newCluster(t, tm, []netip.Addr{vip, vip2}, "a")
		defer c.shutdown()
		c.startAll(wantsFor([]netip.Addr{vip}, "a"))
		time.Sleep(tm.rp)
		a := c.soleHolder(vip)
		a.store.SetModeFor(lease.Name(vip), daemontest.Hang) // the release takes a while
		d := a.d
		a.cancel() // SIGTERM: withdraw, then release, which hangs for a while
		time.Sleep(tm.rp / 4)
		select {
		case err := <-a.done:
			t.Fatalf("stopped before the test could act: %v", err)
		default:
		}
		d.SetWants(wantsFor([]netip.Addr{vip, vip2}, "a")("a")) // the controller is late
		err := <-a.done
		t.Logf("Run returned %v at %v", err, clock())
		a.d = nil
		if err != nil {
			t.Errorf("stop: %v", err)
		}
		if evs := c.hist.Events(func(e event) bool { return e.VIP == vip2 || e.Lease == lease.Name(vip2) }); len(evs) > 0 {
			t.Errorf("a stopping daemon took up a new VIP: %v", evs)
		}
		if l := c.lease(vip2); l != nil {
			t.Errorf("a stopping daemon created Lease %s held by %q", l.Name, holderOf(l))
		}
	})
}

// A data-plane pass of seconds (a node acquiring or refreshing thousands of IPv6 VIPs:
// each address change costs the kernel time linear in the namespace's addresses) must not
// hold up the presence renewals, which are due every retry period: the loop runs the plane
// in slices between its inputs. (All 80 are acquired at once, so one pass installs them
// all; it takes half the renew deadline, more than a retry period, and the refreshes stay
// within what the plane can do.)
func TestDaemon_ALongDataPlanePassDoesNotHoldUpThePresenceRenewals(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		vips := make([]netip.Addr, 80) // the fake watch channel holds 100 events
		for i := range vips {
			vips[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		}
		c := newCluster(t, tm, vips, "a")
		defer c.shutdown()
		a := c.node("a")
		c.tune = func(ec *election.Config) { ec.MaxInflight = 2 * len(vips) }
		per := tm.rd / 2 / time.Duration(len(vips))
		a.kernel.SetFail(func(op string, _ netip.Addr) error {
			if op == "add" {
				time.Sleep(per)
			}
			return nil
		})
		c.startAll(wantsFor(vips, "a"))
		time.Sleep(3 * tm.rd)
		if rm := c.hist.Events(of("a", daemontest.KindRemove)); len(rm) > 0 {
			t.Errorf("%d withdrawals while the VIPs went up, first %v", len(rm), rm[0])
		}
		var down []netip.Addr
		for _, ip := range vips {
			if !a.kernel.Holds(ip) {
				down = append(down, ip)
			}
		}
		if len(down) > 0 {
			t.Errorf("%d of %d VIPs up after %v; %v is down:\n%v", len(vips)-len(down), len(vips), 3*tm.rd, down[0],
				c.hist.Events(func(e event) bool { return e.VIP == down[0] || e.Lease == lease.Name(down[0]) }))
		}
		renews := c.hist.Events(and(of("a", daemontest.KindWrite), claimed))
		for i := 1; i < len(renews); i++ {
			if gap := renews[i].At.Sub(renews[i-1].At); gap > tm.rp+tm.rp/4 {
				t.Errorf("presence renewals %v apart (retry period %v): %v then %v", gap, tm.rp, renews[i-1], renews[i])
				break
			}
		}
	})
}

// Held VIPs stay up while a long line of new ones waits for a slow data plane: their
// lifetime refreshes take turns with the new installs instead of queueing behind them
// (in one queue, the refreshes waited behind 70 installs and the held VIPs expired).
func TestDaemon_HeldVIPsStayUpWhileManyNewOnesQueue(t *testing.T) {
	inBubbles(t, func(t *testing.T, tm timing) {
		vips := make([]netip.Addr, 80) // the fake watch channel holds 100 events
		for i := range vips {
			vips[i] = netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		}
		held, later := vips[:10], vips[10:]
		c := newCluster(t, tm, vips, "a")
		defer c.shutdown()
		a := c.node("a")
		c.tune = func(ec *election.Config) { ec.MaxInflight = 2 * len(vips) }
		c.startAll(wantsFor(held, "a"))
		time.Sleep(tm.rd)
		for _, ip := range held {
			if !a.kernel.Holds(ip) {
				t.Fatalf("%v not up after %v", ip, tm.rd)
			}
		}
		// the first add of each new VIP takes 1.5 RD / 70: the installs take longer than a
		// refresh cycle, so every held VIP's refresh comes due while they run
		per := 3 * tm.rd / 2 / time.Duration(len(later))
		var mu sync.Mutex
		added := map[netip.Addr]bool{}
		a.kernel.SetFail(func(op string, ip netip.Addr) error {
			mu.Lock()
			first := op == "add" && !added[ip] && !slices.Contains(held, ip)
			added[ip] = true
			mu.Unlock()
			if first {
				time.Sleep(per)
			}
			return nil
		})
		since := time.Now()
		c.setWants(a, wantsFor(vips, "a")("a"))
		time.Sleep(5 * tm.rd / 2)
		for _, ip := range held {
			if ch := c.changesSince(ip, since); len(ch) > 0 {
				t.Errorf("held %v changed while %d new VIPs queued: %v\n%v", ip, len(later), ch,
					c.hist.Events(func(e event) bool { return e.VIP == ip }))
			}
		}
		for _, ip := range later {
			if !a.kernel.Holds(ip) {
				t.Errorf("new %v not up after %v", ip, 5*tm.rd/2)
				break
			}
		}
	})
}
