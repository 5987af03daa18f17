package announce

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// longIface has 13 characters, like enp175s0f0np0: "<name>:vk" does not fit in an IPv4 label.
const longIface = "enp175s0f0np0"

// withLongLink adds a veth called longIface between node and client, on 203.0.113.128/25 and
// 2001:db8:2::/64 (eth1 keeps 203.0.113.0/25).
func (l *lab) withLongLink() {
	l.t.Helper()
	l.ip("-n", l.node, "link", "add", longIface, "type", "veth", "peer", "name", "long", "netns", l.client)
	l.addrs(l.node, longIface, "203.0.113.130/25", "2001:db8:2::2/64")
	l.addrs(l.client, "long", "203.0.113.131/25", "2001:db8:2::3/64")
	l.ip("-n", l.node, "link", "set", longIface, "up")
	l.ip("-n", l.client, "link", "set", "long", "up")
	l.waitCarrier(l.node, longIface)
}

// oldKernel makes a behave as on a kernel before 6.1, which drops IFA_PROTO: the marker
// must recognise vipkeeper's addresses without it.
func oldKernel(a *Announcer) *Announcer {
	a.mark.protoOK = false
	return a
}

// Issue 14 item 1, step by step: on a kernel without IFA_PROTO, an IPv4 VIP on a 13-character
// interface got no label, so the node stopped recognising its own address: the burst dropped
// it as vanished, the next renew failed with "not owned", and Remove deleted nothing and
// returned nil while the address stayed up.
func TestOwnership_WithoutIFAProtoAVIPOnALongInterfaceNameStaysItsOwn(t *testing.T) {
	for _, vip := range []string{"203.0.113.140", "2001:db8:2::7"} {
		t.Run(vip, func(t *testing.T) {
			l := newLab(t)
			l.withLongLink()
			a := oldKernel(l.announcer(Config{BurstCount: 2, BurstInterval: 50 * time.Millisecond,
				RefreshInterval: 100 * time.Millisecond}))
			runAnnouncer(t, a)
			ip := addr(vip)
			host := netip.PrefixFrom(ip, ip.BitLen()).String()
			if err := a.Add(t.Context(), hold(vip, time.Minute)); err != nil {
				t.Fatalf("Add: %v", err)
			}
			if dev := l.nodeHas(host); dev != longIface {
				t.Fatalf("%s on %q, want %s", host, dev, longIface)
			}
			time.Sleep(300 * time.Millisecond) // the burst verifies the address before each send
			if err := a.Add(t.Context(), hold(vip, time.Minute)); err != nil {
				t.Errorf("renewing Add: %v, want nil (the address is this node's own)", err)
			}
			if err := a.Remove(t.Context(), ip); err != nil {
				t.Errorf("Remove: %v", err)
			}
			if dev := l.nodeHas(host); dev != "" {
				t.Errorf("after Remove %s is still on %s", host, dev)
			}
		})
	}
}

func TestOwnership_WithoutIFAProtoTheSweepRemovesACrashedProcessesVIPs(t *testing.T) {
	l := newLab(t)
	l.withLongLink()
	crashed := oldKernel(l.announcer(Config{}))
	for _, vip := range []string{"203.0.113.140", "2001:db8:2::7", "198.51.100.7"} {
		if err := crashed.Add(t.Context(), hold(vip, time.Hour)); err != nil {
			t.Fatalf("Add %s: %v", vip, err)
		}
	}
	if err := crashed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	// Foreign host addresses of the same shapes stay.
	l.ip("-n", l.node, "addr", "add", "203.0.113.141/32", "dev", longIface)
	l.ip("-n", l.node, "addr", "add", "2001:db8:2::8/128", "dev", longIface, "nodad", "noprefixroute",
		"valid_lft", "600", "preferred_lft", "600")
	if err := oldKernel(l.announcer(Config{})).Set(t.Context(), nil); err != nil {
		t.Fatalf("Set(nil): %v", err)
	}
	got := cidrs(l.nodeAddrs())
	want := []string{"198.51.100.2/24", "203.0.113.2/25", "203.0.113.130/25", "203.0.113.141/32",
		"2001:db8::2/64", "2001:db8:2::2/64", "2001:db8:2::8/128"}
	if !equalSets(got, want) {
		t.Errorf("after the sweep: %v, want %v", got, want)
	}
}

func TestAdd_AForeignCopyOnTheSameLongInterfaceIsRefusedByName(t *testing.T) {
	l := newLab(t)
	l.withLongLink()
	l.ip("-n", l.node, "addr", "add", "203.0.113.140/32", "dev", longIface)
	a := oldKernel(l.announcer(Config{}))
	err := a.Add(t.Context(), hold("203.0.113.140", time.Minute))
	if !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), longIface) {
		t.Fatalf("Add over a foreign copy = %v, want ErrForeign naming %s", err, longIface)
	}
}

func equalSets(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, s := range a {
		seen[s]++
	}
	for _, s := range b {
		seen[s]--
	}
	for _, n := range seen {
		if n != 0 {
			return false
		}
	}
	return true
}
