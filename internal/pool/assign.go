package pool

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// assign applies the dual-stack policy to the picks, commits the ones kept and records
// the Service's new annotations if they differ.
func (s *state) assign(svc *corev1.Service, pol policy, kept []netip.Addr, picks []pick) {
	var got, failed []pick
	for _, p := range picks {
		if p.ip.IsValid() {
			got = append(got, p)
		} else {
			failed = append(failed, p)
		}
	}
	if pol.require && len(kept) == 0 && len(failed) > 0 {
		f := failed[0]
		s.problem(svc, f.reason, fmt.Sprintf("RequireDualStack needs an address of each family; %s", f.why))
		got = nil
	} else {
		for _, f := range failed {
			if !(f.quiet && len(kept)+len(got) > 0) {
				s.problem(svc, f.reason, f.why)
			}
		}
	}
	for _, p := range got {
		s.own(svc, p.ip)
	}
	s.record(svc, pol, kept, got)
}

// record compares the Service's annotations with what it should carry now.
func (s *state) record(svc *corev1.Service, pol policy, kept []netip.Addr, got []pick) {
	from := parseFrom(svc.Annotations[AnnotationAllocatedPools])
	final := map[netip.Addr]string{}
	for _, ip := range kept {
		final[ip] = cmp.Or(from[ip], s.containing(ip))
		s.noteShrunk(svc, ip, from[ip])
	}
	for _, p := range got {
		final[p.ip] = p.pool
	}
	ips, pools := format(final, pol.families)
	if ips == svc.Annotations[AnnotationAllocatedIPs] && pools == svc.Annotations[AnnotationAllocatedPools] {
		return
	}
	a := Assignment{Service: nameOf(svc), IPs: ips, Pools: pools}
	if len(got) > 0 {
		a.Reason, a.Message = ReasonIPAllocated, "allocated "+describe(got)
	} else if dropped := droppedIPs(svc, final); dropped != "" {
		a.Reason, a.Message = ReasonIPReleased, "released "+dropped
	}
	s.out = append(s.out, a)
}

// noteShrunk remembers an IP kept from a pool that no longer holds it.
func (s *state) noteShrunk(svc *corev1.Service, ip netip.Addr, from string) {
	if p := s.byName[from]; p != nil && !p.has(ip) {
		s.shrunk[from] = append(s.shrunk[from], fmt.Sprintf("%s (%s)", nameOf(svc), ip))
	}
}

// format renders the IPs in the order of the Service's families, and their pools.
func format(final map[netip.Addr]string, fams []family) (ips, pools string) {
	order := slices.SortedFunc(maps.Keys(final), func(a, b netip.Addr) int {
		return cmp.Or(cmp.Compare(slices.Index(fams, familyOf(a)), slices.Index(fams, familyOf(b))), a.Compare(b))
	})
	var is, ps []string
	for _, ip := range order {
		is = append(is, ip.String())
		if final[ip] != "" {
			ps = append(ps, ip.String()+"="+final[ip])
		}
	}
	return strings.Join(is, ","), strings.Join(ps, ",")
}

func describe(got []pick) string {
	var parts []string
	for _, p := range got {
		switch {
		case p.shared:
			parts = append(parts, fmt.Sprintf("%s (shared by sharing key)", p.ip))
		case p.adopted:
			parts = append(parts, fmt.Sprintf("%s from VIPPool %s (kept from status.loadBalancer.ingress)", p.ip, p.pool))
		default:
			parts = append(parts, fmt.Sprintf("%s from VIPPool %s", p.ip, p.pool))
		}
	}
	return strings.Join(parts, ", ")
}

func droppedIPs(svc *corev1.Service, final map[netip.Addr]string) string {
	cur, _ := parseIPs(svc.Annotations[AnnotationAllocatedIPs])
	var out []string
	for _, ip := range cur {
		if _, ok := final[ip]; !ok {
			out = append(out, ip.String())
		}
	}
	return strings.Join(out, ", ")
}

// release removes the allocator's annotations from svc, if it has them.
func (s *state) release(svc *corev1.Service, why string) {
	if !hasOurs(svc) {
		return
	}
	a := Assignment{Service: nameOf(svc), Reason: ReasonIPReleased, Message: "released allocated IPs: " + why}
	if ips := svc.Annotations[AnnotationAllocatedIPs]; strings.TrimSpace(ips) != "" {
		a.Message = fmt.Sprintf("released %s: %s", quote(ips), why)
	}
	s.out = append(s.out, a)
}

func (s *state) problem(svc *corev1.Service, reason, msg string) {
	s.problems = append(s.problems, Problem{
		Object: Object{Kind: KindService, Namespace: svc.Namespace, Name: svc.Name}, Reason: reason, Message: msg})
}

func (s *state) output() Output {
	out := Output{Assignments: s.out, Pools: s.statuses()}
	slices.SortFunc(out.Assignments, func(a, b Assignment) int {
		return cmp.Or(cmp.Compare(a.Service.Namespace, b.Service.Namespace), cmp.Compare(a.Service.Name, b.Service.Name))
	})
	for _, p := range s.pools {
		out.Problems = append(out.Problems, poolProblems(p.Name, out.Pools[p.Name])...)
	}
	out.Problems = append(out.Problems, s.problems...)
	slices.SortFunc(out.Problems, compareProblems)
	out.Problems = slices.Compact(out.Problems)
	return out
}

func compareProblems(a, b Problem) int {
	return cmp.Or(cmp.Compare(a.Object.Kind, b.Object.Kind), cmp.Compare(a.Object.Namespace, b.Object.Namespace),
		cmp.Compare(a.Object.Name, b.Object.Name), cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message))
}
