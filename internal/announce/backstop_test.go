package announce

import (
	"errors"
	"testing"
	"time"
)

// Issue 14 item 5: the lifetime is computed before the netlink call and the kernel counts
// from when it handles the request, so a slow call (RTNL held elsewhere) made the kernel's
// expiry later than Until. The kernel's own view of the lifetime left must end by Until.
func TestAdd_ASlowNetlinkCallDoesNotStretchTheKernelLifetimePastUntil(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	k := seam(a)
	k.set(func(k *seamKernel) { k.delay, k.slow = time.Second, 1 })
	until := time.Now().Add(5500 * time.Millisecond)
	if err := a.Add(t.Context(), Address{IP: addr("198.51.100.7"), Until: until}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	got := l.nodeAddrs()
	i := indexOf(got, "198.51.100.7/32")
	if i < 0 {
		t.Fatalf("VIP not installed: %+v", got)
	}
	// The kernel reports whole seconds left, rounded down from its own expiry.
	expiry := time.Now().Add(time.Duration(got[i].Valid) * time.Second)
	if expiry.After(until) {
		t.Errorf("kernel expiry about %v after Until (lifetime %ds left, %d netlink calls); want none",
			expiry.Sub(until).Round(10*time.Millisecond), got[i].Valid, k.replaces)
	}
}

func TestAdd_RemovesTheVIPWhenEveryNetlinkCallIsTooSlowForTheDeadline(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	k := seam(a)
	k.set(func(k *seamKernel) { k.delay, k.slow = 1200*time.Millisecond, -1 })
	err := a.Add(t.Context(), Address{IP: addr("198.51.100.7"), Until: time.Now().Add(2500 * time.Millisecond)})
	if !errors.Is(err, ErrExpired) {
		t.Errorf("Add = %v, want ErrExpired", err)
	}
	if dev := l.nodeHas("198.51.100.7/32"); dev != "" {
		t.Errorf("VIP still on %s after the kernel calls could not keep its lifetime", dev)
	}
}
