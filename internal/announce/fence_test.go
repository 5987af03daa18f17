package announce

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"
)

// The two families every fence test runs for.
var fenceCases = []struct{ name, vip, cidr string }{
	{name: "ipv4 arp", vip: "198.51.100.7", cidr: "198.51.100.7/32"},
	{name: "ipv6 ndp", vip: "2001:db8::7", cidr: "2001:db8::7/128"},
}

// Issue 11: a frozen or killed daemon must stop answering before any successor may
// announce. Not refreshing is what a SIGSTOPped or killed holder does; the address stays
// (AddrSlack), the kernel's answers stop at Until.
func TestFence_KernelStopsAnsweringAtUntilThoughTheAddressStays(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			a := l.fenced(Config{})
			vip := addr(tc.vip)
			until := time.Now().Add(300 * time.Millisecond)
			if err := a.Add(t.Context(), Address{IP: vip, Until: until}); err != nil {
				t.Fatalf("Add: %v", err)
			}
			held := l.answers(vip, 5*time.Millisecond, until.Add(200*time.Millisecond))
			if len(held.at) == 0 {
				t.Fatalf("no answer while the gate was open (%d requests)", held.sent)
			}
			t.Logf("%d answers before Until; the last %v after Until", len(held.at)-countFrom(held.at, until),
				held.at[len(held.at)-1].Sub(until).Round(100*time.Microsecond))
			time.Sleep(time.Until(until.Add(time.Second)))
			if after := l.answers(vip, 5*time.Millisecond, time.Now().Add(500*time.Millisecond)); len(after.at) > 0 {
				t.Errorf("%d answers to %d requests from Until+1s on, want none", len(after.at), after.sent)
			}
			if dev := l.nodeHas(tc.cidr); dev != "eth0" {
				t.Errorf("address on %q after Until, want it still on eth0 (AddrSlack)", dev)
			}
		})
	}
}

// A refresh extends the gate with one nftables batch: every request is answered while
// refreshed, and there is no address call; once the refreshes stop (a frozen holder) the
// answers stop too.
func TestFence_RefreshesKeepAnsweringWithOneBatchEach(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			a := l.fenced(Config{})
			k := seam(a)
			vip := addr(tc.vip)
			start := time.Now()
			if err := a.Add(t.Context(), Address{IP: vip, Until: start.Add(300 * time.Millisecond)}); err != nil {
				t.Fatalf("Add: %v", err)
			}
			type result struct {
				until   time.Time
				slowest time.Duration
			}
			done := make(chan result, 1)
			go func() {
				until, slowest := refreshEvery(t, a, vip, 100*time.Millisecond, 10)
				done <- result{until, slowest}
			}()
			// Probe while refreshed: the last refresh, about 1s from start, holds the gate
			// open past the probe's end. A refresh that did not restart the timeout lets the
			// gate close until the next one.
			during := l.answers(vip, 5*time.Millisecond, start.Add(900*time.Millisecond))
			r := <-done
			switch n := during.unanswered(); {
			case r.slowest > 250*time.Millisecond:
				t.Logf("a refresh came %v after the one before (a starved test): the gate may close", r.slowest)
			case n > 1:
				t.Errorf("%d of %d requests unanswered while refreshed, want at most 1 (longest gap %v)",
					n, during.sent, maxGap(during.at, start, start.Add(900*time.Millisecond)))
			}
			time.Sleep(time.Until(r.until.Add(time.Second)))
			if after := l.answers(vip, 5*time.Millisecond, time.Now().Add(300*time.Millisecond)); len(after.at) > 0 {
				t.Errorf("%d answers from the last Until+1s on, want none", len(after.at))
			}
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.replaces != 1 {
				t.Errorf("%d address calls for an install and 10 refreshes, want 1", k.replaces)
			}
		})
	}
}

// refreshEvery refreshes vip n times, every `every`, each to 300 ms ahead, and returns
// the last Until and the longest time between two refreshes.
func refreshEvery(t *testing.T, a *Announcer, vip netip.Addr, every time.Duration, n int) (time.Time, time.Duration) {
	until, slowest := time.Now(), time.Duration(0)
	for range n {
		time.Sleep(every)
		now := time.Now()
		slowest = max(slowest, now.Sub(until.Add(-300*time.Millisecond)))
		until = now.Add(300 * time.Millisecond)
		if err := a.Add(t.Context(), Address{IP: vip, Until: until}); err != nil {
			t.Errorf("refresh: %v", err)
		}
	}
	return until, slowest
}

func TestFence_RemoveStopsTheAnswersAtOnce(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			a := l.fenced(Config{})
			vip := addr(tc.vip)
			if err := a.Add(t.Context(), hold(tc.vip, time.Minute)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if got := l.answers(vip, 5*time.Millisecond, time.Now().Add(300*time.Millisecond)); len(got.at) == 0 {
				t.Fatalf("no answer to %d requests while held", got.sent)
			}
			if err := a.Remove(t.Context(), vip); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if got := l.answers(vip, 5*time.Millisecond, time.Now().Add(300*time.Millisecond)); len(got.at) > 0 {
				t.Errorf("%d answers after Remove, want none", len(got.at))
			}
			if diff := cmp.Diff(map[string][]string{}, l.fenceSets(DefaultFenceTable)); diff != "" {
				t.Errorf("fence sets after Remove (-want +got):\n%s", diff)
			}
		})
	}
}

func TestFence_SweepEmptiesTheSets(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{FenceTable: "vk-test"})
	for _, ip := range []string{"198.51.100.7", "2001:db8::7"} {
		if err := a.Add(t.Context(), hold(ip, time.Minute)); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	want := map[string][]string{"vips4": {"198.51.100.7"}, "live4": {"198.51.100.7"},
		"vips6": {"2001:db8::7"}, "live6": {"2001:db8::7"}}
	if diff := cmp.Diff(want, l.fenceSets("vk-test")); diff != "" {
		t.Errorf("fence sets while held (-want +got):\n%s", diff)
	}
	if err := a.Set(t.Context(), nil); err != nil {
		t.Fatalf("Set(nil): %v", err)
	}
	if diff := cmp.Diff(map[string][]string{}, l.fenceSets("vk-test")); diff != "" {
		t.Errorf("fence sets after the sweep (-want +got):\n%s", diff)
	}
	if got := cidrs(l.nodeAddrs()); len(got) != 3 {
		t.Errorf("node addresses after the sweep: %v, want the lab's three", got)
	}
}

// A restarted daemon's New replaces the tables. VIPs the killed one left (their addresses
// outlive the gate by AddrSlack) must stay silent, not be answered unfenced until the sweep.
func TestFence_NewKeepsVIPsAnEarlierProcessLeftSilent(t *testing.T) {
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			vip := addr(tc.vip)
			old := l.fenced(Config{})
			if err := old.Add(t.Context(), hold(tc.vip, time.Minute)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if err := old.Close(); err != nil { // as if killed: tables and address stay
				t.Fatalf("Close: %v", err)
			}
			if got := l.answers(vip, 5*time.Millisecond, time.Now().Add(300*time.Millisecond)); len(got.at) == 0 {
				t.Fatalf("no answer to %d requests after Close, want the gate still open until Until", got.sent)
			}
			a := l.fenced(Config{})
			if got := l.answers(vip, 5*time.Millisecond, time.Now().Add(300*time.Millisecond)); len(got.at) > 0 {
				t.Errorf("%d answers after a new Announcer replaced the tables, want none", len(got.at))
			}
			if dev := l.nodeHas(tc.cidr); dev != "eth0" {
				t.Fatalf("the old VIP is on %q, want eth0 (the test needs it there)", dev)
			}
			if err := a.Set(t.Context(), nil); err != nil {
				t.Fatalf("Set(nil): %v", err)
			}
			if dev := l.nodeHas(tc.cidr); dev != "" {
				t.Errorf("the old VIP is still on %s after the sweep", dev)
			}
		})
	}
}

// In fence mode a deadline half a second away is fine (the address lifetime no longer
// needs a second), and less than FenceMinLeft is ErrExpired.
func TestFence_AcceptsSubSecondDeadlinesAndRefusesLessThanFenceMinLeft(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{})
	if err := a.Add(t.Context(), hold("198.51.100.7", 500*time.Millisecond)); err != nil {
		t.Errorf("Add with 500ms left: %v", err)
	}
	err := a.Add(t.Context(), hold("198.51.100.8", FenceMinLeft/2))
	if !errors.Is(err, ErrExpired) {
		t.Errorf("Add with %v left = %v, want ErrExpired", FenceMinLeft/2, err)
	}
	if dev := l.nodeHas("198.51.100.8/32"); dev != "" {
		t.Errorf("expired VIP on %s", dev)
	}
	want := map[string][]string{"vips4": {"198.51.100.7"}, "live4": {"198.51.100.7"}}
	if diff := cmp.Diff(want, l.fenceSets(DefaultFenceTable)); diff != "" {
		t.Errorf("fence sets (-want +got):\n%s", diff)
	}
}

// The address lifetime reaches AddrSlack past Until, rounded up, and a refresh re-sends it
// only once it would end less than AddrSlack/2 after the new Until.
func TestFence_AddressLifetimeReachesAddrSlackPastUntil(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{AddrSlack: 4 * time.Second})
	k := seam(a)
	if err := a.Add(t.Context(), hold("198.51.100.7", 1500*time.Millisecond)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	addrs := l.nodeAddrs()
	if i := indexOf(addrs, "198.51.100.7/32"); i < 0 || addrs[i].Valid != 5 && addrs[i].Valid != 6 {
		t.Errorf("addresses %+v, want 198.51.100.7/32 for ceil(1.5s + 4s) = 6s (5 once a second passed)", addrs)
	}
	// The address ends about 6s from now: Until 2s needs 4s, no call; Until 4.5s needs 6.5s.
	for _, d := range []time.Duration{2 * time.Second, 4500 * time.Millisecond} {
		if err := a.Add(t.Context(), hold("198.51.100.7", d)); err != nil {
			t.Fatalf("refresh: %v", err)
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.replaces != 2 {
		t.Errorf("%d address calls, want 2 (install, and the refresh past AddrSlack/2)", k.replaces)
	}
}

func TestConfig_FenceFieldsAreChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{name: "defaults", cfg: Config{Fence: true}, ok: true},
		{name: "slack 2s", cfg: Config{Fence: true, AddrSlack: 2 * time.Second}, ok: true},
		{name: "slack 1s", cfg: Config{Fence: true, AddrSlack: time.Second}},
		{name: "long table name", cfg: Config{FenceTable: string(make([]byte, 256))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(); (err == nil) != tc.ok {
				t.Errorf("Validate() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// Re-arming restarts the timeout, also when it is the same as before (the kernel would
// keep the old expiry for an element merely added again) and when it is shorter; and an
// element never goes in without a timeout.
func TestFence_ArmRestartsTheTimeoutEvenWhenItIsUnchanged(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{})
	f := a.fence.(*fence)
	ip := netip.MustParseAddr("198.51.100.9")
	expires := func() time.Duration {
		elems, err := f.c.GetSetElements(f.v4.live)
		if err != nil || len(elems) != 1 {
			t.Fatalf("live4 = %+v, %v; want one element", elems, err)
		}
		return elems[0].Expires
	}
	for _, d := range []time.Duration{2 * time.Second, 2 * time.Second, time.Hour, 2 * time.Second} {
		time.Sleep(300 * time.Millisecond)
		if err := f.arm([]fenceElem{{ip: ip, timeout: d}}); err != nil {
			t.Fatalf("arm %v: %v", d, err)
		}
		if got := expires(); got > d || got < d-200*time.Millisecond {
			t.Errorf("after arm %v: expires in %v, want about %v", d, got, d)
		}
	}
	if err := f.arm([]fenceElem{{ip: ip, timeout: time.Millisecond / 2}}); err == nil {
		t.Errorf("arm with a timeout below a millisecond = nil, want an error (it would never expire)")
	}
}

// The Announcer's unsolicited NA leaves through an ICMPv6 socket, so it crosses the ip6
// output hook: it passes because the gate opens before the first announcement, and is
// dropped (EPERM) once the gate has closed. The gratuitous ARP (a packet socket) does not
// cross the hook; Run stops sending it at the gate's timeout.
func TestFence_OwnNeighborAdvertisementPassesOnlyWhileTheGateIsOpen(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{})
	until := time.Now().Add(200 * time.Millisecond)
	if err := a.Add(t.Context(), Address{IP: addr("2001:db8::7"), Until: until}); err != nil {
		t.Fatalf("Add (the first NA must pass the gate): %v", err)
	}
	a.mu.Lock()
	v := a.vips[addr("2001:db8::7")]
	a.mu.Unlock()
	time.Sleep(time.Until(until) + 100*time.Millisecond)
	if err := a.tx.announce(v.link, v.ip); !errors.Is(err, unix.EPERM) {
		t.Errorf("NA after the gate closed: %v, want EPERM (dropped by the output hook)", err)
	}
}

// Someone flushes the ruleset (a firewall reload): the next refresh recreates the tables,
// re-opening every held VIP's gate, and the VIPs are fenced again.
func TestFence_RefreshRecreatesTablesSomeoneDeleted(t *testing.T) {
	l := newLab(t)
	a := l.fenced(Config{})
	for _, ip := range []string{"198.51.100.7", "2001:db8::7"} {
		if err := a.Add(t.Context(), hold(ip, time.Minute)); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	l.run("ip", "netns", "exec", l.node, "nft", "flush", "ruleset")
	if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil {
		t.Fatalf("refresh after the flush: %v", err)
	}
	want := map[string][]string{"vips4": {"198.51.100.7"}, "live4": {"198.51.100.7"},
		"vips6": {"2001:db8::7"}, "live6": {"2001:db8::7"}}
	if diff := cmp.Diff(want, l.fenceSets(DefaultFenceTable)); diff != "" {
		t.Errorf("fence sets after the refresh (-want +got):\n%s", diff)
	}
}
