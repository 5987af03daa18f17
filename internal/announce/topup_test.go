package announce

import (
	"testing"
	"time"
)

func TestTopUpAt_RunsMoreThanASecondBeforeUntilWhenThatGainsTime(t *testing.T) {
	start := time.Unix(1000, 0)
	at := func(d time.Duration) time.Time { return start.Add(d) }
	for _, tc := range []struct {
		name           string
		until, expires time.Duration // from start
		want           time.Duration // from start; 0: no top-up
	}{
		{name: "lifetime ends at until", until: 3 * time.Second, expires: 3 * time.Second},
		{name: "ends no earlier than a top-up would", until: 3*time.Second + topUpLead, expires: 3 * time.Second},
		// 2.5 s left: 2 s set; at 1.3 s, 1.2 s are left: 1 s set, ending 0.2 s before until.
		{name: "half a second short", until: 2500 * time.Millisecond, expires: 2 * time.Second, want: 1300 * time.Millisecond},
		// An Install right after a renewal: 2.999 s left, 2 s set; at 1.799 s, 0.201 s
		// before the kernel's end.
		{name: "almost a second short", until: 2999 * time.Millisecond, expires: 2 * time.Second, want: 1799 * time.Millisecond},
		{name: "one second set, almost a second short", until: 1950 * time.Millisecond, expires: time.Second, want: 750 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := topUpAt(at(tc.until), at(tc.expires))
			var want time.Time
			if tc.want != 0 {
				want = at(tc.want)
			}
			if !got.Equal(want) {
				t.Errorf("topUpAt = %v after start (zero: %v), want %v", got.Sub(start), got.IsZero(), tc.want)
			}
		})
	}
}

// The flapping-etcd fault (docs/benchmarks.md): renewals stall while the fence stands, and
// a lifetime rounded down to whole seconds ended up to a second before it; the VIP went dark
// while its holder still held it. Run now tops the lifetime up, never past Until.
func TestRun_TopsUpTheLifetimeWhenUntilStopsMoving(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	k := seam(a)
	runAnnouncer(t, a)
	for _, s := range []string{"198.51.100.7", "2001:db8::7"} {
		ip := addr(s)
		until := time.Now().Add(2500 * time.Millisecond)
		if err := a.Add(t.Context(), Address{IP: ip, Until: until}); err != nil {
			t.Fatalf("Add %s: %v", s, err)
		}
		waitFor(3*time.Second, func() bool { return len(k.calls(ip)) >= 2 || !time.Now().Before(until) })
		calls := k.calls(ip)
		if len(calls) < 2 {
			t.Fatalf("%s: %d lifetime set(s) before Until, want the install and a top-up", s, len(calls))
		}
		end := func(c setCall) time.Time { return c.at.Add(time.Duration(c.lft) * time.Second) }
		first, top := calls[0], calls[1]
		if !end(top).After(end(first)) || end(top).After(until) {
			t.Errorf("%s: top-up at %v with %ds ends %v before Until; the install ended %v before it; want later than the install's end and not after Until",
				s, until.Sub(top.at), top.lft, until.Sub(end(top)), until.Sub(end(first)))
		}
		t.Logf("%s: the install's lifetime ended %v before Until, the top-up's %v", s,
			until.Sub(end(first)).Round(time.Millisecond), until.Sub(end(top)).Round(time.Millisecond))
	}
}

// The core refreshes a held VIP's lifetime a second and more before the lifetime it asked
// for ends; a top-up then is a wasted netlink call per VIP and refresh (at 1,000 VIPs, a
// thousand calls a second). Refreshes every second, each 3 s before Until as the fast timing
// makes them, must cost one call each and no top-up.
func TestRun_NoTopUpWhileRefreshesKeepMovingUntil(t *testing.T) {
	l := newLab(t)
	a := l.announcer(Config{})
	k := seam(a)
	runAnnouncer(t, a)
	ip := addr("198.51.100.7")
	const refreshes = 4
	for i := range refreshes {
		if err := a.Add(t.Context(), Address{IP: ip, Until: time.Now().Add(3 * time.Second)}); err != nil {
			t.Fatalf("Add %d: %v", i, err)
		}
		time.Sleep(time.Second)
	}
	if n := len(k.calls(ip)); n != refreshes {
		t.Errorf("%d lifetime sets for %d Adds, want one each and no top-up", n, refreshes)
	}
}
