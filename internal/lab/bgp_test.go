package lab

import (
	"context"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// The same BGP test against FRR's bgpd and against BIRD 2: a router between the node LAN
// and a client LAN, the real daemon with --bgp on three nodes (issue 15).

func TestBGP_FRR(t *testing.T)  { runBGP(t, RouterFRR, true) }
func TestBGP_BIRD(t *testing.T) { runBGP(t, RouterBIRD, false) }

// bgpLimit bounds every wait of these tests; it is a limit, not a target.
const bgpLimit = 60 * time.Second

func runBGP(t *testing.T, kind string, badInput bool) {
	needRouter(t, kind)
	if err := checkHost(); err != nil {
		t.Skipf("no lab: %v", err)
	}
	bin, err := daemonBin()
	if err != nil {
		t.Fatalf("daemon binary: %v", err)
	}
	l := StartTest(t, Config{Nodes: 3, Timing: BGPTiming, DaemonBin: bin, BGP: kind})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Fatalf("lab daemons: %v", err)
	}
	t.Run("ECMP", func(t *testing.T) { bgpECMP(t, l) })
	t.Run("ECMPLocalFollowsTheEndpoint", func(t *testing.T) { bgpLocal(t, l) })
	t.Run("IPv6OverIPv6Sessions", func(t *testing.T) { bgpIPv6(t, l) })
	t.Run("Single", func(t *testing.T) { bgpSingle(t, l) })
	if badInput {
		t.Run("BadInput", func(t *testing.T) { bgpBadInput(t, l) })
	}
}

// needRouter skips the test when the router's binaries are missing (hack/deps.sh installs
// them), or fails it when $CI is set.
func needRouter(t *testing.T, kind string) {
	bins := map[string][]string{RouterFRR: {"/usr/lib/frr/zebra", "/usr/lib/frr/bgpd", "vtysh"}, RouterBIRD: {"bird", "birdc"}}[kind]
	for _, b := range bins {
		if _, err := exec.LookPath(b); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s missing (hack/deps.sh installs frr and bird2): %v", b, err)
			}
			t.Skipf("%s missing; run `bash hack/deps.sh` (installs frr and bird2): %v", b, err)
		}
	}
}

func waitHops(t *testing.T, l *Lab, vip netip.Addr, want ...string) {
	t.Helper()
	var got []string
	ok := waitUntil(t, bgpLimit, func() bool {
		got, _ = l.NextHops(vip)
		return slices.Equal(got, want)
	})
	if !ok {
		t.Fatalf("router next hops for %s = %v, want %v", vip, got, want)
	}
}

func nodeNames(l *Lab) []string {
	var out []string
	for _, n := range l.Nodes() {
		out = append(out, n.Name())
	}
	return out
}

func bgpECMP(t *testing.T, l *Lab) {
	vip := BGPVIP4(false, 1)
	if err := l.CreateService(t.Context(), ServiceSpec{Name: "bgp-ecmp", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)}); err != nil {
		t.Fatal(err)
	}
	waitHops(t, l, vip, nodeNames(l)...)
	cli := map[string]string{RouterFRR: "show ip route " + vip.String() + "/32 json", RouterBIRD: "show route for " + vip.String() + "/32 all"}
	out, err := l.RouterShow(t.Context(), cli[l.RouterKind()])
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range l.Nodes() {
		if !strings.Contains(out, n.IPv4().String()) {
			t.Errorf("router CLI shows no next hop %s (%s):\n%s", n.IPv4(), n.Name(), out)
		}
	}
	bgpCommunity(t, l, vip)
	bgpMetrics(t, l.Nodes()[0])
	answered := map[string]bool{}
	for range 6 {
		name, err := l.DialVIP(t.Context(), vip)
		if err != nil {
			t.Fatal(err)
		}
		answered[name] = true
	}
	t.Logf("ECMP %s: next hops %v, TCP answered by %v", vip, nodeNames(l), answered)
}

// bgpCommunity checks that the router got the advertisement's community and none of the
// speaker's internal tags (large communities).
func bgpCommunity(t *testing.T, l *Lab, vip netip.Addr) {
	cli := map[string]string{RouterFRR: "show bgp ipv4 unicast " + vip.String() + "/32 json", RouterBIRD: "show route for " + vip.String() + "/32 all"}
	want := map[string]string{RouterFRR: "64600:100", RouterBIRD: "(64600,100)"}[l.RouterKind()]
	out, err := l.RouterShow(t.Context(), cli[l.RouterKind()])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, want) || strings.Contains(strings.ToLower(out), "large") {
		t.Errorf("router shows %s without community %s or with a large community:\n%s", vip, want, out)
	}
}

// bgpMetrics checks a node's BGP metrics: its IPv4 session up, routes advertised.
func bgpMetrics(t *testing.T, n *Node) {
	resp, err := http.Get("http://" + n.DaemonArgs().MetricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for _, want := range []string{`vipkeeper_bgp_session_up{peer="router-v4"} 1`, `vipkeeper_bgp_session_state{peer="router-v4",state="Established"} 1`,
		`vipkeeper_bgp_routes_advertised{peer="router-v4"}`, `vipkeeper_bgp_updates_sent_total{peer="router-v4"}`, `vipkeeper_bgp_session_flaps_total{peer="router-v4"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("%s metrics lack %s", n.Name(), want)
		}
	}
}

func bgpLocal(t *testing.T, l *Lab) {
	vip := BGPVIP4(false, 2)
	spec := ServiceSpec{Name: "bgp-local", VIPs: []netip.Addr{vip}, Local: true, Endpoints: []Endpoint{{Node: "node-1"}}}
	if err := l.CreateService(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	waitHops(t, l, vip, "node-1")
	if _, err := l.MoveEndpoint(t.Context(), "bgp-local", "node-1", "node-3"); err != nil {
		t.Fatal(err)
	}
	waitHops(t, l, vip, "node-3")
	if name, err := l.DialVIP(t.Context(), vip); err != nil || name != "node-3" {
		t.Errorf("TCP to %s answered by %q (%v), want node-3", vip, name, err)
	}
}

func bgpIPv6(t *testing.T, l *Lab) {
	vip := BGPVIP6(false, 1)
	if err := l.CreateService(t.Context(), ServiceSpec{Name: "bgp-v6", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)}); err != nil {
		t.Fatal(err)
	}
	waitHops(t, l, vip, nodeNames(l)...)
	if _, err := l.DialVIP(t.Context(), vip); err != nil {
		t.Error(err)
	}
}

func bgpSingle(t *testing.T, l *Lab) {
	vip := BGPVIP4(true, 1)
	if err := l.CreateService(t.Context(), ServiceSpec{Name: "bgp-single", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)}); err != nil {
		t.Fatal(err)
	}
	s := sampleHops(l, vip)
	defer func() { s.stop(); <-s.done }()
	var holder string
	waitUntil(t, bgpLimit, func() bool { h := s.last(); holder = strings.Join(h, ","); return len(h) == 1 })
	steady := time.Now()
	time.Sleep(2 * time.Second)
	if got, zero, many := s.since(steady); zero+many > 0 {
		t.Errorf("steady single mode: %d of %d samples with zero and %d with two or more next hops", zero, len(got), many)
	}

	// SIGTERM: the holder withdraws, releases, the best-ranked other node announces.
	term := time.Now()
	if _, err := l.Node(holder).Terminate(t.Context()); err != nil {
		t.Fatal(err)
	}
	successor := waitOther(t, s, holder)
	var others []string
	for _, n := range nodeNames(l) {
		if n != holder {
			others = append(others, n)
		}
	}
	waitHops(t, l, BGPVIP4(false, 1), others...) // its ECMP route went with it
	got, zero, many := s.since(term)
	t.Logf("SIGTERM of %s: route moved to %s; %d samples: %d with zero next hops (longest dark %v), %d with two or more",
		holder, successor, len(got), zero, s.longestDark(term).Round(time.Millisecond), many)
	if many > 0 {
		t.Errorf("SIGTERM: %d samples with two or more next hops", many)
	}
	if err := l.Node(holder).Start(); err != nil {
		t.Fatal(err)
	}
	bgpPowerOff(t, l, s, successor)
}

// waitOther waits until exactly one next hop that is not old shows, stable for 1 s.
func waitOther(t *testing.T, s *hopSampler, old string) string {
	t.Helper()
	var now string
	var since time.Time
	ok := waitUntil(t, bgpLimit, func() bool {
		h := s.last()
		if len(h) != 1 || h[0] == old {
			now = ""
			return false
		}
		if h[0] != now {
			now, since = h[0], time.Now()
		}
		return time.Since(since) >= time.Second
	})
	if !ok {
		t.Fatalf("no single next hop other than %s; last %v", old, s.last())
	}
	return now
}

// bgpPowerOff freezes the holder and pulls its cable, as the lab's power-off fault does:
// it cannot withdraw, so the router must drop its route by the hold time (3 s), before
// the successor (after the lease duration, 7 s) announces; after the revival there must
// be no sample with two next hops either.
func bgpPowerOff(t *testing.T, l *Lab, s *hopSampler, holder string) {
	n := l.Node(holder)
	off := time.Now()
	if err := n.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := n.SetDataLink(t.Context(), false); err != nil {
		t.Fatal(err)
	}
	successor := waitOther(t, s, holder)
	gone, _ := s.firstWithout(off, holder)
	got, zero, many := s.since(off)
	t.Logf("power-off of %s: its route gone after %v (hold time 3s), %s announces; %d samples: %d dark (longest %v), %d with two or more",
		holder, gone.Sub(off).Round(10*time.Millisecond), successor, len(got), zero, s.longestDark(off).Round(time.Millisecond), many)
	if many > 0 {
		t.Errorf("power-off: %d samples with two or more next hops", many)
	}
	revived := time.Now()
	if err := n.SetDataLink(t.Context(), true); err != nil {
		t.Fatal(err)
	}
	if err := n.Continue(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	got, zero, many = s.since(revived)
	t.Logf("revival of %s: %d samples: %d dark, %d with two or more; now %v", holder, len(got), zero, many, s.last())
	if many > 0 || len(s.last()) != 1 {
		t.Errorf("after the revival: %d samples with two or more next hops, last %v; want 0 and one", many, s.last())
	}
}
