package controller

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Input is everything Compute looks at. Compute never modifies it.
type Input struct {
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Nodes          []*corev1.Node
	NodeName       string // this node
	Class          Class
	// CanCarry says whether this node's interface can carry the IP (its family); nil
	// means any IP. An error refuses only this node's eligibility for the VIP.
	CanCarry func(netip.Addr) error
}

// Compute decides, from listed objects only, which VIPs are wanted, by which Services,
// and whether and at which rank this node is a candidate for each. It is pure: the same
// Input always gives the same result, and bad input of one Service refuses only that
// Service's request (reported as a Problem), never anything of another Service.
func Compute(in Input) (map[netip.Addr]Want, []Problem) {
	served, problems := servedServices(in.Services, in.Class)
	claims, p := claimIPs(served, nodeAddresses(in.Nodes))
	problems = append(problems, p...)
	cand := newCandidacy(in)
	wants := make(map[netip.Addr]Want, len(claims))
	for ip, claimants := range claims {
		accepted, p := resolveSharing(ip, claimants)
		problems = append(problems, p...)
		w, p := cand.want(ip, accepted)
		problems = append(problems, p...)
		wants[ip] = w
	}
	return wants, sortProblems(problems)
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

// servedServices returns the Services of our class, oldest first, and a WrongClass
// problem for each LoadBalancer Service that asks for a VIP through our annotation but
// has a class we do not serve.
func servedServices(svcs []*corev1.Service, class Class) ([]*corev1.Service, []Problem) {
	var served []*corev1.Service
	var problems []Problem
	for _, svc := range svcs {
		switch {
		case svc == nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.DeletionTimestamp != nil:
		case Serves(svc, class):
			served = append(served, svc)
		case svc.Annotations[AnnotationIPs] != "":
			problems = append(problems, wrongClass(svc, class))
		}
	}
	slices.SortFunc(served, olderFirst)
	return served, problems
}

// Serves reports whether svc is a LoadBalancer Service of the class we serve.
func Serves(svc *corev1.Service, class Class) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass == nil {
		return class.Default
	}
	return *svc.Spec.LoadBalancerClass == class.name()
}

func (c Class) name() string {
	if c.Name == "" {
		return DefaultClass
	}
	return c.Name
}

func wrongClass(svc *corev1.Service, class Class) Problem {
	has := "no loadBalancerClass"
	if svc.Spec.LoadBalancerClass != nil {
		has = fmt.Sprintf("loadBalancerClass %q", *svc.Spec.LoadBalancerClass)
	}
	return Problem{Service: nameOf(svc), Reason: ReasonWrongClass, Message: fmt.Sprintf(
		"annotation %s is set but the Service has %s; vipkeeper serves class %q", AnnotationIPs, has, class.name())}
}

func olderFirst(a, b *corev1.Service) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// claimIPs maps each requested IP to the Services asking for it, oldest first. An IP that
// is some node's own address is refused for everyone.
func claimIPs(served []*corev1.Service, nodeIPs map[netip.Addr]string) (map[netip.Addr][]*corev1.Service, []Problem) {
	claims := map[netip.Addr][]*corev1.Service{}
	var problems []Problem
	for _, svc := range served {
		ips, p := requestedIPs(svc)
		problems = append(problems, p...)
		for _, ip := range ips {
			if node, ok := nodeIPs[ip]; ok {
				problems = append(problems, Problem{Service: nameOf(svc), Reason: ReasonNodeAddress,
					Message: fmt.Sprintf("%s is an address of node %s; refused", ip, node)})
				continue
			}
			claims[ip] = append(claims[ip], svc)
		}
	}
	return claims, problems
}

// nodeAddresses maps every IP in any Node's status to the Node's name.
func nodeAddresses(nodes []*corev1.Node) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for _, n := range nodes {
		if n == nil {
			continue
		}
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(strings.TrimSpace(a.Address)); err == nil {
				out[ip.Unmap().WithZone("")] = n.Name
			}
		}
	}
	return out
}

func sortProblems(p []Problem) []Problem {
	slices.SortFunc(p, func(a, b Problem) int {
		return cmp.Or(compareNN(a.Service, b.Service),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message), cmp.Compare(a.Node, b.Node))
	})
	return slices.Compact(p)
}
