package controller

import (
	"errors"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

type computeCase struct {
	name     string
	self     string
	services []*corev1.Service
	slices   []*discoveryv1.EndpointSlice
	nodes    []*corev1.Node
	class    Class
	canCarry func(netip.Addr, []string) error
	want     map[netip.Addr]Want
	problems []Problem
}

func (tc computeCase) run(t *testing.T) {
	t.Helper()
	self := tc.self
	if self == "" {
		self = "a"
	}
	got, problems := Compute(Input{Services: tc.services, EndpointSlices: tc.slices, Nodes: tc.nodes,
		NodeName: self, Class: tc.class, CanCarry: tc.canCarry})
	// Rank is checked here; Ahead (whose length is Rank) by TestAhead_*.
	if diff := cmp.Diff(tc.want, got, cmpopts.EquateComparable(netip.Addr{}), cmpopts.EquateEmpty(),
		cmpopts.IgnoreFields(Want{}, "Ahead")); diff != "" {
		t.Errorf("wants (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(tc.problems, problems, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

// noCandidate is the NoCandidate problem of ns/web for vip.
func noCandidate(vip, why string) []Problem {
	return []Problem{{Service: nn("web"), Reason: ReasonNoCandidate, Message: "VIP " + vip + " has no candidate node: " + why}}
}

func TestCompute_LocalCandidacyFollowsReadyEndpoints(t *testing.T) {
	vip := "198.51.100.7"
	nodes := []*corev1.Node{node("a"), node("b")}
	for _, tc := range []computeCase{
		{name: "one ready endpoint on this node makes it the only candidate",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("a", "ready"))},
			want:   wants(want(vip, 0, "web"))},
		{name: "the endpoint on another node leaves this node out",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("b", "ready"))},
			want:   wants(want(vip, -1, "web"))},
		{name: "when the endpoint moves to this node eligibility moves with it", self: "b",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("b", "ready"))},
			want:   wants(want(vip, 0, "web"))},
		{name: "no endpoints keeps the VIP wanted with nobody eligible",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			want:     wants(want(vip, -1, "web")),
			problems: noCandidate(vip, "externalTrafficPolicy is Local and no node has a ready local endpoint")},
		{name: "endpoints of another Service do not count",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices:   []*discoveryv1.EndpointSlice{slice("db", ep("a", "ready")), slice("other/web", ep("a", "ready"))},
			want:     wants(want(vip, -1, "web")),
			problems: noCandidate(vip, "externalTrafficPolicy is Local and no node has a ready local endpoint")},
		{name: "endpoint conditions left nil count as ready",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("a", "nil"))},
			want:   wants(want(vip, 0, "web"))},
		{name: "serving and not terminating counts although not ready",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("a", "serving"))},
			want:   wants(want(vip, 0, "web"))},
		{name: "terminating but serving loses to a ready endpoint elsewhere",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("a", "draining"), ep("b", "ready"))},
			want:   wants(want(vip, -1, "web"))},
		{name: "terminating but serving is used when no node has a ready endpoint",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("a", "draining"), ep("b", "gone"))},
			want:   wants(want(vip, 0, "web"))},
		{name: "terminating and not serving never counts",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: nodes,
			slices:   []*discoveryv1.EndpointSlice{slice("web", ep("a", "gone"))},
			want:     wants(want(vip, -1, "web")),
			problems: noCandidate(vip, "externalTrafficPolicy is Local and no node has a ready local endpoint")},
		{name: "an opted-out node is not a Local candidate despite its endpoint",
			services: []*corev1.Service{svc("web", ips(vip), local())}, nodes: []*corev1.Node{node("a", excluded())},
			slices:   []*discoveryv1.EndpointSlice{slice("web", ep("a", "ready"))},
			want:     wants(want(vip, -1, "web")),
			problems: noCandidate(vip, "externalTrafficPolicy is Local and its only ready endpoints are on excluded nodes (label node.kubernetes.io/exclude-from-external-load-balancers)")},
		{name: "a Local candidate needs no Node object",
			services: []*corev1.Service{svc("web", ips(vip), local())},
			slices:   []*discoveryv1.EndpointSlice{slice("web", ep("a", "ready"))},
			want:     wants(want(vip, 0, "web"))},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCompute_ClusterCandidacyUsesOnlyTheExcludeLabel(t *testing.T) {
	vip := "198.51.100.7"
	for _, tc := range []computeCase{
		{name: "the only node is rank 0",
			services: []*corev1.Service{svc("web", ips(vip))}, nodes: []*corev1.Node{node("a")},
			want: wants(want(vip, 0, "web"))},
		{name: "a NotReady node is still a candidate",
			services: []*corev1.Service{svc("web", ips(vip))}, nodes: []*corev1.Node{node("a", notReady())},
			want: wants(want(vip, 0, "web"))},
		{name: "the exclude label opts this node out",
			services: []*corev1.Service{svc("web", ips(vip))}, nodes: []*corev1.Node{node("a", excluded()), node("b")},
			want: wants(want(vip, -1, "web"))},
		{name: "a missing Node object still makes this node a candidate",
			services: []*corev1.Service{svc("web", ips(vip))},
			want:     wants(want(vip, 0, "web"))},
		{name: "a missing Node object is ranked among the other nodes", self: "a",
			services: []*corev1.Service{svc("web", ips(vip))}, nodes: []*corev1.Node{node("b"), node("c")},
			want: wants(want(vip, Rank("a", ip(vip), []string{"a", "b", "c"}), "web"))},
		{name: "Endpoints do not matter under Cluster",
			services: []*corev1.Service{svc("web", ips(vip))}, nodes: []*corev1.Node{node("a")},
			slices: []*discoveryv1.EndpointSlice{slice("web", ep("b", "ready"))},
			want:   wants(want(vip, 0, "web"))},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCompute_ClusterSpreadsRanksOverNodes(t *testing.T) {
	nodes := []*corev1.Node{node("a"), node("b"), node("c")}
	firsts := map[string]int{}
	for i := range 30 {
		vip := netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)})
		ranks := map[int]string{}
		for _, self := range []string{"a", "b", "c"} {
			got, _ := Compute(Input{Services: []*corev1.Service{svc("web", ips(vip.String()))}, Nodes: nodes, NodeName: self})
			w := got[vip]
			if !w.Eligible {
				t.Fatalf("%s: node %s not eligible: %+v", vip, self, w)
			}
			if other, dup := ranks[w.Rank]; dup {
				t.Fatalf("%s: nodes %s and %s both have rank %d", vip, other, self, w.Rank)
			}
			ranks[w.Rank] = self
		}
		if len(ranks) != 3 || ranks[0] == "" || ranks[2] == "" {
			t.Fatalf("%s: ranks are not 0..2: %v", vip, ranks)
		}
		firsts[ranks[0]]++
	}
	for _, n := range []string{"a", "b", "c"} {
		if firsts[n] == 0 {
			t.Errorf("node %s is rank 0 for none of 30 VIPs: %v", n, firsts)
		}
	}
}

func TestCompute_RequestedIPs(t *testing.T) {
	nodes := []*corev1.Node{node("a")}
	for _, tc := range []computeCase{
		{name: "an IPv6 VIP is wanted",
			services: []*corev1.Service{svc("web", ips("2001:db8::7"))}, nodes: nodes,
			want: wants(want("2001:db8::7", 0, "web"))},
		{name: "a dual-stack annotation wants both VIPs",
			services: []*corev1.Service{svc("web", ips(" 198.51.100.7 ,2001:db8::7,"))}, nodes: nodes,
			want: wants(want("198.51.100.7", 0, "web"), want("2001:db8::7", 0, "web"))},
		{name: "the annotation beats spec.loadBalancerIP",
			services: []*corev1.Service{svc("web", ips("198.51.100.7"), lbIP("198.51.100.8"))}, nodes: nodes,
			want: wants(want("198.51.100.7", 0, "web"))},
		{name: "spec.loadBalancerIP is used without the annotation",
			services: []*corev1.Service{svc("web", lbIP("198.51.100.8"), allocated("198.51.100.9"))}, nodes: nodes,
			want: wants(want("198.51.100.8", 0, "web"))},
		{name: "allocated IPs are used when nothing is requested",
			services: []*corev1.Service{svc("web", allocated("198.51.100.9"))}, nodes: nodes,
			want: wants(want("198.51.100.9", 0, "web"))},
		{name: "a Service without any IP wants nothing",
			services: []*corev1.Service{svc("web")}, nodes: nodes},
		{name: "an unparsable token is refused and the good one kept",
			services: []*corev1.Service{svc("web", ips("198.51.100.7,198.51.100.300"))}, nodes: nodes,
			want: wants(want("198.51.100.7", 0, "web")),
			problems: []Problem{{Service: nn("web"), Reason: ReasonInvalidIP,
				Message: `annotation vipkeeper.io/loadbalancer-ips: "198.51.100.300" is not a usable unicast IP address; ignored`}}},
		{name: "a bad annotation does not fall back to spec.loadBalancerIP",
			services: []*corev1.Service{svc("web", ips("nope"), lbIP("198.51.100.8"))}, nodes: nodes,
			problems: []Problem{{Service: nn("web"), Reason: ReasonInvalidIP,
				Message: `annotation vipkeeper.io/loadbalancer-ips: "nope" is not a usable unicast IP address; ignored`}}},
		{name: "a bad spec.loadBalancerIP is named",
			services: []*corev1.Service{svc("web", lbIP("224.0.0.1"))}, nodes: nodes,
			problems: []Problem{{Service: nn("web"), Reason: ReasonInvalidIP,
				Message: `spec.loadBalancerIP: "224.0.0.1" is not a usable unicast IP address; ignored`}}},
		{name: "a node's own address is refused",
			services: []*corev1.Service{svc("web", ips("198.51.100.7,198.51.100.8"))},
			nodes:    []*corev1.Node{node("a"), node("b", addr("198.51.100.8"))},
			want:     wants(want("198.51.100.7", Rank("a", ip("198.51.100.7"), []string{"a", "b"}), "web")),
			problems: []Problem{{Service: nn("web"), Reason: ReasonNodeAddress,
				Message: "198.51.100.8 is an address of node b; refused"}}},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCompute_Class(t *testing.T) {
	vip := "198.51.100.7"
	nodes := []*corev1.Node{node("a")}
	for _, tc := range []computeCase{
		{name: "a Service of another class with our annotation is refused",
			services: []*corev1.Service{svc("web", ips(vip), class("example.com/lb"))}, nodes: nodes,
			problems: []Problem{{Service: nn("web"), Reason: ReasonWrongClass, Message: `annotation vipkeeper.io/loadbalancer-ips is set but the Service has loadBalancerClass "example.com/lb"; vipkeeper serves class "vipkeeper.io/lb"`}}},
		{name: "a Service of another class without our annotation is ignored silently",
			services: []*corev1.Service{svc("web", lbIP(vip), class("example.com/lb"))}, nodes: nodes},
		{name: "a Service without class is refused unless we serve the default",
			services: []*corev1.Service{svc("web", ips(vip), noClass())}, nodes: nodes,
			problems: []Problem{{Service: nn("web"), Reason: ReasonWrongClass, Message: `annotation vipkeeper.io/loadbalancer-ips is set but the Service has no loadBalancerClass; vipkeeper serves class "vipkeeper.io/lb"`}}},
		{name: "a Service without class is served when we serve the default",
			services: []*corev1.Service{svc("web", ips(vip), noClass())}, nodes: nodes, class: Class{Default: true},
			want: wants(want(vip, 0, "web"))},
		{name: "a configured class is served",
			services: []*corev1.Service{svc("web", ips(vip), class("example.com/lb"))}, nodes: nodes, class: Class{Name: "example.com/lb"},
			want: wants(want(vip, 0, "web"))},
		{name: "a ClusterIP Service is ignored",
			services: []*corev1.Service{svc("web", ips(vip), func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeClusterIP })}, nodes: nodes},
		{name: "a Service being deleted is not wanted",
			services: []*corev1.Service{svc("web", ips(vip), func(s *corev1.Service) { s.DeletionTimestamp = &s.CreationTimestamp })}, nodes: nodes},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCompute_CanCarryRefusesOnlyThisNodesEligibility(t *testing.T) {
	noV6 := func(a netip.Addr, _ []string) error {
		if a.Is6() {
			return errors.New("no IPv6 on eth0")
		}
		return nil
	}
	computeCase{
		services: []*corev1.Service{svc("web", ips("198.51.100.7,2001:db8::7"))}, nodes: []*corev1.Node{node("a")},
		canCarry: noV6,
		want:     wants(want("198.51.100.7", 0, "web"), want("2001:db8::7", -1, "web")),
		problems: []Problem{{Service: nn("web"), Reason: ReasonCannotCarry, Node: "a",
			Message: "node a cannot carry 2001:db8::7 (no IPv6 on eth0); it stays out of the election, other nodes may announce it"}},
	}.run(t)
}

func TestCompute_APanickingCanCarryOnlyRefusesEligibility(t *testing.T) {
	got, problems := Compute(Input{Services: []*corev1.Service{svc("web", ips("198.51.100.7"))}, NodeName: "a",
		CanCarry: func(netip.Addr, []string) error { panic("boom") }})
	if w := got[ip("198.51.100.7")]; w.Eligible || len(w.Services) != 1 {
		t.Errorf("want the VIP wanted and this node not eligible, got %+v", w)
	}
	if len(problems) != 1 || problems[0].Reason != ReasonCannotCarry {
		t.Errorf("want one CannotCarry problem, got %+v", problems)
	}
}

func TestCompute_BadInputDisturbsNoOtherService(t *testing.T) {
	computeCase{
		services: []*corev1.Service{
			svc("good", ips("198.51.100.7"), age(1)),
			svc("garbage", ips(",,\x00,::,fe80::1%eth0,1.2.3.4.5"), age(0)),
			svc("thief", ips("198.51.100.7"), age(2)),
			svc("wrong", ips("198.51.100.7"), class("x"), age(-1)),
			nil,
		},
		nodes: []*corev1.Node{node("a"), nil},
		want:  wants(want("198.51.100.7", 0, "good")),
		problems: []Problem{
			{Service: nn("garbage"), Reason: ReasonInvalidIP, Message: `annotation vipkeeper.io/loadbalancer-ips: "\x00", "::", "fe80::1%eth0", "1.2.3.4.5" are not usable unicast IP addresses; ignored`},
			{Service: nn("thief"), Reason: ReasonIPInUse, Message: "198.51.100.7 cannot be shared: Service ns/good uses it and both need the same vipkeeper.io/sharing-key"},
			{Service: nn("wrong"), Reason: ReasonWrongClass, Message: `annotation vipkeeper.io/loadbalancer-ips is set but the Service has loadBalancerClass "x"; vipkeeper serves class "vipkeeper.io/lb"`},
		},
	}.run(t)
}

func TestAhead_NamesTheBetterRankedCandidatesBestFirst(t *testing.T) {
	cands := []string{"a", "b", "c", "d", "e"}
	for i := range 20 {
		vip := netip.AddrFrom4([4]byte{198, 51, 100, byte(i + 1)})
		order := slices.Clone(cands)
		slices.SortFunc(order, func(x, y string) int { return Rank(x, vip, cands) - Rank(y, vip, cands) })
		for pos, node := range order {
			got := Ahead(node, vip, cands)
			if diff := cmp.Diff(order[:pos], got, cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("Ahead(%s, %s) (-want +got):\n%s", node, vip, diff)
			}
			if len(got) != Rank(node, vip, cands) {
				t.Fatalf("len(Ahead(%s, %s)) = %d, Rank = %d", node, vip, len(got), Rank(node, vip, cands))
			}
		}
	}
}
