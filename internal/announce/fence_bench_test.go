package announce

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// fenceTrials is how many gates TestFencePrecision lets expire per family.
const fenceTrials = 50

// TestFencePrecision measures how late the node's last answer for a VIP whose gate is not
// refreshed leaves, after Until and after the gate's own timeout (the start of the batch
// + timeout): the figures behind FenceLateness in docs/dataplane.md. Times are the
// client's kernel receive timestamps (capture), so the test's own scheduling does not
// count. It asserts nothing; a trial without any answer (a starved prober) is skipped.
//
//	VIPKEEPER_FENCE_PRECISION=1 go test -run TestFencePrecision -v ./internal/announce
func TestFencePrecision(t *testing.T) {
	if os.Getenv("VIPKEEPER_FENCE_PRECISION") != "1" {
		t.Skip("a measurement, not a check (about 40 s): set VIPKEEPER_FENCE_PRECISION=1 to print the table in docs/dataplane.md")
	}
	for _, tc := range fenceCases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLab(t)
			a := l.fenced(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			vip := addr(tc.vip)
			var vsUntil, vsTimeout []time.Duration
			skipped := 0
			for range fenceTrials {
				until, timeout, last, ok := fenceTrial(t, l, a, vip)
				if !ok {
					skipped++
					continue
				}
				vsUntil, vsTimeout = append(vsUntil, last.Sub(until)), append(vsTimeout, last.Sub(timeout))
			}
			if len(vsUntil) == 0 {
				t.Fatalf("no trial saw an answer")
			}
			t.Logf("%s: %d trials (%d skipped), probes every 0.5 ms; the last answer left ...\n%s\n%s",
				tc.name, len(vsUntil), skipped, summary("after Until", vsUntil), summary("after the timeout", vsTimeout))
		})
	}
}

// fenceTrial installs vip for 150 ms, probes it densely across its Until and returns
// Until, when the gate's timeout ended (armLocked's start + timeout) and when the last
// answer left the node.
func fenceTrial(t *testing.T, l *lab, a *Announcer, vip netip.Addr) (until, timeout, last time.Time, ok bool) {
	until = time.Now().Add(150 * time.Millisecond)
	if err := a.Add(t.Context(), Address{IP: vip, Until: until}); err != nil {
		t.Fatalf("Add: %v", err)
	}
	timeout = expiresOf(t, a, vip)
	stop := until.Add(60 * time.Millisecond)
	wire := l.capture(vip, stop)
	l.answers(vip, 500*time.Microsecond, stop)
	got := wire()
	if err := a.Remove(t.Context(), vip); err != nil {
		t.Fatalf("Remove: %v", err)
	}
	if len(got) == 0 {
		return until, timeout, last, false
	}
	return until, timeout, got[len(got)-1], true
}

// summary prints min, median, p99 and max of ds in milliseconds.
func summary(what string, ds []time.Duration) string {
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) string {
		i := min(len(s)-1, int(q*float64(len(s))))
		return fmt.Sprintf("%.1f", float64(s[i])/float64(time.Millisecond))
	}
	return fmt.Sprintf("  %-20s min %s  median %s  p99 %s  max %s ms", what, at(0), at(0.5), at(0.99), at(1))
}

// BenchmarkFence_Refresh measures the refresh of a gate: one batch re-arming n VIPs (the
// fence alone), and Add refreshing one VIP of n held (one batch, no address call; compare
// BenchmarkAnnouncer_IPv6's refresh, which re-sends the address). n is 1000 for IPv6 and
// 500 for IPv4, which has only the two documentation /24s.
//
//	go test -run '^$' -bench Fence_Refresh -benchtime 200x ./internal/announce
func BenchmarkFence_Refresh(b *testing.B) {
	for _, fam := range []string{"ipv4", "ipv6"} {
		n := 1000
		if fam == "ipv4" {
			n = 500
		}
		b.Run(fmt.Sprintf("batch=%d/%s", n, fam), func(b *testing.B) {
			l := newLab(b)
			a := l.fenced(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			elems := make([]fenceElem, n)
			for i := range elems {
				elems[i] = fenceElem{ip: fenceVIP(fam, i), timeout: 2 * time.Second}
			}
			b.ResetTimer()
			for range b.N {
				if err := a.fence.arm(elems); err != nil {
					b.Fatalf("arm: %v", err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/vip")
		})
		b.Run(fmt.Sprintf("add/held=%d/%s", n, fam), func(b *testing.B) {
			l := newLab(b)
			a := l.fenced(Config{Interface: "eth0", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			k := seam(a)
			until := time.Now().Add(time.Hour)
			for i := range n {
				if err := a.Add(b.Context(), Address{IP: fenceVIP(fam, i), Until: until}); err != nil {
					b.Fatalf("Add: %v", err)
				}
			}
			calls := k.replaces
			b.ResetTimer()
			for i := range b.N {
				// Until moves by a millisecond a refresh: no address call (AddrSlack/2 is 5 s).
				u := until.Add(time.Duration(i+1) * time.Millisecond)
				if err := a.Add(b.Context(), Address{IP: fenceVIP(fam, i%n), Until: u}); err != nil {
					b.Fatalf("Add: %v", err)
				}
			}
			b.StopTimer()
			if k.replaces != calls {
				b.Errorf("%d address calls during refreshes, want none", k.replaces-calls)
			}
		})
	}
}

// fenceVIP is the i-th benchmark VIP of fam: IPv4 from 198.51.100.6 and 203.0.113.6 on
// (i < 500), IPv6 benchVIP's.
func fenceVIP(fam string, i int) netip.Addr {
	if strings.HasSuffix(fam, "4") {
		if i < 250 {
			return netip.AddrFrom4([4]byte{198, 51, 100, byte(6 + i)})
		}
		return netip.AddrFrom4([4]byte{203, 0, 113, byte(6 + i - 250)})
	}
	return benchVIP(i)
}
