package controller

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Input is everything Compute looks at. Compute never modifies it.
type Input struct {
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Nodes          []*corev1.Node
	Pools          []*v1alpha1.VIPPool
	NodeName       string // this node
	Class          Class
	// IgnoreExcludeLB counts nodes labelled exclude-from-external-load-balancers too.
	IgnoreExcludeLB bool
	// CanCarry says whether this node can carry the IP on one of interfaces (the VIP's
	// pool's spec.l2.interfaces, nil for its --interface); nil means any IP. An error
	// refuses only this node's eligibility for the VIP.
	CanCarry func(ip netip.Addr, interfaces []string) error
}

// Compute decides, from listed objects only, which VIPs are wanted, by which Services,
// and whether and at which rank this node is a candidate for each. The cluster-wide part is
// svcrules.Resolve, the same that the controller role and `vipkeeper status` use; Compute
// adds only what is this node's own: its interfaces (CanCarry) and its rank.
func Compute(in Input) (map[netip.Addr]Want, []Problem) {
	vips, problems := svcrules.Resolve(svcrules.Input{Services: in.Services, EndpointSlices: in.EndpointSlices,
		Nodes: in.Nodes, Pools: in.Pools, Class: in.Class, Self: in.NodeName, IgnoreExcludeLB: in.IgnoreExcludeLB})
	wants := make(map[netip.Addr]Want, len(vips))
	for ip, v := range vips {
		w, p := nodeWant(in, v)
		problems = append(problems, p...)
		wants[ip] = w
	}
	return wants, svcrules.SortProblems(problems)
}

// Accepted inverts wants: each Service's accepted VIPs, sorted.
func Accepted(wants map[netip.Addr]Want) map[types.NamespacedName][]netip.Addr {
	out := map[types.NamespacedName][]netip.Addr{}
	for ip, w := range wants {
		for _, nn := range w.Services {
			out[nn] = append(out[nn], ip)
		}
	}
	for _, ips := range out {
		slices.SortFunc(ips, netip.Addr.Compare)
	}
	return out
}
