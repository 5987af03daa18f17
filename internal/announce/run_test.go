package announce

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/arp"
)

func TestRun_ReannouncesWhenTheLinkComesBackUp(t *testing.T) {
	l := newLab(t)
	var sends atomic.Int32
	a := l.announcer(Config{BurstCount: 1, BurstInterval: 50 * time.Millisecond, RefreshInterval: time.Hour,
		OnSend: func(netip.Addr, string, error) { sends.Add(1) }})
	runAnnouncer(t, a)
	vip := addr("198.51.100.7")
	if err := a.Add(t.Context(), Address{IP: vip, Until: time.Now().Add(time.Minute)}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	if !waitFor(3*time.Second, func() bool { return sends.Load() >= 2 }) {
		t.Fatalf("burst not sent: %d announcements", sends.Load())
	}
	c := l.arpClient()
	l.ip("-n", l.node, "link", "set", "eth0", "down")
	l.ip("-n", l.node, "link", "set", "eth0", "up")
	l.waitCarrier(l.node, "eth0")
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		p, _, err := c.Read()
		if err != nil {
			t.Fatalf("no gratuitous ARP after link up (%d announcements): %v", sends.Load(), err)
		}
		if p.SenderIP == vip && p.TargetIP == vip && p.Operation == arp.OperationRequest {
			return
		}
	}
}

func TestRun_EndsAllItsGoroutinesWithContext(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{BurstInterval: 20 * time.Millisecond})
	before := countGoroutines()
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = a.Run(ctx)
	}()
	if err := a.Add(t.Context(), hold("198.51.100.7", time.Minute)); err != nil {
		t.Fatalf("Add: %v", err)
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	wg.Wait()
	if !waitFor(2*time.Second, func() bool { return countGoroutines() <= before }) {
		t.Errorf("goroutines: %d before Run, %d after it returned", before, countGoroutines())
	}
	if err := a.Run(t.Context()); err == nil {
		t.Error("second Run = nil, want an error")
	}
}

func TestAnnouncer_ConcurrentAddAndRemoveOfDifferentVIPs(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{BurstCount: 2, BurstInterval: 20 * time.Millisecond, RefreshInterval: 50 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)})
	runAnnouncer(t, a)
	var wg sync.WaitGroup
	errs := make(chan error, 8*5*2)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			vip := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
			for range 5 {
				errs <- a.Add(t.Context(), Address{IP: vip, Until: time.Now().Add(time.Minute)})
				if i%2 == 0 {
					errs <- a.Remove(t.Context(), vip)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	}
	want := []string{"198.51.100.2/24", "198.51.100.11/32", "198.51.100.13/32", "198.51.100.15/32",
		"198.51.100.17/32", "203.0.113.2/25", "2001:db8::2/64"}
	if diff := cmp.Diff(want, cidrs(l.nodeAddrs())); diff != "" {
		t.Errorf("node addresses (-want +got):\n%s", diff)
	}
}
