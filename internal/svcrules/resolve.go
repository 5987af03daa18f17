package svcrules

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// Input is everything Resolve looks at. Resolve never modifies it.
type Input struct {
	Services       []*corev1.Service
	EndpointSlices []*discoveryv1.EndpointSlice
	Nodes          []*corev1.Node
	// Pools say where their VIPs are announced (spec.l2): which nodes are candidates and
	// on which interfaces. A VIP in no pool may be announced by every node.
	Pools []*v1alpha1.VIPPool
	Class Class
	// Self, if set, is the node asking: it counts as a Cluster candidate even when its Node
	// object is missing (a node needs no Node object to serve), unless the VIP's pool
	// selects nodes by label.
	Self string
	// IgnoreExcludeLB makes nodes with the label
	// node.kubernetes.io/exclude-from-external-load-balancers candidates too
	// (--ignore-exclude-lb: control-plane-only clusters carry it on every node).
	IgnoreExcludeLB bool
}

// VIP is one wanted VIP: the Services that got it and the nodes that may announce it.
type VIP struct {
	IP       netip.Addr
	Services []types.NamespacedName // accepted Services, sorted
	Policy   corev1.ServiceExternalTrafficPolicy
	// Candidates are the nodes that may announce the VIP, sorted by name.
	Candidates []string
	// NoCandidate says why Candidates is empty ("" when it is not).
	NoCandidate string
	// Pool is the VIPPool the VIP belongs to (PoolOfVIP), "" for none.
	Pool string
	// Interfaces are the pool's spec.l2.interfaces, names or patterns that may carry the
	// VIP; nil means the agent's --interface.
	Interfaces []string
}

// Problem is one refused or partly refused request of one Service.
type Problem struct {
	Service types.NamespacedName
	Reason  string // CamelCase, the Event reason
	Message string
	// Node is set when the problem concerns only that node: the VIP stays wanted and only
	// that node's eligibility is refused. Such problems are reported by the node itself.
	Node string
}

// Resolve decides, from listed objects only, which VIPs are wanted, by which Services, and
// which nodes may announce each. Bad input of one Service refuses only that Service's
// request (a Problem), never anything of another Service; no input panics it.
func Resolve(in Input) (map[netip.Addr]VIP, []Problem) {
	served, problems := servedServices(in.Services, in.Class)
	claims, p := claimIPs(served, nodeAddresses(in.Nodes))
	problems = append(problems, p...)
	cand, pools := newCandidacy(in), ParsePools(in.Pools)
	vips := make(map[netip.Addr]VIP, len(claims))
	for ip, claimants := range claims {
		accepted, p := resolveSharing(ip, claimants)
		problems = append(problems, p...)
		v := cand.vip(ip, accepted, PoolOfVIP(pools, ip, recordedPool(ip, accepted)))
		if v.NoCandidate != "" {
			problems = append(problems, noCandidate(v)...)
		}
		vips[ip] = v
	}
	return vips, SortProblems(problems)
}

// servedServices returns the active Services of our class, oldest first, and a WrongClass
// problem for each LoadBalancer Service that asks for a VIP through our annotation but has
// a class we do not serve.
func servedServices(svcs []*corev1.Service, class Class) ([]*corev1.Service, []Problem) {
	var served []*corev1.Service
	var problems []Problem
	for _, svc := range svcs {
		switch {
		case svc == nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.DeletionTimestamp != nil:
		case class.Serves(svc):
			served = append(served, svc)
		case svc.Annotations[AnnotationIPs] != "":
			problems = append(problems, wrongClass(svc, class))
		}
	}
	slices.SortFunc(served, OlderFirst)
	return served, problems
}

func wrongClass(svc *corev1.Service, class Class) Problem {
	has := "no loadBalancerClass"
	if svc.Spec.LoadBalancerClass != nil {
		has = fmt.Sprintf("loadBalancerClass %q", *svc.Spec.LoadBalancerClass)
	}
	return Problem{Service: NameOf(svc), Reason: ReasonWrongClass, Message: fmt.Sprintf(
		"annotation %s is set but the Service has %s; vipkeeper serves class %q", AnnotationIPs, has, class.Served())}
}

// claimIPs maps each requested IP to the Services asking for it, oldest first. An IP that
// is some node's own address is refused for everyone.
func claimIPs(served []*corev1.Service, nodeIPs map[netip.Addr]string) (map[netip.Addr][]*corev1.Service, []Problem) {
	claims := map[netip.Addr][]*corev1.Service{}
	var problems []Problem
	for _, svc := range served {
		req := RequestOf(svc)
		if len(req.Bad) > 0 {
			problems = append(problems, Problem{Service: NameOf(svc), Reason: ReasonInvalidIP,
				Message: fmt.Sprintf("%s: %s; ignored", req.Source, QuoteTokens(req.Bad))})
		}
		for _, ip := range req.IPs {
			if node, ok := nodeIPs[ip]; ok {
				problems = append(problems, Problem{Service: NameOf(svc), Reason: ReasonNodeAddress,
					Message: fmt.Sprintf("%s is an address of node %s; refused", ip, node)})
				continue
			}
			claims[ip] = append(claims[ip], svc)
		}
	}
	return claims, problems
}

// resolveSharing decides which of the Services claiming ip (oldest first) get it. The
// oldest always keeps it; each younger one joins only if CanShare lets it share with every
// Service already accepted, else its request for ip is refused with a Problem saying why.
func resolveSharing(ip netip.Addr, claimants []*corev1.Service) ([]*corev1.Service, []Problem) {
	accepted := claimants[:1:1]
	var problems []Problem
	for _, svc := range claimants[1:] {
		r := CanShare(accepted, svc)
		if r.OK() {
			accepted = append(accepted, svc)
			continue
		}
		problems = append(problems, Problem{Service: NameOf(svc), Reason: r.Reason,
			Message: fmt.Sprintf("%s cannot be shared: %s", ip, r.Why)})
	}
	return accepted, problems
}

// recordedPool is the pool the first of svcs that records one names for ip in
// vipkeeper.io/allocated-pools.
func recordedPool(ip netip.Addr, svcs []*corev1.Service) string {
	for _, svc := range svcs {
		if name := AllocatedPools(svc.Annotations[AnnotationAllocatedPools])[ip]; name != "" {
			return name
		}
	}
	return ""
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

func noCandidate(v VIP) []Problem {
	out := make([]Problem, len(v.Services))
	for i, nn := range v.Services {
		out[i] = Problem{Service: nn, Reason: ReasonNoCandidate,
			Message: fmt.Sprintf("VIP %s has no candidate node: %s", v.IP, v.NoCandidate)}
	}
	return out
}

// maxQuoted bounds how much of a bad token or how many bad tokens a message repeats, so a
// huge annotation cannot produce a huge Event.
const (
	maxQuoted    = 64
	maxBadTokens = 5
)

// QuoteTokens describes refused tokens, bounded in length.
func QuoteTokens(bad []string) string {
	var b strings.Builder
	for i, tok := range bad {
		if i == maxBadTokens {
			fmt.Fprintf(&b, " and %d more", len(bad)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(tok) > maxQuoted {
			tok = tok[:maxQuoted] + "..."
		}
		fmt.Fprintf(&b, "%q", tok)
	}
	if len(bad) == 1 {
		return b.String() + " is not a usable unicast IP address"
	}
	return b.String() + " are not usable unicast IP addresses"
}

// SortProblems sorts and de-duplicates problems.
func SortProblems(p []Problem) []Problem {
	slices.SortFunc(p, func(a, b Problem) int {
		return cmp.Or(CompareNames(a.Service, b.Service),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message), cmp.Compare(a.Node, b.Node))
	})
	return slices.Compact(p)
}

// CompareNames orders namespace/names.
func CompareNames(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
