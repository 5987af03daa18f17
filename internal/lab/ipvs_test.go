package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/vipkeeper/vipkeeper/internal/announce"
	"github.com/vipkeeper/vipkeeper/internal/app"
)

// kube-proxy's strictARP settings, and the kernel's defaults.
var (
	strictARP  = []string{"net.ipv4.conf.all.arp_ignore=1", "net.ipv4.conf.all.arp_announce=2"}
	defaultARP = []string{"net.ipv4.conf.all.arp_ignore=0", "net.ipv4.conf.all.arp_announce=0"}
)

// kubeProxyIPVS gives every node what kube-proxy's IPVS mode gives it: kube-ipvs0 (a down
// bridge stands in for the dummy) holding vip, and the strictARP sysctls. It undoes all of
// it when t ends.
func kubeProxyIPVS(t *testing.T, l *Lab, vip netip.Addr) {
	t.Helper()
	host := netip.PrefixFrom(vip, vip.BitLen()).String()
	for _, n := range l.Nodes() {
		ns := n.Namespace()
		t.Cleanup(func() {
			ctx := context.Background()
			_, _ = run(ctx, "ip", "-n", ns, "link", "del", announce.KubeIPVS)
			_, _ = run(ctx, "ip", append([]string{"netns", "exec", ns, "sysctl", "-qw"}, defaultARP...)...)
		})
		err := steps(t.Context(),
			ipc("-n", ns, "link", "add", announce.KubeIPVS, "type", "bridge"),
			ipc("-n", ns, "addr", "add", host, "dev", announce.KubeIPVS),
			ipc(append([]string{"netns", "exec", ns, "sysctl", "-qw"}, strictARP...)...))
		if err != nil {
			t.Fatal(err)
		}
	}
}

// Issue 13 section 1: with kube-proxy in IPVS mode every node holds the VIP on kube-ipvs0.
// With strictARP only the holder answers ARP for it, and a SIGTERM hands it to another
// node with no round answered by two. Then a daemon started beside kube-ipvs0 without
// strictARP warns on its Node.
func TestIPVS_WithStrictARPOneNodeAnswersAndSIGTERMHandsOver(t *testing.T) {
	l := sharedLab(t)
	vip := VIP4(60)
	kubeProxyIPVS(t, l, vip)
	start := createAndTime(t, l, ServiceSpec{Name: "ipvs", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)})
	t.Cleanup(func() { _ = l.DeleteService(context.Background(), "ipvs") })
	holder := agreedHolder(t, l, vip)
	logFirstAnswer(t, l, vip, start)

	n := l.Node(holder)
	t.Cleanup(func() { restartForLab(t, l, n) })
	stopped := l.Mark("SIGTERM " + holder)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := n.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	var next string
	var after time.Duration
	ok := waitUntil(t, settleLimit, func() bool {
		var stable bool
		next, after, stable = successor(l.Timeline().Segments(vip), stopped, holder)
		lease, _ := l.Timeline().Holder(vip)
		return stable && lease == next
	})
	if !ok {
		t.Fatalf("%s: no other node took over from %s after its SIGTERM:\n%s", vip, holder, describe(l, vip))
	}
	st := noSplitBrain(t, l, vip, start)
	t.Logf("%s: SIGTERM of %s handed over to %s; %v from the signal to the new holder's first answer, "+
		"longest outage %v (a figure, not asserted)", vip, holder, next, after, st.LongestOutage)

	// A daemon started beside kube-ipvs0 with the kernel's ARP defaults warns on its Node.
	host := netip.PrefixFrom(vip, vip.BitLen()).String()
	err := steps(t.Context(), ipc("-n", n.Namespace(), "addr", "del", host, "dev", announce.KubeIPVS),
		ipc(append([]string{"netns", "exec", n.Namespace(), "sysctl", "-qw"}, defaultARP...)...))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	// Node Events live in ServiceNamespace (default) too, named after the node.
	waitEvent(t, l, n.Name(), app.ReasonARPNotStrict, "arp_ignore is 0 on eth0")
}

// successor finds the first node other than old that answered alone, for stableFor, after
// since; after is from since to its first answer.
func successor(segs []Segment, since time.Time, old string) (node string, after time.Duration, ok bool) {
	for i, s := range segs {
		start, end, in := clipped(segs, i, since, time.Time{})
		if in && len(s.Nodes) == 1 && s.Nodes[0] != old && end.Sub(start) >= stableFor {
			return s.Nodes[0], start.Sub(since), true
		}
	}
	return "", 0, false
}

// restartForLab starts n again if it is not running, so later tests find every daemon up.
func restartForLab(t *testing.T, l *Lab, n *Node) {
	if !n.Running() {
		if err := n.Start(); err != nil {
			t.Errorf("restart %s: %v", n.Name(), err)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleLimit)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Errorf("lab daemons after restarting %s: %v", n.Name(), err)
	}
}
