package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// secondLAN is a second data LAN on some nodes of a running lab: a bridge in its own
// namespace, eth1 in each of those nodes, and a client with its own Prober and Timeline.
// Its IPv4 network is a /27 of 203.0.113.0/24 other than the lab's management one (it
// lives only in the lab's namespaces, so it collides with nothing on the host).
type secondLAN struct {
	lanNS, clientNS string
	net4            netip.Prefix
	tl              *Timeline
	prober          *Prober
}

func (s *secondLAN) addr(n int) netip.Addr {
	b := s.net4.Addr().As4()
	b[3] += byte(n)
	return netip.AddrFrom4(b)
}

func lan2MAC(i int) string { return fmt.Sprintf("02:76:6b:00:01:%02x", i) }

// buildSecondLAN builds it on nodes and removes it when t ends; node i gets .(10+i).
func buildSecondLAN(t *testing.T, l *Lab, nodes ...*Node) *secondLAN {
	t.Helper()
	s := &secondLAN{lanNS: l.plan.tag() + "-lan2", clientNS: l.plan.tag() + "-client2", tl: NewTimeline(),
		net4: plan{slot: (l.plan.slot + mgmtSlots/2) % mgmtSlots}.mgmtNet()}
	t.Cleanup(func() {
		for _, ns := range []string{s.clientNS, s.lanNS} { // their veths take the nodes' eth1 along
			_, _ = run(context.Background(), "ip", "netns", "del", ns)
		}
	})
	cmds := append(quietNS(s.lanNS), ipc("-n", s.lanNS, "link", "add", "br0", "type", "bridge", "forward_delay", "0", "mcast_snooping", "0"),
		ipc("-n", s.lanNS, "link", "set", "br0", "up"))
	cmds = append(cmds, quietNS(s.clientNS)...)
	var v4, v6 []netip.Addr
	for k := range probeSources {
		v4, v6 = append(v4, s.addr(2+k)), append(v6, netip.MustParseAddr(fmt.Sprintf("2001:db8:2::%d", 2+k)))
	}
	cmds = append(cmds, s.plug("client", s.clientNS, "eth0", lan2MAC(0), v4, v6)...)
	owners := map[string]string{}
	for _, n := range nodes {
		owners[lan2MAC(n.Index())] = n.Name()
		cmds = append(cmds, s.plug(l.plan.lanPort(n.Index()), n.Namespace(), "eth1", lan2MAC(n.Index()), []netip.Addr{s.addr(10 + n.Index())}, nil)...)
	}
	if err := steps(t.Context(), cmds...); err != nil {
		t.Fatalf("second LAN: %v", err)
	}
	s.startProber(t, v4, v6, owners)
	return s
}

// plug connects a new veth to the bridge: port on the bridge, ifname with addresses in ns.
func (s *secondLAN) plug(port, ns, ifname, mac string, v4, v6 []netip.Addr) [][]string {
	cmds := [][]string{
		ipc("-n", s.lanNS, "link", "add", port, "type", "veth", "peer", "name", ifname, "address", mac, "netns", ns),
		ipc("-n", s.lanNS, "link", "set", port, "master", "br0", "up"),
	}
	for _, a := range v4 {
		cmds = append(cmds, ipc("-n", ns, "addr", "add", netip.PrefixFrom(a, s.net4.Bits()).String(), "dev", ifname))
	}
	for _, a := range v6 {
		cmds = append(cmds, ipc("-n", ns, "addr", "add", netip.PrefixFrom(a, 64).String(), "dev", ifname, "nodad"))
	}
	return append(cmds, ipc("-n", ns, "link", "set", ifname, "up"))
}

func (s *secondLAN) startProber(t *testing.T, v4, v6 []netip.Addr, owners map[string]string) {
	t.Helper()
	p, err := NewProber(ProberConfig{NetNS: s.clientNS, Interface: "eth0", Sources4: v4, Sources6: v6, Timeline: s.tl,
		Owner: func(mac net.HardwareAddr) string { return owners[mac.String()] }})
	if err != nil {
		t.Fatalf("second LAN prober: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	s.prober = p
}

// onEveryNode sets sysctls on every node and the kernel's defaults back when t ends.
func onEveryNode(t *testing.T, l *Lab, set, reset []string) {
	t.Helper()
	for _, n := range l.Nodes() {
		ns := n.Namespace()
		t.Cleanup(func() {
			_, _ = run(context.Background(), "ip", append([]string{"netns", "exec", ns, "sysctl", "-qw"}, reset...)...)
		})
		if _, err := run(t.Context(), "ip", append([]string{"netns", "exec", ns, "sysctl", "-qw"}, set...)...); err != nil {
			t.Fatal(err)
		}
	}
}

// labelNode sets a label on a lab node's Node object and removes it when t ends.
func labelNode(t *testing.T, l *Lab, node, key string) {
	t.Helper()
	patch := func(v any) []byte { return fmt.Appendf(nil, `{"metadata":{"labels":{%q:%s}}}`, key, v) }
	nodes := l.Admin().CoreV1().Nodes()
	if _, err := nodes.Patch(t.Context(), node, "application/merge-patch+json", patch(`"yes"`), metav1.PatchOptions{}); err != nil {
		t.Fatalf("label %s: %v", node, err)
	}
	t.Cleanup(func() {
		_, _ = nodes.Patch(context.Background(), node, "application/merge-patch+json", patch("null"), metav1.PatchOptions{})
	})
}

// createVIPPool creates a VIPPool from its spec (as JSON-like maps) and deletes it when t ends.
func createVIPPool(t *testing.T, l *Lab, name string, spec map[string]any) {
	t.Helper()
	dyn := dynamic.NewForConfigOrDie(l.Env().AdminConfig())
	gvr := v1alpha1.Resource
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": v1alpha1.GroupVersion.String(), "kind": v1alpha1.Kind,
		"metadata": map[string]any{"name": name}, "spec": runtime.DeepCopyJSONValue(spec)}}
	if _, err := dyn.Resource(gvr).Create(t.Context(), u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create VIPPool %s: %v", name, err)
	}
	t.Cleanup(func() { _ = dyn.Resource(gvr).Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// answeredOnly is agreedHolderOn, and fails t unless the node is one of allowed.
func answeredOnly(t *testing.T, l *Lab, tl *Timeline, vip netip.Addr, allowed ...string) string {
	t.Helper()
	node := agreedHolderOn(t, l, tl, vip)
	if !slices.Contains(allowed, node) {
		t.Fatalf("%s is announced by %s, want one of %v", vip, node, allowed)
	}
	return node
}

// neverAnsweredBut fails t if a node not in allowed answered vip on tl since since, or two
// nodes answered at once.
func neverAnsweredBut(t *testing.T, tl *Timeline, what string, vip netip.Addr, since time.Time, allowed ...string) {
	t.Helper()
	st := Analyze(tl.Segments(vip), since, time.Time{})
	for _, n := range st.Answered {
		if !slices.Contains(allowed, n) {
			t.Errorf("%s: %s answered %s; only %v may", what, n, vip, allowed)
		}
	}
	if st.SplitBrain > 0 {
		t.Errorf("%s: two nodes answered %s for %v", what, vip, st.SplitBrain)
	}
}

// neverHeldBy fails t if node ever held vip's Lease.
func neverHeldBy(t *testing.T, l *Lab, vip netip.Addr, node string) {
	t.Helper()
	for _, h := range l.Timeline().Holders(vip) {
		if h.Holder == node {
			t.Errorf("%s: %s held the Lease at %v; it is no candidate", vip, node, h.Start.Sub(l.Started()))
		}
	}
}
