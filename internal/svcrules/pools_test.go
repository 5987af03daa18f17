package svcrules

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	st "github.com/vipkeeper/vipkeeper/internal/svcrules/svcrulestest"
)

// l2pool is a VIPPool created age minutes after the epoch, with spec.l2 when l2 is set.
func l2pool(name string, age int, addrs []string, l2 *v1alpha1.L2Advertisement) *v1alpha1.VIPPool {
	return &v1alpha1.VIPPool{ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(st.Epoch.Add(time.Duration(age) * time.Minute))},
		Spec: v1alpha1.VIPPoolSpec{Addresses: addrs, L2: l2}}
}

func lan(label string, ifaces ...string) *v1alpha1.L2Advertisement {
	l2 := &v1alpha1.L2Advertisement{Interfaces: ifaces}
	if label != "" {
		l2.NodeSelectors = []metav1.LabelSelector{{MatchLabels: map[string]string{label: "yes"}}}
	}
	return l2
}

// Issue 13 section 3: a pool's spec.l2 picks the candidates and the interfaces of its VIPs.
func TestResolve_APoolsAdvertisementPicksItsNodesAndInterfaces(t *testing.T) {
	nodes := []*corev1.Node{st.Node("a", st.Label("lan-b", "yes")), st.Node("b", st.Label("lan-b", "yes")), st.Node("c")}
	pools := []*v1alpha1.VIPPool{
		l2pool("lan-a", 0, []string{"198.51.100.0/24"}, lan("", "eth0")),
		l2pool("lan-b", 0, []string{"203.0.113.0/24"}, lan("lan-b", "eth1", "bond*")),
		l2pool("broken", 0, []string{"203.0.114.0/24"}, &v1alpha1.L2Advertisement{NodeSelectors: []metav1.LabelSelector{
			{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Sometimes"}}}}}),
	}
	tests := []struct {
		name, ip, pool, why string
		svc                 *corev1.Service
		cands, ifaces       []string
	}{
		{"in lan-a by address", "198.51.100.7", "lan-a", "", st.Svc("a", st.IPs("198.51.100.7")), []string{"a", "b", "c"}, []string{"eth0"}},
		{"in lan-b by address: only the selected nodes", "203.0.113.7", "lan-b", "", st.Svc("b", st.IPs("203.0.113.7")), []string{"a", "b"}, []string{"eth1", "bond*"}},
		{"the allocator's record wins over the address", "198.51.100.8", "lan-b", "",
			st.Svc("c", st.Allocated("198.51.100.8"), st.Ann(AnnotationAllocatedPools, "198.51.100.8=lan-b")), []string{"a", "b"}, []string{"eth1", "bond*"}},
		{"a record naming no pool falls back to the address", "198.51.100.9", "lan-a", "",
			st.Svc("d", st.Allocated("198.51.100.9"), st.Ann(AnnotationAllocatedPools, "198.51.100.9=gone")), []string{"a", "b", "c"}, []string{"eth0"}},
		{"in no pool: every node, the agent's interface", "192.0.2.7", "", "", st.Svc("e", st.IPs("192.0.2.7")), []string{"a", "b", "c"}, nil},
		{"an invalid spec.l2 has no candidate", "203.0.114.7", "broken", "spec.l2 of VIPPool broken is invalid", st.Svc("f", st.IPs("203.0.114.7")), nil, nil},
		{"Local endpoints only on an unselected node", "203.0.113.8", "lan-b", "no node matches spec.l2.nodeSelectors of VIPPool lan-b",
			st.Svc("g", st.IPs("203.0.113.8"), st.Local()), nil, []string{"eth1", "bond*"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eps := st.Slice(tc.svc.Name, st.EP("c", "ready"))
			vips, problems := Resolve(Input{Services: []*corev1.Service{tc.svc}, Nodes: nodes, Pools: pools,
				EndpointSlices: []*discoveryv1.EndpointSlice{eps}})
			v := vips[st.IP(tc.ip)]
			if v.Pool != tc.pool || !slices.Equal(v.Candidates, tc.cands) || !slices.Equal(v.Interfaces, tc.ifaces) {
				t.Errorf("VIP = pool %q candidates %v interfaces %v; want %q %v %v", v.Pool, v.Candidates, v.Interfaces, tc.pool, tc.cands, tc.ifaces)
			}
			if !strings.Contains(v.NoCandidate, tc.why) || (tc.why == "") != (len(problems) == 0) {
				t.Errorf("no candidate %q, problems %v; want %q", v.NoCandidate, problems, tc.why)
			}
		})
	}
}

func TestResolve_ANodeWithoutItsNodeObjectIsNoCandidateOfASelectingPool(t *testing.T) {
	pools := []*v1alpha1.VIPPool{l2pool("sel", 0, []string{"203.0.113.0/24"}, lan("lan-b")),
		l2pool("all", 0, []string{"198.51.100.0/24"}, lan("", "eth2"))}
	svcs := []*corev1.Service{st.Svc("a", st.IPs("203.0.113.7")), st.Svc("b", st.IPs("198.51.100.7"))}
	vips, _ := Resolve(Input{Services: svcs, Pools: pools, Self: "me", Nodes: []*corev1.Node{st.Node("x", st.Label("lan-b", "yes"))}})
	if got := vips[st.IP("203.0.113.7")].Candidates; !slices.Equal(got, []string{"x"}) {
		t.Errorf("selecting pool: candidates %v, want only x (me has no labels to match)", got)
	}
	if got := vips[st.IP("198.51.100.7")].Candidates; !slices.Equal(got, []string{"me", "x"}) {
		t.Errorf("pool without selectors: candidates %v, want me and x", got)
	}
}

func TestResolve_IgnoreExcludeLBMakesLabelledNodesCandidates(t *testing.T) {
	nodes := []*corev1.Node{st.Node("cp1", st.Excluded()), st.Node("cp2", st.Excluded())}
	svcs := []*corev1.Service{st.Svc("web", st.IPs("198.51.100.7")), st.Svc("loc", st.IPs("198.51.100.8"), st.Local())}
	eps := []*discoveryv1.EndpointSlice{st.Slice("loc", st.EP("cp2", "ready"))}
	for _, ignore := range []bool{false, true} {
		vips, problems := Resolve(Input{Services: svcs, Nodes: nodes, EndpointSlices: eps, IgnoreExcludeLB: ignore})
		web, loc := vips[st.IP("198.51.100.7")].Candidates, vips[st.IP("198.51.100.8")].Candidates
		if ignore && (len(web) != 2 || len(loc) != 1 || len(problems) != 0) {
			t.Errorf("ignoring the label: candidates %v and %v, problems %v; want cp1,cp2 and cp2", web, loc, problems)
		}
		if !ignore && (len(web)+len(loc) != 0 || len(problems) != 2) {
			t.Errorf("honouring the label: candidates %v and %v, problems %v; want none and two NoCandidate", web, loc, problems)
		}
	}
}

func TestParsePools_HigherPriorityFirstThenName(t *testing.T) {
	mk := func(name string, prio int32) *v1alpha1.VIPPool {
		p := l2pool(name, 0, []string{"198.51.100.1"}, nil)
		p.Spec.Priority = prio
		return p
	}
	var names []string
	for _, p := range ParsePools([]*v1alpha1.VIPPool{mk("b", 0), mk("a", 0), mk("z", 10), mk("low", -5), nil, mk("a", 99)}) {
		names = append(names, p.Name)
	}
	if want := []string{"z", "a", "b", "low"}; !slices.Equal(names, want) {
		t.Errorf("order %v, want %v", names, want)
	}
}

func TestParsePool_RefusesBadInterfaceNames(t *testing.T) {
	p := ParsePool(l2pool("p", 0, []string{"198.51.100.1"}, lan("", "eth0", "bad[", "a/b", "")))
	if !slices.Equal(p.Interfaces, []string{"eth0"}) || len(p.L2Errs) != 3 || p.SelectsNode(nil, true) {
		t.Errorf("interfaces %v, errors %q; want eth0 kept, three refused and no node selected", p.Interfaces, p.L2Errs)
	}
}
