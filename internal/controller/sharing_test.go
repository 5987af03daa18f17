package controller

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestCompute_Sharing(t *testing.T) {
	vip := "198.51.100.7"
	nodes := []*corev1.Node{node("a")}
	refused := func(name, reason, why string) []Problem {
		return []Problem{{Service: nn(name), Reason: reason,
			Message: vip + " cannot be shared: Service ns/old uses it " + why}}
	}
	for _, tc := range []computeCase{
		{name: "same key, same policy and disjoint ports share one election",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("new", ips(vip), key("k"), ports("TCP/443", "UDP/80"), age(1))}, nodes: nodes,
			want: wants(want(vip, 0, "new", "old"))},
		{name: "three Services share when all are compatible",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("mid", ips(vip), key("k"), ports("TCP/81"), age(1)), svc("new", ips(vip), key("k"), ports("TCP/82"), age(2))},
			nodes: nodes, want: wants(want(vip, 0, "mid", "new", "old"))},
		{name: "no sharing key refuses the younger Service",
			services: []*corev1.Service{svc("old", ips(vip), ports("TCP/80"), age(0)),
				svc("new", ips(vip), ports("TCP/443"), age(1))}, nodes: nodes,
			want:     wants(want(vip, 0, "old")),
			problems: refused("new", ReasonIPInUse, "and both need the same vipkeeper.io/sharing-key")},
		{name: "the oldest keeps the IP whatever the list order",
			services: []*corev1.Service{svc("new", ips(vip), ports("TCP/443"), age(1)),
				svc("old", ips(vip), ports("TCP/80"), age(0))}, nodes: nodes,
			want:     wants(want(vip, 0, "old")),
			problems: refused("new", ReasonIPInUse, "and both need the same vipkeeper.io/sharing-key")},
		{name: "equal creation times fall back to namespace and name",
			services: []*corev1.Service{svc("new", ips(vip)), svc("old", ips(vip))}, nodes: nodes,
			want:     wants(want(vip, 0, "new")),
			problems: []Problem{{Service: nn("old"), Reason: ReasonIPInUse, Message: vip + " cannot be shared: Service ns/new uses it and both need the same vipkeeper.io/sharing-key"}}},
		{name: "different sharing keys refuse the younger Service",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("new", ips(vip), key("j"), ports("TCP/443"), age(1))}, nodes: nodes,
			want:     wants(want(vip, 0, "old")),
			problems: refused("new", ReasonIPInUse, `with sharing key "k"`)},
		{name: "different traffic policies refuse the younger Service",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("new", ips(vip), key("k"), ports("TCP/443"), local(), age(1))}, nodes: nodes,
			want:     wants(want(vip, 0, "old")),
			problems: refused("new", ReasonUnsafeSharing, "with externalTrafficPolicy Cluster")},
		{name: "clashing ports refuse the younger Service",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("new", ips(vip), key("k"), ports("TCP/443", "TCP/80"), age(1))}, nodes: nodes,
			want:     wants(want(vip, 0, "old")),
			problems: refused("new", ReasonUnsafeSharing, "with port TCP/80 too")},
		{name: "a port clash with a younger sharer refuses only the youngest",
			services: []*corev1.Service{svc("old", ips(vip), key("k"), ports("TCP/80"), age(0)),
				svc("mid", ips(vip), key("k"), ports("TCP/81"), age(1)), svc("new", ips(vip), key("k"), ports("TCP/81"), age(2))},
			nodes: nodes, want: wants(want(vip, 0, "mid", "old")),
			problems: []Problem{{Service: nn("new"), Reason: ReasonUnsafeSharing, Message: vip + " cannot be shared: Service ns/mid uses it with port TCP/81 too"}}},
		{name: "a refused Service keeps its other VIPs",
			services: []*corev1.Service{svc("old", ips(vip), age(0)),
				svc("new", ips(vip+",198.51.100.8"), age(1))}, nodes: nodes,
			want:     wants(want(vip, 0, "old"), want("198.51.100.8", 0, "new")),
			problems: refused("new", ReasonIPInUse, "and both need the same vipkeeper.io/sharing-key")},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCompute_SharedLocalServicesPreferNodesServingAll(t *testing.T) {
	vip := "198.51.100.7"
	shared := []*corev1.Service{svc("one", ips(vip), key("k"), local(), ports("TCP/80"), age(0)),
		svc("two", ips(vip), key("k"), local(), ports("TCP/443"), age(1))}
	nodes := []*corev1.Node{node("a"), node("b")}
	for _, tc := range []computeCase{
		{name: "a node with endpoints for only one is out when another node has both",
			services: shared, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("one", ep("a", "ready"), ep("b", "ready")), slice("two", ep("b", "ready"))},
			want:   wants(want(vip, -1, "one", "two"))},
		{name: "the node with endpoints for both is the only candidate", self: "b",
			services: shared, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("one", ep("a", "ready"), ep("b", "ready")), slice("two", ep("b", "ready"))},
			want:   wants(want(vip, 0, "one", "two"))},
		{name: "when no node has both, a node with either is a candidate",
			services: shared, nodes: nodes,
			slices: []*discoveryv1.EndpointSlice{slice("one", ep("a", "ready")), slice("two", ep("b", "ready"))},
			want:   wants(want(vip, Rank("a", ip(vip), []string{"a", "b"}), "one", "two"))},
	} {
		t.Run(tc.name, tc.run)
	}
}
