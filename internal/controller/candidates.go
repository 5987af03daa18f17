package controller

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// candidacy answers, per VIP, which nodes may serve it. It reads Node objects only for
// the exclude label (never the Ready condition) and EndpointSlices for local endpoints.
type candidacy struct {
	self     string
	canCarry func(netip.Addr) error
	cluster  []string // nodes serving Cluster VIPs: Node objects without the exclude label (+ self if unknown)
	excluded map[string]bool
	ready    map[types.NamespacedName]map[string]bool // Service -> nodes with a usable local endpoint
	draining map[types.NamespacedName]map[string]bool // Service -> nodes with only terminating-but-serving endpoints
}

func newCandidacy(in Input) *candidacy {
	c := &candidacy{self: in.NodeName, canCarry: in.CanCarry, excluded: map[string]bool{},
		ready: map[types.NamespacedName]map[string]bool{}, draining: map[types.NamespacedName]map[string]bool{}}
	known := false
	for _, n := range in.Nodes {
		if n == nil {
			continue
		}
		known = known || n.Name == c.self
		if _, ok := n.Labels[corev1.LabelNodeExcludeBalancers]; ok {
			c.excluded[n.Name] = true
			continue
		}
		c.cluster = append(c.cluster, n.Name)
	}
	if !known && c.self != "" {
		c.cluster = append(c.cluster, c.self) // our Node object may be missing: we still count
	}
	for _, s := range in.EndpointSlices {
		c.addSlice(s)
	}
	return c
}

func (c *candidacy) addSlice(s *discoveryv1.EndpointSlice) {
	if s == nil || s.AddressType == discoveryv1.AddressTypeFQDN || s.Labels[discoveryv1.LabelServiceName] == "" {
		return
	}
	svc := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
	for _, ep := range s.Endpoints {
		if ep.NodeName == nil || *ep.NodeName == "" || c.excluded[*ep.NodeName] {
			continue
		}
		switch usable, draining := endpointState(ep.Conditions); {
		case usable:
			addNode(c.ready, svc, *ep.NodeName)
		case draining:
			addNode(c.draining, svc, *ep.NodeName)
		}
	}
}

// endpointState: usable = ready, or serving and not terminating (nil Ready means ready, nil
// Serving means as Ready); draining = terminating but still serving.
func endpointState(c discoveryv1.EndpointConditions) (usable, draining bool) {
	ready := c.Ready == nil || *c.Ready
	serving := ready
	if c.Serving != nil {
		serving = *c.Serving
	}
	terminating := c.Terminating != nil && *c.Terminating
	return ready || (serving && !terminating), serving && terminating
}

func addNode(m map[types.NamespacedName]map[string]bool, svc types.NamespacedName, node string) {
	if m[svc] == nil {
		m[svc] = map[string]bool{}
	}
	m[svc][node] = true
}

// candidates returns the nodes that may serve ip for the accepted Services (which share
// one traffic policy). Shared Local Services: nodes with a local endpoint for all of them,
// else for any of them.
func (c *candidacy) candidates(svcs []*corev1.Service) []string {
	if trafficPolicy(svcs[0]) != corev1.ServiceExternalTrafficPolicyLocal {
		return c.cluster
	}
	var all, any map[string]bool
	for i, svc := range svcs {
		local := c.local(nameOf(svc))
		any = union(any, local)
		if i == 0 {
			all = local
		} else {
			all = intersect(all, local)
		}
	}
	if len(all) == 0 {
		all = any
	}
	return sortedKeys(all)
}

// local is the Service's nodes with a usable local endpoint or, when there is none
// anywhere, those with a terminating-but-serving one (kube-proxy falls back the same way).
func (c *candidacy) local(svc types.NamespacedName) map[string]bool {
	if len(c.ready[svc]) > 0 {
		return c.ready[svc]
	}
	return c.draining[svc]
}

func (c *candidacy) want(ip netip.Addr, svcs []*corev1.Service) (Want, []Problem) {
	w := Want{IP: ip, Services: make([]types.NamespacedName, len(svcs))}
	for i, svc := range svcs {
		w.Services[i] = nameOf(svc)
	}
	slices.SortFunc(w.Services, compareNN)
	cands := c.candidates(svcs)
	if !slices.Contains(cands, c.self) {
		return w, nil
	}
	if err := c.carry(ip); err != nil {
		return w, c.cannotCarry(ip, w.Services, err)
	}
	w.Eligible, w.Ahead = true, Ahead(c.self, ip, cands)
	w.Rank = len(w.Ahead)
	return w, nil
}

func (c *candidacy) carry(ip netip.Addr) (err error) {
	if c.canCarry == nil {
		return nil
	}
	defer func() { // the hook is the data plane's code; a panic there must not stop us
		if r := recover(); r != nil {
			err = fmt.Errorf("CanCarry(%s) panicked: %v", ip, r)
		}
	}()
	return c.canCarry(ip)
}

func (c *candidacy) cannotCarry(ip netip.Addr, svcs []types.NamespacedName, err error) []Problem {
	out := make([]Problem, len(svcs))
	for i, nn := range svcs {
		out[i] = Problem{Service: nn, Reason: ReasonCannotCarry, Node: c.self, Message: fmt.Sprintf(
			"node %s cannot carry %s (%v); it stays out of the election, other nodes may announce it", c.self, ip, err)}
	}
	return out
}

// Rank is node's 0-based rendezvous rank for ip among cands: how many candidates score
// higher, by sha256("node#ip") (ties broken by name). It is not sorted per call, so one
// node's rank costs one pass.
func Rank(node string, ip netip.Addr, cands []string) int {
	mine, rank := score(node, ip), 0
	for _, other := range cands {
		if other == node {
			continue
		}
		if s := score(other, ip); s > mine || (s == mine && other < node) {
			rank++
		}
	}
	return rank
}

// Ahead names the candidates ranked before node for ip, best first: Rank is its length.
// The elector uses it to skip a releaser's place in a graceful handover.
func Ahead(node string, ip netip.Addr, cands []string) []string {
	mine := score(node, ip)
	var out []string
	for _, other := range cands {
		if s := score(other, ip); other != node && (s > mine || (s == mine && other < node)) {
			out = append(out, other)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(score(b, ip), score(a, ip)) })
	return out
}

func score(node string, ip netip.Addr) uint64 {
	sum := sha256.Sum256([]byte(node + "#" + ip.String()))
	return binary.BigEndian.Uint64(sum[:8])
}

func union(a, b map[string]bool) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}

func intersect(a, b map[string]bool) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		if b[k] {
			out[k] = true
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func compareNN(a, b types.NamespacedName) int {
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
