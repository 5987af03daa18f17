package announce

import (
	"errors"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestAdd_ClientSeesOnlyTheHolderAndNobodyAfterRemove(t *testing.T) {
	for _, tc := range []struct {
		name   string
		vip    string
		whoHas func(*lab, netip.Addr, time.Duration) []string
	}{
		{name: "ipv4 arp", vip: "198.51.100.7", whoHas: (*lab).arpWhoHas},
		{name: "ipv6 ndp", vip: "2001:db8::7", whoHas: (*lab).ndpWhoHas},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			// Frequent refreshes: any announcement after Remove would be seen.
			a := l.announcer(Config{BurstInterval: 100 * time.Millisecond, RefreshInterval: 200 * time.Millisecond})
			runAnnouncer(t, a)
			vip := addr(tc.vip)
			if err := a.Add(t.Context(), hold(tc.vip, time.Minute)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if diff := cmp.Diff([]string{l.nodeMAC}, tc.whoHas(l, vip, time.Second)); diff != "" {
				t.Errorf("answers while held (-want +got):\n%s", diff)
			}
			if err := a.Remove(t.Context(), vip); err != nil {
				t.Fatalf("Remove: %v", err)
			}
			if got := tc.whoHas(l, vip, time.Second); len(got) != 0 {
				t.Errorf("answers after Remove: %v, want none", got)
			}
			if err := a.Remove(t.Context(), vip); err != nil {
				t.Errorf("second Remove: %v, want nil (idempotent)", err)
			}
		})
	}
}

func TestAdd_InstallsHostAddressWithFiniteLifetimeAndLabel(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	if err := a.Add(t.Context(), hold("198.51.100.7", 30*time.Second+500*time.Millisecond)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if err := a.Add(t.Context(), hold("2001:db8::7", 30*time.Second+500*time.Millisecond)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	want := []kaddrInfo{
		{Dev: "eth0", CIDR: "198.51.100.2/24", Label: "eth0", Valid: -1},
		{Dev: "eth0", CIDR: "198.51.100.7/32", Label: "eth0:vk", Valid: 30},
		{Dev: "eth1", CIDR: "203.0.113.2/25", Label: "eth1", Valid: -1},
		{Dev: "eth0", CIDR: "2001:db8::2/64", Valid: -1},
		{Dev: "eth0", CIDR: "2001:db8::7/128", Valid: 30},
	}
	if diff := cmp.Diff(want, l.nodeAddrs()); diff != "" {
		t.Errorf("node addresses (-want +got):\n%s", diff)
	}
}

func TestAdd_RefreshesLifetimeOfHeldVIPWithoutNewAnnouncement(t *testing.T) {
	for _, tc := range []struct{ name, vip, cidr string }{
		{name: "ipv4", vip: "198.51.100.7", cidr: "198.51.100.7/32"},
		{name: "ipv6", vip: "2001:db8::7", cidr: "2001:db8::7/128"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			var sends atomic.Int32
			a := l.announcer(Config{OnSend: func(netip.Addr, string, error) { sends.Add(1) }})
			if err := a.Add(t.Context(), hold(tc.vip, 5*time.Second)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if err := a.Add(t.Context(), hold(tc.vip, time.Hour)); err != nil {
				t.Fatalf("refreshing Add: %v", err)
			}
			got := l.nodeAddrs()
			if i := indexOf(got, tc.cidr); i < 0 || got[i].Valid < 3500 || got[i].Valid > 3600 {
				t.Errorf("after refresh: %+v, want %s with about 3599s left", got, tc.cidr)
			}
			if n := sends.Load(); n != 1 {
				t.Errorf("announcements = %d, want 1 (a refresh announces nothing new)", n)
			}
		})
	}
}

func TestAdd_RefusesAnAddressThatIsNotOwned(t *testing.T) {
	l := newLab(t)
	l.ip("-n", l.node, "addr", "add", "198.51.100.99/32", "dev", "eth0")
	a := l.announcer(Config{})
	err := a.Add(t.Context(), hold("198.51.100.99", time.Minute))
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "eth0") {
		t.Fatalf("Add = %v, want ErrForeign naming eth0", err)
	}
	if err := a.CanCarry(addr("198.51.100.99")); !errors.Is(err, ErrForeign) {
		t.Errorf("CanCarry = %v, want ErrForeign: this node cannot carry it", err)
	}
	got := l.nodeAddrs()
	if i := indexOf(got, "198.51.100.99/32"); i < 0 || got[i].Valid != -1 {
		t.Errorf("foreign address changed: %+v", got)
	}
	if err := a.Remove(t.Context(), addr("198.51.100.99")); err != nil || l.nodeHas("198.51.100.99/32") == "" {
		t.Errorf("Remove of a foreign address: err %v, present %q; want nil and untouched", err, l.nodeHas("198.51.100.99/32"))
	}
}

// Add reuses an address dump for new VIPs for a moment; a foreign address that appeared
// after the dump is still never taken over: the exclusive create fails and a fresh dump
// finds it.
func TestAdd_AForeignAddressNewerThanTheDumpIsStillRefused(t *testing.T) {
	for _, tc := range []struct{ vip, cidr string }{{"198.51.100.98", "198.51.100.98/32"}, {"2001:db8::98", "2001:db8::98/128"}} {
		t.Run(tc.vip, func(t *testing.T) {
			l := newLab(t).with(t)
			a := l.announcer(Config{Interface: "eth0"})
			if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil { // takes the dump
				t.Fatalf("Add: %v", err)
			}
			l.ip("-n", l.node, "addr", "add", tc.cidr, "dev", "eth0", "nodad")
			a.mu.Lock()
			a.addAt = time.Now() // the dump, taken before the foreign address, is still current
			a.mu.Unlock()
			err := a.Add(t.Context(), hold(tc.vip, time.Minute))
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("Add = %v, want ErrForeign", err)
			}
			got := l.nodeAddrs()
			if i := indexOf(got, tc.cidr); i < 0 || got[i].Valid != -1 {
				t.Errorf("foreign address changed: %+v", got)
			}
		})
	}
}

func TestAdd_WithLessThanOneSecondLeftRemovesTheVIP(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	err := a.Add(t.Context(), hold("198.51.100.7", 900*time.Millisecond))
	if !errors.Is(err, ErrExpired) {
		t.Errorf("Add = %v, want ErrExpired", err)
	}
	if dev := l.nodeHas("198.51.100.7/32"); dev != "" {
		t.Errorf("VIP still on %s", dev)
	}
}

func TestLifetime_KernelRemovesVIPWhenRefreshesStop(t *testing.T) {
	l := newLab(t)
	var sends atomic.Int32
	a := l.announcer(Config{BurstCount: 1, BurstInterval: 100 * time.Millisecond,
		RefreshInterval: 100 * time.Millisecond, OnSend: func(netip.Addr, string, error) { sends.Add(1) }})
	runAnnouncer(t, a)
	start := time.Now()
	until := start.Add(2 * time.Second)
	for _, ip := range []string{"198.51.100.7", "2001:db8::7"} {
		if err := a.Add(t.Context(), Address{IP: addr(ip), Until: until}); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	gone := waitFor(5*time.Second, func() bool {
		return l.nodeHas("198.51.100.7/32") == "" && l.nodeHas("2001:db8::7/128") == ""
	})
	if !gone {
		t.Fatalf("VIPs still present 5s after refreshes stopped: %+v", l.nodeAddrs())
	}
	// Until-now was just under 2s: a 1s lifetime, topped up to end topUpLead before Until.
	t.Logf("kernel removed the VIPs %v after their topped-up lifetime ended, %v after Until (bounded by 5s polling)",
		time.Since(until.Add(-topUpLead)).Round(10*time.Millisecond), time.Since(until).Round(10*time.Millisecond))
	after := sends.Load()
	time.Sleep(300 * time.Millisecond)
	if n := sends.Load(); n != after {
		t.Errorf("%d announcements after the lifetime ran out, want 0", n-after)
	}
}

func TestSet_SweepRemovesStaleOwnedVIPsAndLeavesOthersAlone(t *testing.T) {
	l := newLab(t)
	crashed := l.announcer(Config{})
	for _, ip := range []string{"198.51.100.7", "198.51.100.8", "2001:db8::7"} {
		if err := crashed.Add(t.Context(), hold(ip, time.Hour)); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	if err := crashed.Close(); err != nil { // a crash: nothing withdrawn
		t.Fatalf("Close: %v", err)
	}
	l.ip("-n", l.node, "addr", "add", "198.51.100.99/32", "dev", "eth0")
	l.ip("-n", l.node, "addr", "add", "2001:db8::99/128", "dev", "eth0", "nodad", "valid_lft", "600", "preferred_lft", "600")

	a := l.announcer(Config{})
	if err := a.Set(t.Context(), []Address{hold("198.51.100.8", time.Hour)}); err != nil {
		t.Fatalf("Set: %v", err)
	}
	want := []string{"198.51.100.2/24", "198.51.100.8/32", "198.51.100.99/32", "203.0.113.2/25",
		"2001:db8::2/64", "2001:db8::99/128"}
	if diff := cmp.Diff(want, cidrs(l.nodeAddrs())); diff != "" {
		t.Errorf("after Set (-want +got):\n%s", diff)
	}
	if err := a.Set(t.Context(), nil); err != nil {
		t.Fatalf("Set(nil): %v", err)
	}
	want = []string{"198.51.100.2/24", "198.51.100.99/32", "203.0.113.2/25", "2001:db8::2/64", "2001:db8::99/128"}
	if diff := cmp.Diff(want, cidrs(l.nodeAddrs())); diff != "" {
		t.Errorf("after Set(nil) (-want +got):\n%s", diff)
	}
}

func TestAdd_ChoosesTheInterfaceWhoseNetworkCoversTheVIP(t *testing.T) {
	l := newLab(t)
	auto := l.announcer(Config{})
	pinned := l.announcer(Config{Interface: "eth1"})
	for _, tc := range []struct {
		name    string
		a       *Announcer
		vip     string
		wantDev string
		wantErr string
	}{
		{name: "ipv4 on eth0", a: auto, vip: "198.51.100.7", wantDev: "eth0"},
		{name: "ipv4 on eth1", a: auto, vip: "203.0.113.7", wantDev: "eth1"},
		{name: "ipv6 on eth0", a: auto, vip: "2001:db8::7", wantDev: "eth0"},
		{name: "configured interface wins", a: pinned, vip: "198.51.100.9", wantDev: "eth1"},
		{name: "nothing covers it", a: auto, vip: "203.0.113.200",
			wantErr: "no interface has a connected route covering 203.0.113.200; set --interface"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := l.with(t)
			err := tc.a.Add(t.Context(), hold(tc.vip, time.Minute))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrNoInterface) {
					t.Fatalf("Add = %v, want ErrNoInterface saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			host := netip.PrefixFrom(addr(tc.vip), addr(tc.vip).BitLen()).String()
			if got := l.nodeHas(host); got != tc.wantDev {
				t.Errorf("%s is on %q, want %q", tc.vip, got, tc.wantDev)
			}
		})
	}
}

func TestAdd_MarksVIPsWithTheProtocolField(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	if !a.mark.protoOK {
		t.Skip("kernel older than 6.1 drops IFA_PROTO; label and flags are checked elsewhere")
	}
	for _, ip := range []string{"198.51.100.7", "2001:db8::7"} {
		if err := a.Add(t.Context(), hold(ip, time.Minute)); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	addrs, err := a.k.list()
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	got := map[string]uint8{}
	for _, ka := range addrs {
		if ka.prefix.Addr().IsGlobalUnicast() {
			got[ka.prefix.String()] = ka.proto
		}
	}
	want := map[string]uint8{"198.51.100.2/24": 0, "203.0.113.2/25": 0, "2001:db8::2/64": 0,
		"198.51.100.7/32": DefaultProtocol, "2001:db8::7/128": DefaultProtocol}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("address protocols (-want +got):\n%s", diff)
	}
}

func TestSet_ReinstallsAndAnnouncesAHeldVIPDeletedBehindItsBack(t *testing.T) {
	l := newLab(t)
	var sends atomic.Int32
	a := l.announcer(Config{OnSend: func(netip.Addr, string, error) { sends.Add(1) }})
	desired := []Address{hold("198.51.100.7", time.Minute)}
	if err := a.Set(t.Context(), desired); err != nil {
		t.Fatalf("Set: %v", err)
	}
	l.ip("-n", l.node, "addr", "del", "198.51.100.7/32", "dev", "eth0")
	if err := a.Set(t.Context(), desired); err != nil {
		t.Fatalf("second Set: %v", err)
	}
	if dev := l.nodeHas("198.51.100.7/32"); dev != "eth0" || sends.Load() != 2 {
		t.Errorf("VIP on %q after %d announcements, want eth0 after 2", dev, sends.Load())
	}
}
