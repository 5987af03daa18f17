package pool

import (
	"fmt"
	"math/big"
	"net/netip"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// maxListed bounds how many items a condition message lists.
const maxListed = 5

func (s *state) statuses() map[string]v1alpha1.VIPPoolStatus {
	out := make(map[string]v1alpha1.VIPPoolStatus, len(s.pools))
	for _, p := range s.pools {
		out[p.Name] = s.status(p)
	}
	return out
}

func (s *state) status(p *poolState) v1alpha1.VIPPoolStatus {
	allocated, free := s.counts(p)
	total := new(big.Int)
	for _, n := range free {
		total.Add(total, n)
	}
	return v1alpha1.VIPPoolStatus{
		ObservedGeneration: p.generation,
		Allocated:          allocated,
		Free:               saturate(total),
		Conditions: []metav1.Condition{
			readyCondition(p), invalidCondition(p), overlappingCondition(p),
			exhaustedCondition(p, free), s.shrunkCondition(p),
		},
	}
}

// counts returns how many used IPs lie in the pool's entries, and per family how many
// addresses it could still hand out (none while it is not active).
func (s *state) counts(p *poolState) (int64, map[family]*big.Int) {
	var allocated int64
	free := map[family]*big.Int{}
	for _, b := range p.blocks {
		if p.active {
			f := familyOf(b.Lo)
			free[f] = new(big.Int).Add(orZero(free[f]), b.size(p.avoidBuggy))
		}
	}
	for ip := range s.used {
		if !p.has(ip) {
			continue
		}
		allocated++
		if p.active && p.allocatable(ip) {
			free[familyOf(ip)].Sub(free[familyOf(ip)], big.NewInt(1))
		}
	}
	return allocated, free
}

func orZero(n *big.Int) *big.Int {
	if n == nil {
		return new(big.Int)
	}
	return n
}

// allocatable reports whether the pool would hand out ip if it were free.
func (p *poolState) allocatable(ip netip.Addr) bool {
	for _, b := range p.blocks {
		if b.allocatable(ip, p.avoidBuggy) {
			return true
		}
	}
	return false
}

func cond(t string, ok bool, reason, msg string) metav1.Condition {
	st := metav1.ConditionFalse
	if ok {
		st = metav1.ConditionTrue
	}
	return metav1.Condition{Type: t, Status: st, Reason: reason, Message: msg}
}

func readyCondition(p *poolState) metav1.Condition {
	switch {
	case !p.valid():
		return cond(v1alpha1.ConditionReady, false, "Invalid", "not used for new allocations: see condition Invalid")
	case !p.active:
		return cond(v1alpha1.ConditionReady, false, "Overlapping",
			fmt.Sprintf("not used for new allocations: it overlaps VIPPool %s, which is older", p.yieldsTo))
	case !p.autoAssign:
		return cond(v1alpha1.ConditionReady, true, "Ready",
			"used only for Services that name it in "+AnnotationPool+" (autoAssign is false)")
	}
	return cond(v1alpha1.ConditionReady, true, "Ready", "used for new allocations")
}

func invalidCondition(p *poolState) metav1.Condition {
	if p.valid() {
		return cond(v1alpha1.ConditionInvalid, false, "Valid", "")
	}
	return cond(v1alpha1.ConditionInvalid, true, "InvalidSpec", list(p.errs, "; "))
}

func overlappingCondition(p *poolState) metav1.Condition {
	if len(p.overlaps) == 0 {
		return cond(v1alpha1.ConditionOverlapping, false, "NoOverlap", "")
	}
	return cond(v1alpha1.ConditionOverlapping, true, "Overlapping",
		"shares addresses with VIPPool "+list(sortedNames(p.overlaps), ", ")+"; only the oldest of overlapping pools is used")
}

func exhaustedCondition(p *poolState, free map[family]*big.Int) metav1.Condition {
	if !p.active {
		return cond(v1alpha1.ConditionExhausted, false, "NotReady", "")
	}
	var out []string
	for _, f := range []family{v4, v6} {
		if n, ok := free[f]; ok && n.Sign() <= 0 && p.hasFamily(f) {
			out = append(out, fmt.Sprintf("no free %s address", f))
		}
	}
	if len(out) == 0 {
		return cond(v1alpha1.ConditionExhausted, false, "FreeAddresses", "")
	}
	return cond(v1alpha1.ConditionExhausted, true, "NoFreeAddresses", strings.Join(out, "; "))
}

func (s *state) shrunkCondition(p *poolState) metav1.Condition {
	held := s.shrunk[p.Name]
	if len(held) == 0 {
		return cond(v1alpha1.ConditionShrunkInUse, false, "NoneOutside", "")
	}
	return cond(v1alpha1.ConditionShrunkInUse, true, "AddressesOutsideSpec", fmt.Sprintf(
		"%d Service addresses allocated from this pool are no longer in spec.addresses and stay in use until released: %s",
		len(held), list(held, ", ")))
}

// poolProblems turns the conditions that report trouble into problems (Warning Events).
func poolProblems(name string, st v1alpha1.VIPPoolStatus) []Problem {
	var out []Problem
	for _, c := range st.Conditions {
		if c.Type != v1alpha1.ConditionReady && c.Status == metav1.ConditionTrue {
			out = append(out, Problem{Object: Object{Kind: KindPool, Name: name}, Reason: c.Type, Message: c.Message})
		}
	}
	return out
}

// list joins at most maxListed items and says how many more there are.
func list(items []string, sep string) string {
	if len(items) <= maxListed {
		return strings.Join(items, sep)
	}
	return fmt.Sprintf("%s%sand %d more", strings.Join(items[:maxListed], sep), sep, len(items)-maxListed)
}
