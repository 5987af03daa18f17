package svcrules

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// candidacy answers, per VIP, which nodes may serve it. It reads Node objects only for
// their labels (the exclude label, pools' node selectors; never the Ready condition) and
// EndpointSlices for local endpoints.
type candidacy struct {
	cluster  []string                     // nodes serving Cluster VIPs: Node objects without the exclude label (+ Self)
	nodes    int                          // Node objects seen
	labels   map[string]map[string]string // labels of each Node object seen
	excluded map[string]bool
	ready    map[types.NamespacedName]map[string]bool // Service -> nodes with a usable local endpoint
	draining map[types.NamespacedName]map[string]bool // Service -> nodes with only terminating-but-serving endpoints
	onExcl   map[types.NamespacedName]bool            // Service has endpoints on excluded nodes
}

func newCandidacy(in Input) *candidacy {
	c := &candidacy{excluded: map[string]bool{}, ready: map[types.NamespacedName]map[string]bool{},
		labels:   map[string]map[string]string{},
		draining: map[types.NamespacedName]map[string]bool{}, onExcl: map[types.NamespacedName]bool{}}
	known := false
	for _, n := range in.Nodes {
		if n == nil {
			continue
		}
		c.nodes++
		c.labels[n.Name] = n.Labels
		known = known || n.Name == in.Self
		if _, ok := n.Labels[corev1.LabelNodeExcludeBalancers]; ok && !in.IgnoreExcludeLB {
			c.excluded[n.Name] = true
			continue
		}
		c.cluster = append(c.cluster, n.Name)
	}
	if !known && in.Self != "" {
		c.cluster = append(c.cluster, in.Self) // our Node object may be missing: we still count
	}
	slices.Sort(c.cluster)
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
		if ep.NodeName == nil || *ep.NodeName == "" {
			continue
		}
		if c.excluded[*ep.NodeName] {
			c.onExcl[svc] = true
			continue
		}
		switch usable, draining := EndpointState(ep.Conditions); {
		case usable:
			addNode(c.ready, svc, *ep.NodeName)
		case draining:
			addNode(c.draining, svc, *ep.NodeName)
		}
	}
}

// EndpointState: usable = ready, or serving and not terminating (nil Ready means ready, nil
// Serving means as Ready); draining = terminating but still serving.
func EndpointState(c discoveryv1.EndpointConditions) (usable, draining bool) {
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

// vip returns the VIP of the accepted Services (which share one traffic policy) and its
// candidates. Shared Local Services: nodes with a local endpoint for all of them, else for
// any of them (serving some of the Services beats serving none of them). Of those, only
// the nodes the VIP's pool selects count; a pool with an invalid spec.l2 selects none.
func (c *candidacy) vip(ip netip.Addr, svcs []*corev1.Service, pool *Pool) VIP {
	v := VIP{IP: ip, Policy: TrafficPolicy(svcs[0]), Services: make([]types.NamespacedName, len(svcs))}
	for i, svc := range svcs {
		v.Services[i] = NameOf(svc)
	}
	slices.SortFunc(v.Services, CompareNames)
	if v.Policy != corev1.ServiceExternalTrafficPolicyLocal {
		v.Candidates = slices.Clone(c.cluster)
	} else {
		v.Candidates = c.localCandidates(v.Services)
	}
	before := len(v.Candidates)
	if pool != nil {
		v.Pool, v.Interfaces = pool.Name, slices.Clone(pool.Interfaces)
		v.Candidates = slices.DeleteFunc(v.Candidates, func(n string) bool {
			l, known := c.labels[n]
			return !pool.SelectsNode(l, known)
		})
	}
	switch {
	case len(v.Candidates) > 0:
	case before > 0 && len(pool.L2Errs) > 0:
		v.NoCandidate = fmt.Sprintf("spec.l2 of VIPPool %s is invalid: %s", pool.Name, strings.Join(pool.L2Errs, "; "))
	case before > 0:
		v.NoCandidate = fmt.Sprintf("no node matches spec.l2.nodeSelectors of VIPPool %s", pool.Name)
	default:
		v.NoCandidate = c.why(v)
	}
	return v
}

func (c *candidacy) localCandidates(svcs []types.NamespacedName) []string {
	var all, any map[string]bool
	for i, nn := range svcs {
		local := c.local(nn)
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
	return slices.Sorted(maps.Keys(all))
}

// local is the Service's nodes with a usable local endpoint or, when there is none
// anywhere, those with a terminating-but-serving one (kube-proxy falls back the same way).
func (c *candidacy) local(svc types.NamespacedName) map[string]bool {
	if len(c.ready[svc]) > 0 {
		return c.ready[svc]
	}
	return c.draining[svc]
}

// why explains an empty candidate list.
func (c *candidacy) why(v VIP) string {
	switch {
	case v.Policy == corev1.ServiceExternalTrafficPolicyLocal && slices.ContainsFunc(v.Services, func(nn types.NamespacedName) bool { return c.onExcl[nn] }):
		return "externalTrafficPolicy is Local and its only ready endpoints are on excluded nodes (label " + corev1.LabelNodeExcludeBalancers + ")"
	case v.Policy == corev1.ServiceExternalTrafficPolicyLocal:
		return "externalTrafficPolicy is Local and no node has a ready local endpoint"
	case c.nodes == 0:
		return "no Node objects exist"
	}
	return "every node is excluded (label " + corev1.LabelNodeExcludeBalancers + ")"
}

func union(a, b map[string]bool) map[string]bool {
	out := make(map[string]bool, len(a)+len(b))
	maps.Copy(out, a)
	maps.Copy(out, b)
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
