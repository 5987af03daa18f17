package controller

import (
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/poolwatch/poolwatchtest"
	"github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

// withPools gives the Controller a fake dynamic client holding pools.
func withPools(t *testing.T, pools ...*v1alpha1.VIPPool) func(*Config) {
	dyn := poolwatchtest.Dynamic(t, pools...)
	return func(c *Config) { c.Dynamic = dyn }
}

func serveCRD(h *harness) { poolwatchtest.ServeCRD(h.cs) }

func l2pool(name, cidr, label string, ifaces ...string) *v1alpha1.VIPPool {
	l2 := &v1alpha1.L2Advertisement{Interfaces: ifaces}
	if label != "" {
		l2.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{label: "yes"}}}
	}
	return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1alpha1.VIPPoolSpec{Addresses: []string{cidr}, L2: l2}}
}

// carryLog records what CanCarry was asked.
type carryLog struct {
	mu    sync.Mutex
	asked map[netip.Addr][]string
}

func (c *carryLog) canCarry(ip netip.Addr, ifaces []string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.asked[ip] = ifaces
	return nil
}

// Issue 13 section 3: a node a pool does not select is no candidate for its VIPs, and the
// pool's interfaces reach CanCarry and the Want; relabelling the node makes it one.
func TestController_APoolsAdvertisementDecidesCandidacyAndInterfaces(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cl := &carryLog{asked: map[netip.Addr][]string{}}
		pools := withPools(t, l2pool("lan-a", "198.51.100.0/24", "", "eth0*"), l2pool("lan-b", "203.0.113.0/24", "lan-b", "eth1"))
		h := startWith(t, func(c *Config) { pools(c); c.CanCarry = cl.canCarry }, serveCRD,
			node("a"), node("b", svcrulestest.Label("lan-b", "yes")), svc("web-a", ips("198.51.100.7")), svc("web-b", ips("203.0.113.7")))
		defer h.stop()
		synctest.Wait()
		got := h.el.last()
		if a, b := got[ip("198.51.100.7")], got[ip("203.0.113.7")]; !a.Eligible || b.Eligible ||
			!slices.Equal(a.Interfaces, []string{"eth0*"}) || !slices.Equal(b.Interfaces, []string{"eth1"}) {
			t.Fatalf("wants %+v and %+v: want a eligible on eth0*, and b wanted on eth1 but not by node a", a, b)
		}
		if !slices.Equal(cl.asked[ip("198.51.100.7")], []string{"eth0*"}) || cl.asked[ip("203.0.113.7")] != nil {
			t.Errorf("CanCarry asked %v; want eth0* for the lan-a VIP and nothing for the lan-b one", cl.asked)
		}
		time.Sleep(time.Second)
		n, err := h.cs.CoreV1().Nodes().Get(t.Context(), "a", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n.Labels["lan-b"] = "yes"
		if _, err := h.cs.CoreV1().Nodes().Update(t.Context(), n, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if b := h.el.last()[ip("203.0.113.7")]; !b.Eligible || !slices.Equal(cl.asked[ip("203.0.113.7")], []string{"eth1"}) {
			t.Errorf("after labelling a: want %+v eligible, CanCarry asked %v", b, cl.asked[ip("203.0.113.7")])
		}
	})
}

func TestController_WithoutTheVIPPoolCRDEveryVIPIsAsInNoPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := startWith(t, withPools(t), nil, node("a"), svc("web", ips("203.0.113.7")))
		defer h.stop()
		synctest.Wait()
		if w := h.el.last()[ip("203.0.113.7")]; !w.Eligible || w.Interfaces != nil {
			t.Errorf("want %+v: eligible on the default interface", w)
		}
	})
}

func TestController_IgnoreExcludeLBCountsLabelledNodes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := start(t, func(c *Config) { c.IgnoreExcludeLB = true }, node("a", excluded()), svc("web", ips("198.51.100.7")))
		defer h.stop()
		synctest.Wait()
		if w := h.el.last()[ip("198.51.100.7")]; !w.Eligible {
			t.Errorf("want %+v: eligible although labelled", w)
		}
		if ev := strings.Join(h.events(), "\n"); strings.Contains(ev, ReasonNoCandidate) {
			t.Errorf("events %q", ev)
		}
	})
}
