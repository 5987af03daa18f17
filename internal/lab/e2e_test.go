package lab

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/internal/controller"
)

// End-to-end tests of the daemon (issue: "Services and EndpointSlices in, one announcing
// node per VIP out"): the real binary with the deploy/ RBAC on three simulated nodes.

func TestE2E_ClusterServicesSpreadAcrossTheNodes(t *testing.T) {
	l := sharedLab(t)
	var vips []netip.Addr
	start := time.Now()
	for i := range 9 {
		vip := VIP4(20 + i)
		vips = append(vips, vip)
		createAndTime(t, l, ServiceSpec{Name: "spread-" + string(rune('a'+i)), VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)})
	}
	holders := map[string]int{}
	for _, vip := range vips {
		holders[agreedHolder(t, l, vip)]++
		noSplitBrain(t, l, vip, start)
	}
	t.Logf("9 Cluster VIPs per node: %v", holders)
	if len(holders) < 2 {
		t.Errorf("all 9 Cluster VIPs on %v, want them spread over the nodes", holders)
	}
}

func TestE2E_DaemonCrashAndRestartLeavesNoDuplicateAndStatusAndEventsAreSet(t *testing.T) {
	l := sharedLab(t)
	vip := VIP4(40)
	start := createAndTime(t, l, ServiceSpec{Name: "restart", VIPs: []netip.Addr{vip}, Endpoints: allNodes(l)})
	holder := agreedHolder(t, l, vip)
	waitIngress(t, l, "restart", vip)
	waitEvent(t, l, "restart", controller.ReasonVIPAnnounced, "announced on node "+holder)

	n := l.Node(holder)
	if _, err := n.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	time.Sleep(2 * time.Second) // another node takes over meanwhile (fast timing)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, settleLimit, func() bool {
		_, after, ok := TimeToHealthy(l.Timeline().Segments(vip), killed, 3*time.Second)
		return ok && after > 0
	})
	agreedHolder(t, l, vip)
	st := noSplitBrain(t, l, vip, start)
	t.Logf("%s: SIGKILL of %s and restart: longest outage %v, holder changes %d", vip, holder, st.LongestOutage, st.HolderChanges)
}

func TestE2E_BadInputGetsAnEventAndLeavesOtherServicesAlone(t *testing.T) {
	l := sharedLab(t)
	good := VIP4(50)
	createAndTime(t, l, ServiceSpec{Name: "bystander", VIPs: []netip.Addr{good}, Endpoints: allNodes(l)})
	holder := agreedHolder(t, l, good)
	settled := time.Now()
	bad := []struct {
		name, ips, reason string
	}{
		{"bad-unparsable", "198.51.100.300", controller.ReasonInvalidIP},
		{"bad-taken", good.String(), controller.ReasonIPInUse},
		{"bad-node-address", l.Nodes()[0].IPv4().String(), controller.ReasonNodeAddress},
	}
	for _, b := range bad {
		svc := service(ServiceSpec{Name: b.name, Endpoints: allNodes(l)})
		svc.Annotations[controller.AnnotationIPs] = b.ips
		if _, err := l.Admin().CoreV1().Services(ServiceNamespace).Create(t.Context(), svc, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range bad {
		waitEvent(t, l, b.name, b.reason, "")
	}
	if now := agreedHolder(t, l, good); now != holder {
		t.Errorf("%s moved from %s to %s after the bad requests", good, holder, now)
	}
	st := noSplitBrain(t, l, good, settled)
	if st.HolderChanges > 0 {
		t.Errorf("%s changed holder %d times during the bad requests", good, st.HolderChanges)
	}
	t.Logf("%s during the bad requests: longest outage %v (one lost probe on a busy machine is 100ms)", good, st.LongestOutage)
	waitIngress(t, l, "bystander", good)
}

// waitIngress waits until the Service's status lists vip.
func waitIngress(t *testing.T, l *Lab, name string, vip netip.Addr) {
	t.Helper()
	var got []corev1.LoadBalancerIngress
	ok := waitUntil(t, settleLimit, func() bool {
		svc, err := l.Admin().CoreV1().Services(ServiceNamespace).Get(t.Context(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		got = svc.Status.LoadBalancer.Ingress
		return slices.ContainsFunc(got, func(in corev1.LoadBalancerIngress) bool { return in.IP == vip.String() })
	})
	if !ok {
		t.Errorf("service %s: status.loadBalancer.ingress = %v, want %s", name, got, vip)
	}
}

// waitEvent waits for an Event with reason (and, if set, a message containing msg) on the
// Service name.
func waitEvent(t *testing.T, l *Lab, name, reason, msg string) {
	t.Helper()
	var seen []string
	ok := waitUntil(t, settleLimit, func() bool {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		evs, err := l.Admin().CoreV1().Events(ServiceNamespace).List(ctx, metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + name})
		if err != nil {
			return false
		}
		seen = seen[:0]
		for _, e := range evs.Items {
			seen = append(seen, e.Reason+": "+e.Message)
			if e.Reason == reason && strings.Contains(e.Message, msg) {
				return true
			}
		}
		return false
	})
	if !ok {
		t.Errorf("service %s: no %s event containing %q; events: %q", name, reason, msg, seen)
	}
}
