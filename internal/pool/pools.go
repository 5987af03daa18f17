package pool

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// poolState is one VIPPool as the allocator understands it: the shared reading
// (svcrules.Pool: entries, priority, spec.l2) and the allocator's own rules.
type poolState struct {
	*svcrules.Pool
	generation int64
	blocks     []block  // Pool.Blocks, with the allocator's arithmetic
	errs       []string // why the pool is invalid: entries, selectors, spec.l2
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
// result is in allocation order: higher priority first, then by name.
func preparePools(in []*v1alpha1.VIPPool) []*poolState {
	byName := map[string]*v1alpha1.VIPPool{}
	for _, vp := range in {
		if vp != nil && byName[vp.Name] == nil {
			byName[vp.Name] = vp
		}
	}
	var out []*poolState
	for _, sp := range svcrules.ParsePools(in) {
		out = append(out, parsePool(sp, byName[sp.Name]))
	}
	markOverlaps(out)
	return out
}

func parsePool(sp *svcrules.Pool, vp *v1alpha1.VIPPool) *poolState {
	p := &poolState{Pool: sp, generation: vp.Generation,
		autoAssign: vp.Spec.AutoAssign == nil || *vp.Spec.AutoAssign, avoidBuggy: vp.Spec.AvoidBuggyIPs,
		overlaps: map[string]bool{}, namespaces: map[string]bool{}}
	for _, b := range sp.Blocks {
		p.blocks = append(p.blocks, block{b})
	}
	p.errs = slices.Concat(sp.Errs, sp.L2Errs)
	for _, ns := range vp.Spec.Namespaces {
		p.namespaces[ns] = true
	}
	p.svcSel = p.selector("serviceSelector", vp.Spec.ServiceSelector)
	p.nsSel = p.selector("namespaceSelector", vp.Spec.NamespaceSelector)
	return p
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
	slices.SortFunc(refs, func(a, b ref) int { return a.b.Lo.Compare(b.b.Lo) })
	for i := range refs {
		for j := i + 1; j < len(refs) && refs[j].b.Lo.Compare(refs[i].b.Hi) <= 0; j++ {
			if a, b := refs[i].p, refs[j].p; a != b {
				a.overlaps[b.Name], b.overlaps[a.Name] = true, true
			}
		}
	}
	decideActive(pools)
}

func decideActive(pools []*poolState) {
	older := slices.Clone(pools)
	slices.SortFunc(older, func(a, b *poolState) int { return svcrules.OlderPool(a.Pool, b.Pool) })
	for i, p := range older {
		p.active = p.valid()
		for _, q := range older[:i] {
			if p.active && q.active && p.overlaps[q.Name] {
				p.active, p.yieldsTo = false, q.Name
			}
		}
	}
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
func (p *poolState) has(a netip.Addr) bool { return p.Has(a) }

// hasFamily reports whether the pool can ever hand out addresses of the family.
func (p *poolState) hasFamily(f family) bool {
	for _, b := range p.blocks {
		if familyOf(b.Lo) == f && b.size(p.avoidBuggy).Sign() > 0 {
			return true
		}
	}
	return false
}

// lowestFree returns the pool's lowest free address of family f.
func (p *poolState) lowestFree(f family, used map[netip.Addr]bool) (netip.Addr, bool) {
	for _, b := range p.blocks {
		if familyOf(b.Lo) != f {
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
func quote(s string) string { return svcrules.Quote(s) }
