package lab

import (
	"context"
	"net/netip"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// poolService creates a Cluster LoadBalancer Service of our class with the annotations
// given (no endpoints needed) and deletes it when t ends.
func poolService(t *testing.T, l *Lab, name string, ann map[string]string) {
	t.Helper()
	class, noNodePorts := svcrules.DefaultClass, false
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ServiceNamespace, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, LoadBalancerClass: &class, AllocateLoadBalancerNodePorts: &noNodePorts,
			Ports: []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)}}}}
	svcs := l.Admin().CoreV1().Services(ServiceNamespace)
	if _, err := svcs.Create(t.Context(), svc, metav1.CreateOptions{FieldManager: fieldManager}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svcs.Delete(context.Background(), name, metav1.DeleteOptions{}) })
}

// Issue 13 section 3, with two data LANs: LAN A (eth0) on every node, LAN B (eth1) on
// node-1 and node-2 only. Pool "a" selects node-2 and node-3 by label and allows eth[0];
// pool "b" selects every node and allows eth1. Each pool's VIP is answered only on its
// LAN, only by a selected node; node-1 never holds a's VIP (not selected) and node-3
// never holds b's (no eth1: never a candidate), not even when it is the only node left
// running. Pool a's VIP comes from the allocator (vipkeeper.io/pool), pool b's is asked
// for with MetalLB's annotation and belongs to b by its address.
func TestPools_EachPoolIsAnnouncedOnlyOnItsLANByItsNodes(t *testing.T) {
	l := sharedLab(t)
	n1, n2, n3 := l.Node(NodeName(1)), l.Node(NodeName(2)), l.Node(NodeName(3))
	t.Cleanup(func() { restartStopped(t, l) }) // after the Services, pools and LAN B are gone
	t.Cleanup(func() { logTailsIfFailed(t, l) })
	onEveryNode(t, l, strictARP, defaultARP) // multi-homed nodes answer ARP only on the VIP's interface
	lanB := buildSecondLAN(t, l, n1, n2)
	vipA, vipB := VIP4(70), lanB.addr(20)
	for _, n := range []string{n2.Name(), n3.Name()} {
		labelNode(t, l, n, "lab.vipkeeper.io/lan-a")
	}
	createVIPPool(t, l, "lab-lan-a", map[string]any{"addresses": []any{vipA.String()}, "autoAssign": false,
		"l2": map[string]any{"interfaces": []any{"eth[0]"}, "nodeSelectors": []any{
			map[string]any{"matchLabels": map[string]any{"lab.vipkeeper.io/lan-a": "yes"}}}}})
	createVIPPool(t, l, "lab-lan-b", map[string]any{"addresses": []any{lanB.net4.String()}, "autoAssign": false,
		"l2": map[string]any{"interfaces": []any{"eth1"}}})
	start := time.Now()
	for _, p := range []*Prober{l.Prober(), lanB.prober} {
		p.Watch(vipA, vipB)
	}
	poolService(t, l, "lan-a", map[string]string{svcrules.AnnotationPool: "lab-lan-a"})
	poolService(t, l, "lan-b", map[string]string{svcrules.AnnotationMetalLBIPs: vipB.String()})

	holderA := answeredOnly(t, l, l.Timeline(), vipA, n2.Name(), n3.Name())
	holderB := answeredOnly(t, l, lanB.tl, vipB, n1.Name(), n2.Name())
	t.Logf("%s (pool a) held by %s on LAN A, %s (pool b) by %s on LAN B", vipA, holderA, vipB, holderB)
	waitEvent(t, l, "lan-b", "CannotCarry", "node "+n3.Name()+" cannot carry "+vipB.String())

	// The LAN B holder stops: the other LAN B node takes over; then that one stops too,
	// and node-3, the only node left for b, stays out.
	other := map[string]*Node{n1.Name(): n2, n2.Name(): n1}[holderB]
	stopped := stopAndWatch(t, l, l.Node(holderB))
	if next := takenOver(t, l, lanB.tl, vipB, stopped, holderB); next != other.Name() {
		t.Errorf("%s: %s took over from %s, want %s", vipB, next, holderB, other.Name())
	}
	stopAndWatch(t, l, other)
	darkSince := time.Now()
	tm := l.Config().Timing
	time.Sleep(tm.LeaseDuration + 2*tm.RetryPeriod) // longer than any candidate waits
	if st := Analyze(lanB.tl.Segments(vipB), darkSince.Add(tm.RenewDeadline), time.Time{}); len(st.Answered) > 0 {
		t.Errorf("%s answered by %v with no LAN B node running", vipB, st.Answered)
	}

	neverAnsweredBut(t, l.Timeline(), "LAN A", vipA, start, n2.Name(), n3.Name())
	neverAnsweredBut(t, l.Timeline(), "LAN A", vipB, start)
	neverAnsweredBut(t, lanB.tl, "LAN B", vipA, start)
	neverAnsweredBut(t, lanB.tl, "LAN B", vipB, start, n1.Name(), n2.Name())
	neverHeldBy(t, l, vipA, n1.Name())
	neverHeldBy(t, l, vipB, n3.Name())
}

// stopAndWatch SIGTERMs n and returns when the signal was sent.
func stopAndWatch(t *testing.T, l *Lab, n *Node) time.Time {
	t.Helper()
	at := l.Mark("SIGTERM " + n.Name())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := n.Terminate(ctx); err != nil {
		t.Fatal(err)
	}
	return at
}

// takenOver waits until a node other than old answers vip alone on tl (for stableFor,
// after since) and holds its Lease, and returns it.
func takenOver(t *testing.T, l *Lab, tl *Timeline, vip netip.Addr, since time.Time, old string) string {
	t.Helper()
	var next string
	ok := waitUntil(t, settleLimit, func() bool {
		var stable bool
		next, _, stable = successor(tl.Segments(vip), since, old)
		lease, _ := l.Timeline().Holder(vip)
		return stable && lease == next
	})
	if !ok {
		t.Fatalf("%s: no node took over from %s; answers %v", vip, old, tl.Segments(vip))
	}
	return next
}

// restartStopped starts every lab node that is not running and waits until all are ready,
// so later tests find every daemon up.
func restartStopped(t *testing.T, l *Lab) {
	for _, n := range l.Nodes() {
		if !n.Running() {
			if err := n.Start(); err != nil {
				t.Errorf("restart %s: %v", n.Name(), err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), settleLimit)
	defer cancel()
	if err := l.WaitReady(ctx); err != nil {
		t.Errorf("lab daemons after the test: %v", err)
	}
}

// logTailsIfFailed logs the end of every daemon's log when t failed (the shared lab lives on).
func logTailsIfFailed(t *testing.T, l *Lab) {
	if t.Failed() {
		for _, n := range append(l.Nodes(), l.Controller()) {
			t.Logf("%s (%s), last lines:\n%s", n.Name(), n.State(), n.LogTail(40))
		}
	}
}
