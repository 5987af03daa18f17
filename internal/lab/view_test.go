package lab

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestRowFor_CountsDarkTimeOnlyAfterTheFirstAnswer(t *testing.T) {
	vip := netip.MustParseAddr("198.51.100.100")
	tests := []struct {
		name        string
		who         []string
		now         time.Time
		wantDark    time.Duration
		wantLongest time.Duration
	}{
		{name: "never answered is not an outage", who: []string{"", "", ""}, now: at(300)},
		{name: "dark now after an answer", who: []string{"a", "", ""}, now: at(350),
			wantDark: 250 * time.Millisecond, wantLongest: 250 * time.Millisecond},
		{name: "an earlier outage stays the longest", who: []string{"a", "", "", "", "a", ""}, now: at(550),
			wantDark: 50 * time.Millisecond, wantLongest: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rowFor(vip, rounds(tc.who...), tc.now)
			if r.DarkFor != tc.wantDark || r.Longest != tc.wantLongest {
				t.Errorf("dark %v longest %v; want %v and %v", r.DarkFor, r.Longest, tc.wantDark, tc.wantLongest)
			}
		})
	}
}

func TestRender_ShowsSplitBrainUnknownLeaseAndAPIFailure(t *testing.T) {
	var b strings.Builder
	Render(&b, Status{ID: "vkl-abcdef", Timing: FastTiming, APIErr: errors.New("context deadline exceeded"),
		APIDown: 2 * time.Second, Nodes: []string{"node-1 running", "node-2 paused"}},
		[]Row{
			{VIP: VIP4(0), Service: "web", Answering: []string{"node-1", "node-2"}, Lease: "node-1", LeaseSeen: true},
			{VIP: VIP6(0), Service: "web6"},
		})
	out := b.String()
	for _, want := range []string{"vkl-abcdef", "fast (5s/3s/1s)", "Lease reads failing for 2s",
		"node-2 paused", "node-1+node-2 (SPLIT)", "2001:db8:1::100  web6     -"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := Line(Row{VIP: VIP4(3), Service: "local", Answering: []string{"node-2"}, LeaseSeen: true}); got !=
		"198.51.100.103 local answering=node-2 lease=-" {
		t.Errorf("Line = %q", got)
	}
}
