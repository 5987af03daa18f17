package announce

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The core tells the failures of Add apart by class (issue 14 items 2 and 4).
func TestAdd_ErrorsAreClassified(t *testing.T) {
	l := newLab(t)
	for _, tc := range []struct {
		name  string
		cfg   Config
		setup func(*lab, *Announcer)
		vip   string
		is    error
		says  string
	}{
		{name: "no interface covers the vip", vip: "203.0.113.200", is: ErrCannotCarry, says: "covering 203.0.113.200"},
		{name: "configured interface missing", cfg: Config{Interface: "eth9"}, vip: "198.51.100.7",
			is: ErrCannotCarry, says: "eth9"},
		{name: "interface down", vip: "198.51.100.7", is: ErrCannotCarry, says: "eth0 is down",
			setup: func(l *lab, _ *Announcer) { l.ip("-n", l.client, "link", "set", "eth0", "down") }},
		{name: "foreign copy on the interface", vip: "198.51.100.9", is: ErrForeign, says: "eth0",
			setup: func(l *lab, _ *Announcer) { l.ip("-n", l.node, "addr", "add", "198.51.100.9/32", "dev", "eth0") }},
		{name: "first announcement fails", vip: "198.51.100.7", is: ErrAnnounce, says: "removed again",
			setup: func(_ *lab, a *Announcer) { a.tx = failingTx{err: errors.New("injected")} }},
		{name: "netlink fails", vip: "198.51.100.7", is: ErrKernel, says: "list addresses",
			setup: func(_ *lab, a *Announcer) { seam(a).failList = unix.ENOBUFS }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := l.with(t)
			a := l.announcer(tc.cfg)
			if tc.setup != nil {
				tc.setup(l, a)
				t.Cleanup(func() { l.ip("-n", l.client, "link", "set", "eth0", "up") })
			}
			err := a.Add(t.Context(), hold(tc.vip, time.Minute))
			if !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Add = %v, want %v saying %q", err, tc.is, tc.says)
			}
		})
	}
}

func TestRemove_ReportsAnAddressItCouldNotDeleteAndSucceedsOnRetry(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	k := seam(a)
	vip := addr("198.51.100.7")
	if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	k.set(func(k *seamKernel) { k.failDel[vip] = unix.EBUSY })
	err := a.Remove(t.Context(), vip)
	var re *RemoveError
	if !errors.As(err, &re) || !errors.Is(err, ErrKernel) || !slices.Equal(re.Left, []netip.Addr{vip}) {
		t.Fatalf("Remove with a failing delete = %v, want a RemoveError for %s wrapping ErrKernel", err, vip)
	}
	k.set(func(k *seamKernel) { delete(k.failDel, vip) })
	if err := a.Remove(t.Context(), vip); err != nil {
		t.Errorf("retried Remove: %v", err)
	}
	if dev := l.nodeHas("198.51.100.7/32"); dev != "" {
		t.Errorf("VIP still on %s", dev)
	}
}

// A copy of the VIP that vipkeeper does not own, where it had put its own, keeps the node
// answering for the VIP: Remove says so instead of returning nil, and leaves it alone.
func TestRemove_ReportsAForeignCopyWhereItHadPutTheVIP(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	l.ip("-n", l.node, "addr", "del", "198.51.100.7/32", "dev", "eth0")
	l.ip("-n", l.node, "addr", "add", "198.51.100.7/32", "dev", "eth0")
	err := a.Remove(t.Context(), addr("198.51.100.7"))
	var re *RemoveError
	if !errors.As(err, &re) || !errors.Is(err, ErrForeign) || !strings.Contains(err.Error(), "eth0") {
		t.Errorf("Remove = %v, want a RemoveError wrapping ErrForeign naming eth0", err)
	}
	if got := l.nodeAddrs(); indexOf(got, "198.51.100.7/32") < 0 || got[indexOf(got, "198.51.100.7/32")].Valid != -1 {
		t.Errorf("the foreign copy was touched: %+v", got)
	}
}

func TestSet_SweepSaysWhichAddressesItCouldNotRemove(t *testing.T) {
	l := newLab(t)
	crashed := l.announcer(Config{})
	for _, ip := range []string{"198.51.100.7", "198.51.100.8", "2001:db8::7"} {
		if err := crashed.Add(t.Context(), hold(ip, time.Hour)); err != nil {
			t.Fatalf("Add %s: %v", ip, err)
		}
	}
	if err := crashed.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	a := l.announcer(Config{})
	k := seam(a)
	stuck := []netip.Addr{addr("198.51.100.8"), addr("2001:db8::7")}
	k.set(func(k *seamKernel) {
		for _, ip := range stuck {
			k.failDel[ip] = unix.EBUSY
		}
	})
	err := a.Set(t.Context(), nil)
	var re *RemoveError
	if !errors.As(err, &re) || !errors.Is(err, ErrKernel) {
		t.Fatalf("sweep = %v, want a RemoveError wrapping ErrKernel", err)
	}
	if !slices.Equal(stuck, re.Left) {
		t.Errorf("addresses left = %v, want %v", re.Left, stuck)
	}
	for _, ip := range stuck {
		if !strings.Contains(err.Error(), ip.String()) {
			t.Errorf("sweep error %q does not name %s", err, ip)
		}
	}
	if dev := l.nodeHas("198.51.100.7/32"); dev != "" {
		t.Errorf("198.51.100.7 still on %s: one failure stopped the sweep", dev)
	}
}
