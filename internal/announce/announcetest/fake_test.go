package announcetest

import (
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vipkeeper/vipkeeper/internal/announce"
)

func hold(ip string, d time.Duration) announce.Address {
	return announce.Address{IP: netip.MustParseAddr(ip), Until: time.Now().Add(d)}
}

func TestFake_PrintsHeldVIPsSortedWithLifetimeLeft(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{})
		for _, d := range []announce.Address{hold("2001:db8::7", 10*time.Second+500*time.Millisecond),
			hold("198.51.100.7", 10*time.Second)} {
			if err := f.Add(t.Context(), d); err != nil {
				t.Fatalf("Add: %v", err)
			}
		}
		want := "198.51.100.7/32 dev eth0 until +10s\n2001:db8::7/128 dev eth0 until +10s"
		if diff := cmp.Diff(want, f.String()); diff != "" {
			t.Errorf("String (-want +got):\n%s", diff)
		}
		time.Sleep(4 * time.Second)
		if got, want := f.String(), "198.51.100.7/32 dev eth0 until +6s\n2001:db8::7/128 dev eth0 until +6s"; got != want {
			t.Errorf("after 4s: %q, want %q", got, want)
		}
	})
}

func TestFake_VIPExpiresWithoutRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{Interface: "bond0"})
		vip := netip.MustParseAddr("198.51.100.7")
		if err := f.Add(t.Context(), hold("198.51.100.7", 3*time.Second)); err != nil {
			t.Fatalf("Add: %v", err)
		}
		time.Sleep(2 * time.Second)
		if err := f.Add(t.Context(), hold("198.51.100.7", 3*time.Second)); err != nil {
			t.Fatalf("refresh: %v", err)
		}
		time.Sleep(2 * time.Second)
		if got := f.String(); got != "198.51.100.7/32 dev bond0 until +1s" {
			t.Errorf("after refresh: %q", got)
		}
		time.Sleep(time.Second)
		if f.Holds(vip) || f.String() != "" {
			t.Errorf("still held at expiry: %q", f.String())
		}
	})
}

func TestFake_AddWithLessThanASecondLeftRemoves(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{})
		_ = f.Add(t.Context(), hold("198.51.100.7", time.Minute))
		err := f.Add(t.Context(), hold("198.51.100.7", 999*time.Millisecond))
		if !errors.Is(err, announce.ErrExpired) || f.String() != "" {
			t.Errorf("Add = %v, state %q; want ErrExpired and nothing held", err, f.String())
		}
	})
}

func TestFake_FenceModeHoldsSubSecondDeadlinesToTheMillisecond(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{Fence: true})
		if err := f.Add(t.Context(), hold("198.51.100.7", 400*time.Millisecond+300*time.Microsecond)); err != nil {
			t.Fatalf("Add with 400ms left: %v", err)
		}
		if got, want := f.String(), "198.51.100.7/32 dev eth0 until +400ms"; got != want {
			t.Errorf("state %q, want %q", got, want)
		}
		err := f.Add(t.Context(), hold("198.51.100.7", announce.FenceMinLeft-time.Millisecond))
		if !errors.Is(err, announce.ErrExpired) || f.String() != "" {
			t.Errorf("Add = %v, state %q; want ErrExpired and nothing held", err, f.String())
		}
	})
}

func TestFake_SetHoldsExactlyTheDesiredVIPs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := New(Config{})
		_ = f.Add(t.Context(), hold("198.51.100.7", time.Minute))
		err := f.Set(t.Context(), []announce.Address{hold("198.51.100.8", 5*time.Second),
			hold("198.51.100.8", 9*time.Second), hold("198.51.100.9", 500*time.Millisecond)})
		if err != nil {
			t.Fatalf("Set: %v", err)
		}
		if got := f.String(); got != "198.51.100.8/32 dev eth0 until +9s" {
			t.Errorf("after Set: %q", got)
		}
	})
}

func TestFake_InjectedFailureLeavesStateUnchanged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("boom")
		f := New(Config{Fail: func(op string, _ netip.Addr) error {
			if op == "add" {
				return boom
			}
			return nil
		}})
		if err := f.Add(t.Context(), hold("198.51.100.7", time.Minute)); !errors.Is(err, boom) {
			t.Errorf("Add = %v, want boom", err)
		}
		if f.String() != "" {
			t.Errorf("state after failed Add: %q", f.String())
		}
	})
}
