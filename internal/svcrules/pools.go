package svcrules

import (
	"cmp"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// maxEntries bounds the work on one pool whatever the API let through.
const maxEntries = 1024

// Pool is one VIPPool as every reader understands it: its address entries, its allocation
// priority and where its VIPs are announced (spec.l2). The allocator adds the rules that
// are its own (autoAssign, Service selectors, overlaps) in internal/pool.
type Pool struct {
	Name     string
	Created  metav1.Time
	Priority int32
	Blocks   []Block  // the valid entries of spec.addresses, sorted by Lo
	Errs     []string // why spec.addresses is invalid
	// Nodes are spec.l2.nodeSelectors (a node qualifies if any matches); nil: every node.
	Nodes []labels.Selector
	// Interfaces are spec.l2.interfaces; nil: the agent's --interface.
	Interfaces []string
	// L2Errs say why spec.l2 is invalid; the pool's VIPs then have no candidate at all
	// (announcing where the user did not allow is worse than a NoCandidate Event).
	L2Errs []string
}

// ParsePool reads a VIPPool. Bad entries are reported in Errs and L2Errs, never panicked on.
func ParsePool(vp *v1alpha1.VIPPool) *Pool {
	p := &Pool{Name: vp.Name, Created: vp.CreationTimestamp, Priority: vp.Spec.Priority}
	p.parseAddresses(vp.Spec.Addresses)
	if l2 := vp.Spec.L2; l2 != nil {
		p.parseL2(l2)
	}
	return p
}

func (p *Pool) parseAddresses(entries []string) {
	switch {
	case len(entries) == 0:
		p.Errs = append(p.Errs, "spec.addresses is empty")
	case len(entries) > maxEntries:
		p.Errs = append(p.Errs, fmt.Sprintf("spec.addresses has %d entries, more than %d", len(entries), maxEntries))
		return
	}
	for _, e := range entries {
		b, err := ParseBlock(e)
		if err != nil {
			p.Errs = append(p.Errs, fmt.Sprintf("%s: %v", Quote(e), err))
			continue
		}
		p.Blocks = append(p.Blocks, b)
	}
	slices.SortFunc(p.Blocks, func(a, b Block) int { return a.Lo.Compare(b.Lo) })
	for i, widest := 1, 0; i < len(p.Blocks); i++ {
		if b := p.Blocks[i]; b.Lo.Compare(p.Blocks[widest].Hi) <= 0 {
			p.Errs = append(p.Errs, fmt.Sprintf("%s overlaps %s", Quote(b.Entry), Quote(p.Blocks[widest].Entry)))
		}
		if p.Blocks[i].Hi.Compare(p.Blocks[widest].Hi) > 0 {
			widest = i
		}
	}
}

func (p *Pool) parseL2(l2 *v1alpha1.L2Advertisement) {
	for i := range l2.NodeSelectors {
		sel, err := metav1.LabelSelectorAsSelector(&l2.NodeSelectors[i])
		if err != nil {
			p.L2Errs = append(p.L2Errs, fmt.Sprintf("spec.l2.nodeSelectors[%d]: %v", i, err))
			continue
		}
		p.Nodes = append(p.Nodes, sel)
	}
	for _, name := range l2.Interfaces {
		if _, err := path.Match(name, ""); err != nil || name == "" || strings.ContainsAny(name, "/ \t\n") {
			p.L2Errs = append(p.L2Errs, fmt.Sprintf("spec.l2.interfaces: %s is not an interface name or pattern", Quote(name)))
			continue
		}
		p.Interfaces = append(p.Interfaces, name)
	}
}

// Has reports whether a lies in one of the pool's valid entries.
func (p *Pool) Has(a netip.Addr) bool {
	return slices.ContainsFunc(p.Blocks, func(b Block) bool { return b.Contains(a) })
}

// SelectsNode reports whether a node with these labels may announce the pool's VIPs
// (known: the node has a Node object; without one, only a pool without selectors takes it).
func (p *Pool) SelectsNode(nodeLabels map[string]string, known bool) bool {
	switch {
	case len(p.L2Errs) > 0:
		return false
	case len(p.Nodes) == 0:
		return true
	}
	return known && slices.ContainsFunc(p.Nodes, func(s labels.Selector) bool { return s.Matches(labels.Set(nodeLabels)) })
}

// ParsePools reads VIPPools in allocation order: higher spec.priority first, then by
// name. Of two objects with one name (never so from an API server) the first counts.
func ParsePools(in []*v1alpha1.VIPPool) []*Pool {
	var out []*Pool
	seen := map[string]bool{}
	for _, vp := range in {
		if vp == nil || seen[vp.Name] {
			continue
		}
		seen[vp.Name] = true
		out = append(out, ParsePool(vp))
	}
	slices.SortFunc(out, ByPriority)
	return out
}

// ByPriority orders pools for allocation: higher Priority first, then by name.
func ByPriority(a, b *Pool) int {
	return cmp.Or(cmp.Compare(b.Priority, a.Priority), cmp.Compare(a.Name, b.Name))
}

// OlderPool orders pools by creationTimestamp, then name: of overlapping pools the older
// one counts.
func OlderPool(a, b *Pool) int {
	if c := a.Created.Compare(b.Created.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.Name, b.Name)
}

// PoolOfVIP is the pool a VIP belongs to, whose spec.l2 says where it is announced: the
// pool recorded for it in vipkeeper.io/allocated-pools if that pool exists, else the
// oldest pool one of whose valid entries holds it; nil when it is in no pool.
func PoolOfVIP(pools []*Pool, ip netip.Addr, recorded string) *Pool {
	var best *Pool
	for _, p := range pools {
		switch {
		case recorded != "" && p.Name == recorded:
			return p
		case p.Has(ip) && (best == nil || OlderPool(p, best) < 0):
			best = p
		}
	}
	return best
}

// AllocatedPools parses vipkeeper.io/allocated-pools ("ip=pool,..."); malformed pairs are
// ignored.
func AllocatedPools(s string) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for pair := range strings.SplitSeq(s, ",") {
		ip, name, ok := strings.Cut(strings.TrimSpace(pair), "=")
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if ok && err == nil && strings.TrimSpace(name) != "" {
			out[a.Unmap()] = strings.TrimSpace(name)
		}
	}
	return out
}

// Quote quotes user text for a message, cut to 64 bytes.
func Quote(s string) string {
	if len(s) > maxQuoted {
		s = s[:maxQuoted] + "..."
	}
	return fmt.Sprintf("%q", s)
}
