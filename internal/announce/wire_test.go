package announce

import (
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/ndp"
	"github.com/vishvananda/netlink"
)

func TestAdd_FirstGratuitousARPArrivesAfterTheAddressExists(t *testing.T) {
	l := newLab(t)
	const burst = 3
	a := l.announcer(Config{BurstCount: burst, BurstInterval: 50 * time.Millisecond, RefreshInterval: time.Hour})
	chk := &checkingTx{inner: a.tx, node: l.node}
	a.tx = chk
	runAnnouncer(t, a)
	c := l.arpClient()
	vip := addr("198.51.100.7")
	start := time.Now()
	if err := a.Add(t.Context(), Address{IP: vip, Until: start.Add(time.Minute)}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var first time.Duration
	frames := 0
	for frames < 2*(1+burst) { // a request and a reply per round
		p, _, err := c.Read()
		if err != nil {
			t.Fatalf("after %d of %d gratuitous ARPs: %v", frames, 2*(1+burst), err)
		}
		if p.SenderIP != vip || p.TargetIP != vip || p.SenderHardwareAddr.String() != l.nodeMAC {
			continue
		}
		if frames == 0 {
			first = time.Since(start)
		}
		frames++
	}
	t.Logf("first gratuitous ARP seen %v after Add began (target 50ms)", first)
	if err := chk.violation(); err != nil {
		t.Error(err)
	}
}

func TestAdd_RollsBackTheAddressWhenAnnouncingFails(t *testing.T) {
	injected := errors.New("injected send failure")
	for _, tc := range []struct {
		name  string
		setup func(*lab, *Announcer)
		is    error
	}{
		{name: "socket error", setup: func(_ *lab, a *Announcer) { a.tx = failingTx{err: injected} }, is: ErrAnnounce},
		{name: "link down", setup: func(l *lab, _ *Announcer) { l.ip("-n", l.node, "link", "set", "eth0", "down") },
			is: ErrCannotCarry},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			a := l.announcer(Config{})
			tc.setup(l, a)
			err := a.Add(t.Context(), hold("198.51.100.7", time.Minute))
			if err == nil || !strings.Contains(err.Error(), "198.51.100.7") || !strings.Contains(err.Error(), "eth0") {
				t.Fatalf("Add = %v, want an error naming 198.51.100.7 and eth0", err)
			}
			if !errors.Is(err, tc.is) || tc.is == ErrAnnounce && !errors.Is(err, injected) {
				t.Errorf("Add = %v, want it to wrap %v", err, tc.is)
			}
			if dev := l.nodeHas("198.51.100.7/32"); dev != "" {
				t.Errorf("VIP left on %s after a failed announcement", dev)
			}
		})
	}
}

// checkingTx records an announcement made while its address is not on the
// node: "never announce before the address is in place".
type checkingTx struct {
	inner transmitter
	node  string
	mu    sync.Mutex
	err   error
}

func (c *checkingTx) announce(l link, ip netip.Addr) error {
	h, err := netlinkHandleIn(c.node)
	if err == nil {
		defer h.Close()
		var addrs []netlink.Addr
		addrs, err = h.AddrList(nil, netlink.FAMILY_ALL)
		if err == nil && !hasIP(addrs, ip) {
			err = errors.New("announced " + ip.String() + " before its address was in place")
		}
	}
	if err != nil {
		c.mu.Lock()
		c.err = errors.Join(c.err, err)
		c.mu.Unlock()
	}
	return c.inner.announce(l, ip)
}

func (c *checkingTx) drop(index int) { c.inner.drop(index) }
func (c *checkingTx) close() error   { return c.inner.close() }

func (c *checkingTx) violation() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

type failingTx struct{ err error }

func (f failingTx) announce(link, netip.Addr) error { return f.err }
func (f failingTx) drop(int)                        {}
func (f failingTx) close() error                    { return nil }

func TestAdd_ClientReceivesUnsolicitedNAWithOverride(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	c, _, _ := l.ndpClient()
	vip := addr("2001:db8::7")
	if err := a.Add(t.Context(), hold("2001:db8::7", time.Minute)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	for {
		m, _, _, err := c.ReadFrom()
		if err != nil {
			t.Fatalf("no unsolicited neighbor advertisement for %s: %v", vip, err)
		}
		na, ok := m.(*ndp.NeighborAdvertisement)
		if !ok || na.TargetAddress != vip {
			continue
		}
		got := []any{na.Override, na.Solicited, targetLLA(na)}
		if diff := cmp.Diff([]any{true, false, l.nodeMAC}, got); diff != "" {
			t.Errorf("advertisement [override solicited target-mac] (-want +got):\n%s", diff)
		}
		return
	}
}
