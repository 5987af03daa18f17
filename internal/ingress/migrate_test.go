package ingress

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch/poolwatchtest"
	. "github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

func pools(t *testing.T, cs *fake.Clientset, pools ...*v1alpha1.VIPPool) func(*Config) {
	poolwatchtest.ServeCRD(cs)
	dyn := poolwatchtest.Dynamic(t, pools...)
	return func(c *Config) { c.Dynamic = dyn }
}

// Issue 13 section 2: while the allocator may still adopt the IP a moved Service's status
// lists, the writer leaves it; an IP outside every pool or another Service's VIP it clears.
// A pool whose spec.l2 selects no node gives a NoCandidate Event saying so.
func TestWriter_LeavesTheStatusOfAMovedServiceForTheAllocator(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cs := fake.NewClientset(Node("a"),
			Svc("moved", Ingress("198.51.100.5")), Svc("outside", Ingress("203.0.113.5")),
			Svc("owner", IPs("198.51.100.6"), Age(0)), Svc("stale", Ingress("198.51.100.6"), Age(1)),
			Svc("nowhere", IPs("198.51.100.200")))
		lan := &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: "lan"}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.0/29"}}}
		sel := &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: "sel"}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{"198.51.100.192/26"},
			L2: &v1alpha1.L2Advertisement{NodeSelectors: []metav1.LabelSelector{{MatchLabels: map[string]string{"lan": "b"}}}}}}
		h := startWith(t, cs, pools(t, cs, lan, sel))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for name, want := range map[string][]corev1.LoadBalancerIngress{"moved": vipIngress("198.51.100.5"), "outside": nil,
			"owner": vipIngress("198.51.100.6"), "stale": nil, "nowhere": vipIngress("198.51.100.200")} {
			if diff := cmp.Diff(want, h.ingress(t, name), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("%s ingress (-want +got):\n%s", name, diff)
			}
		}
		want := []string{"Warning NoCandidate VIP 198.51.100.200 has no candidate node: no node matches spec.l2.nodeSelectors of VIPPool sel"}
		if diff := cmp.Diff(want, h.events()); diff != "" {
			t.Errorf("events (-want +got):\n%s", diff)
		}
	})
}

func TestWriter_IgnoreExcludeLBGivesNoNoCandidateEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWith(t, fake.NewClientset(Node("cp", Excluded()), Svc("web", IPs("198.51.100.7"))),
			func(c *Config) { c.IgnoreExcludeLB = true })
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if ev := h.events(); len(ev) != 0 {
			t.Errorf("events %q, want none", ev)
		}
		if diff := cmp.Diff(vipIngress("198.51.100.7"), h.ingress(t, "web")); diff != "" {
			t.Errorf("ingress (-want +got):\n%s", diff)
		}
	})
}
