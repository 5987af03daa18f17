package pool

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// maxEntries bounds the work on one pool whatever the API let through.
const maxEntries = 1024

// poolState is one VIPPool as the allocator understands it.
type poolState struct {
	name       string
	generation int64
	created    metav1.Time
	blocks     []block  // the valid entries, sorted by lo
	errs       []string // why the pool is invalid
	autoAssign bool
	avoidBuggy bool
	svcSel     labels.Selector // nil: every Service
	nsSel      labels.Selector // nil: every namespace
	namespaces map[string]bool // empty: every namespace

	overlaps map[string]bool // other valid pools sharing addresses with this one
	yieldsTo string          // the older used pool this one overlaps; then not active
	active   bool            // used for new allocations
}

func (p *poolState) valid() bool { return len(p.errs) == 0 }

// preparePools parses every pool, marks overlaps and decides which pools are used. The
// result is sorted by name, the allocation order.
func preparePools(in []*v1alpha1.VIPPool) []*poolState {
	var out []*poolState
	seen := map[string]bool{}
	for _, vp := range in {
		if vp == nil || seen[vp.Name] {
			continue
		}
		seen[vp.Name] = true
		out = append(out, parsePool(vp))
	}
	markOverlaps(out)
	slices.SortFunc(out, func(a, b *poolState) int { return cmp.Compare(a.name, b.name) })
	return out
}

func parsePool(vp *v1alpha1.VIPPool) *poolState {
	p := &poolState{name: vp.Name, generation: vp.Generation, created: vp.CreationTimestamp,
		autoAssign: vp.Spec.AutoAssign == nil || *vp.Spec.AutoAssign, avoidBuggy: vp.Spec.AvoidBuggyIPs,
		overlaps: map[string]bool{}, namespaces: map[string]bool{}}
	p.parseAddresses(vp.Spec.Addresses)
	for _, ns := range vp.Spec.Namespaces {
		p.namespaces[ns] = true
	}
	p.svcSel = p.selector("serviceSelector", vp.Spec.ServiceSelector)
	p.nsSel = p.selector("namespaceSelector", vp.Spec.NamespaceSelector)
	return p
}

func (p *poolState) parseAddresses(entries []string) {
	switch {
	case len(entries) == 0:
		p.errs = append(p.errs, "spec.addresses is empty")
	case len(entries) > maxEntries:
		p.errs = append(p.errs, fmt.Sprintf("spec.addresses has %d entries, more than %d", len(entries), maxEntries))
		return
	}
	for _, e := range entries {
		b, err := parseBlock(e)
		if err != nil {
			p.errs = append(p.errs, fmt.Sprintf("%s: %v", quote(e), err))
			continue
		}
		p.blocks = append(p.blocks, b)
	}
	slices.SortFunc(p.blocks, func(a, b block) int { return a.lo.Compare(b.lo) })
	for i, widest := 1, 0; i < len(p.blocks); i++ {
		if b := p.blocks[i]; b.lo.Compare(p.blocks[widest].hi) <= 0 {
			p.errs = append(p.errs, fmt.Sprintf("%s overlaps %s", quote(b.entry), quote(p.blocks[widest].entry)))
		}
		if p.blocks[i].hi.Compare(p.blocks[widest].hi) > 0 {
			widest = i
		}
	}
}

// selector converts a LabelSelector; nil (and an invalid one, which makes p invalid)
// selects everything.
func (p *poolState) selector(field string, ls *metav1.LabelSelector) labels.Selector {
	if ls == nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(ls)
	if err != nil {
		p.errs = append(p.errs, fmt.Sprintf("spec.%s: %v", field, err))
		return nil
	}
	return sel
}

// markOverlaps links valid pools that share addresses, then walks them oldest first: a
// pool is active if valid and it overlaps no older active pool.
func markOverlaps(pools []*poolState) {
	type ref struct {
		b block
		p *poolState
	}
	var refs []ref
	for _, p := range pools {
		for _, b := range p.blocks {
			if p.valid() {
				refs = append(refs, ref{b, p})
			}
		}
	}
	slices.SortFunc(refs, func(a, b ref) int { return a.b.lo.Compare(b.b.lo) })
	for i := range refs {
		for j := i + 1; j < len(refs) && refs[j].b.lo.Compare(refs[i].b.hi) <= 0; j++ {
			if a, b := refs[i].p, refs[j].p; a != b {
				a.overlaps[b.name], b.overlaps[a.name] = true, true
			}
		}
	}
	decideActive(pools)
}

func decideActive(pools []*poolState) {
	older := slices.Clone(pools)
	slices.SortFunc(older, olderPool)
	for i, p := range older {
		p.active = p.valid()
		for _, q := range older[:i] {
			if p.active && q.active && p.overlaps[q.name] {
				p.active, p.yieldsTo = false, q.name
			}
		}
	}
}

func olderPool(a, b *poolState) int {
	if c := a.created.Compare(b.created.Time); c != 0 {
		return c
	}
	return cmp.Compare(a.name, b.name)
}

// admits reports whether the pool's selectors let svc have its addresses.
func (p *poolState) admits(svc *corev1.Service, nsLabels map[string]map[string]string) bool {
	if len(p.namespaces) > 0 && !p.namespaces[svc.Namespace] {
		return false
	}
	if p.svcSel != nil && !p.svcSel.Matches(labels.Set(svc.Labels)) {
		return false
	}
	if p.nsSel == nil {
		return true
	}
	l, ok := nsLabels[svc.Namespace]
	return ok && p.nsSel.Matches(labels.Set(l))
}

// has reports whether a is inside one of the pool's entries.
func (p *poolState) has(a netip.Addr) bool {
	for _, b := range p.blocks {
		if b.contains(a) {
			return true
		}
	}
	return false
}

// hasFamily reports whether the pool can ever hand out addresses of the family.
func (p *poolState) hasFamily(f family) bool {
	for _, b := range p.blocks {
		if familyOf(b.lo) == f && b.size(p.avoidBuggy).Sign() > 0 {
			return true
		}
	}
	return false
}

// lowestFree returns the pool's lowest free address of family f.
func (p *poolState) lowestFree(f family, used map[netip.Addr]bool) (netip.Addr, bool) {
	for _, b := range p.blocks {
		if familyOf(b.lo) != f {
			continue
		}
		if a, ok := b.lowestFree(used, p.avoidBuggy); ok {
			return a, true
		}
	}
	return netip.Addr{}, false
}

func sortedNames(m map[string]bool) []string { return slices.Sorted(maps.Keys(m)) }

// quote quotes user text for a message, cut to 64 bytes.
func quote(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return fmt.Sprintf("%q", s)
}
