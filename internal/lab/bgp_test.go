package lab

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
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

// hopSampler reads the router's next hops for one VIP every 100 ms.
type hopSampler struct {
	mu      sync.Mutex
	samples []hopSample
	stop    func()
	done    chan struct{}
}

type hopSample struct {
	at   time.Time
	hops []string
}

func sampleHops(l *Lab, vip netip.Addr) *hopSampler {
	ctx, cancel := context.WithCancel(context.Background())
	s := &hopSampler{stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			hops, err := l.NextHops(vip)
			if err == nil {
				s.mu.Lock()
				s.samples = append(s.samples, hopSample{time.Now(), hops})
				s.mu.Unlock()
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// since returns the samples taken from t on, and how many had zero or more than one hop.
func (s *hopSampler) since(from time.Time) (out []hopSample, zero, many int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.samples {
		if x.at.Before(from) {
			continue
		}
		out = append(out, x)
		switch {
		case len(x.hops) == 0:
			zero++
		case len(x.hops) > 1:
			many++
		}
	}
	return out, zero, many
}

func (s *hopSampler) last() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) == 0 {
		return nil
	}
	return s.samples[len(s.samples)-1].hops
}

// longestDark is the longest run of samples from t on with no next hop, measured from the
// last sample before it to the first after it (an upper bound, 100 ms resolution).
func (s *hopSampler) longestDark(from time.Time) time.Duration {
	out, _, _ := s.since(from)
	var longest time.Duration
	for i := 0; i < len(out); i++ {
		if len(out[i].hops) != 0 {
			continue
		}
		j := i
		for j < len(out) && len(out[j].hops) == 0 {
			j++
		}
		start, end := out[max(i-1, 0)].at, out[min(j, len(out)-1)].at
		longest = max(longest, end.Sub(start))
		i = j
	}
	return longest
}

// firstWithout returns when, from t on, the samples first stopped showing node.
func (s *hopSampler) firstWithout(from time.Time, node string) (time.Time, bool) {
	out, _, _ := s.since(from)
	for _, x := range out {
		if !slices.Contains(x.hops, node) {
			return x.at, true
		}
	}
	return time.Time{}, false
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

// peerEntries returns each node's Established condition of a BGPPeer: reason and when.
func peerEntries(t *testing.T, dyn dynamic.Interface, peer string) map[string]metav1.Condition {
	t.Helper()
	u, err := dyn.Resource(v1alpha1.BGPPeerResource).Get(t.Context(), peer, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var p v1alpha1.BGPPeer
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]metav1.Condition{}
	for _, n := range p.Status.Nodes {
		if len(n.Conditions) > 0 {
			out[n.Node] = n.Conditions[0]
		}
	}
	return out
}

func waitPeer(t *testing.T, dyn dynamic.Interface, peer string, ok func(metav1.Condition) bool) {
	t.Helper()
	var got map[string]metav1.Condition
	if !waitUntil(t, bgpLimit, func() bool {
		got = peerEntries(t, dyn, peer)
		for _, c := range got {
			if !ok(c) {
				return false
			}
		}
		return len(got) == 3
	}) {
		t.Fatalf("BGPPeer %s entries: %v", peer, got)
	}
}

func bgpBadInput(t *testing.T, l *Lab) {
	dyn := dynamic.NewForConfigOrDie(l.Env().AdminConfig())
	waitPeer(t, dyn, "router-v4", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue }) // the revived node too
	before := peerEntries(t, dyn, "router-v4")
	apply := func(kind, objs string) {
		t.Helper()
		if err := l.ApplyBGPObjects(t.Context(), dyn, kind, objs); err != nil {
			t.Fatal(err)
		}
	}
	v6 := fmt.Sprintf("router-v6: {address: '%s', asn: %%d, myASN: %d, holdTime: 3s, keepaliveTime: 1s, passwordSecretRef: {name: %%s}}", RouterIPv6, nodeASN)
	apply("BGPPeer", fmt.Sprintf(v6, 64999, "router-password"))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Reason == "PeerRefused" })

	sec := strings.NewReplacer("router-password", "wrong-password")
	if _, err := l.Admin().CoreV1().Secrets(l.Nodes()[0].DaemonArgs().Namespace).Create(t.Context(),
		wrongSecret(l.Nodes()[0].DaemonArgs().Namespace), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	apply("BGPPeer", sec.Replace(fmt.Sprintf(v6, routerASN, "router-password")))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Status == metav1.ConditionFalse && c.Reason != "PeerRefused" })
	apply("BGPPeer", "nowhere: {address: 198.51.100.250, asn: 64512, myASN: 64600}")
	waitPeer(t, dyn, "nowhere", func(c metav1.Condition) bool { return c.Status == metav1.ConditionFalse })
	apply("BGPAdvertisement", "broken: {pools: [no-such-pool]}")
	if err := l.ApplyBGPObjects(t.Context(), dyn, "BGPPeer", "bad-address: {address: 198.51.100.300, asn: 1, myASN: 2}"); err == nil {
		t.Error("a BGPPeer with address 198.51.100.300 was admitted")
	}
	waitUntil(t, bgpLimit, func() bool {
		u, err := dyn.Resource(v1alpha1.BGPAdvertisementResource).Get(t.Context(), "broken", metav1.GetOptions{})
		return err == nil && strings.Contains(fmt.Sprint(u.Object["status"]), "UnknownPool")
	})

	after := peerEntries(t, dyn, "router-v4")
	for node, c := range before {
		if a := after[node]; a.Status != metav1.ConditionTrue || !a.LastTransitionTime.Equal(&c.LastTransitionTime) {
			t.Errorf("router-v4 session of %s: before %v %v, after %v %v; want established throughout", node, c.Status, c.LastTransitionTime, a.Status, a.LastTransitionTime)
		}
	}
	waitHops(t, l, BGPVIP4(false, 1), nodeNames(l)...)
	apply("BGPPeer", fmt.Sprintf(v6, routerASN, "router-password"))
	waitPeer(t, dyn, "router-v6", func(c metav1.Condition) bool { return c.Status == metav1.ConditionTrue })
}

func wrongSecret(ns string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-password", Namespace: ns},
		StringData: map[string]string{"password": "not-the-router-password"}}
}
