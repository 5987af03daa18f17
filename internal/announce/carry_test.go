package announce

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestCanCarry_RefusesWhatNoUpInterfaceCovers(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	if err := a.CanCarry(addr("198.51.100.7")); err != nil {
		t.Fatalf("CanCarry(198.51.100.7) with eth0 up = %v, want nil", err)
	}
	if err := a.CanCarry(addr("2001:db8::7")); err != nil {
		t.Fatalf("CanCarry(2001:db8::7) = %v, want nil", err)
	}
	if err := a.CanCarry(addr("203.0.113.200")); err == nil {
		t.Fatal("CanCarry(203.0.113.200) = nil, want: no interface covers it")
	}
	if err := a.CanCarry(addr("2001:db8:ffff::1")); err == nil {
		t.Fatal("CanCarry of an IPv6 VIP no network covers = nil, want an error")
	}
	// Pull the cable on the far end: eth0 loses its carrier.
	l.ip("-n", l.client, "link", "set", "eth0", "down")
	ok := waitFor(5*time.Second, func() bool {
		err := a.CanCarry(addr("198.51.100.7"))
		return err != nil && strings.Contains(err.Error(), "down or has no carrier")
	})
	if !ok {
		t.Fatalf("CanCarry after the carrier went = %v, want a 'down or has no carrier' error", a.CanCarry(addr("198.51.100.7")))
	}
}

func TestRun_CallsOnLinkChangeWhenCarrierGoesAndComesBack(t *testing.T) {
	l := newLab(t)
	var calls atomic.Int32
	a := l.announcer(Config{OnLinkChange: func() { calls.Add(1) }})
	runAnnouncer(t, a)
	// The subscription lists existing links first; a flip before that is not a change. So
	// flip the carrier a few times (bounded) until both directions were reported.
	for i := 0; i < 10 && calls.Load() < 2; i++ {
		before := calls.Load()
		l.ip("-n", l.client, "link", "set", "eth0", "down")
		waitFor(time.Second, func() bool { return calls.Load() > before })
		l.ip("-n", l.client, "link", "set", "eth0", "up")
		waitFor(time.Second, func() bool { return calls.Load() >= before+2 })
	}
	if calls.Load() < 2 {
		t.Fatalf("OnLinkChange called %d times over 10 carrier flips, want the loss and the return", calls.Load())
	}
}
