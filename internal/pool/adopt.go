package pool

import (
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// adopt keeps, for a Service that asks for nothing and has no allocation, the addresses
// its status.loadBalancer.ingress already lists (svcrules.AdoptableIPs: a Service moved
// from MetalLB or kube-vip keeps its IP), one per wanted family, when the IP is
// allocatable in a pool the Service may get addresses from (as for a fresh allocation:
// Ready, autoAssign or named, admitting it) and no older Service requests, holds or has
// adopted it (older first, as everywhere), and no Service leaving our class still
// carries it. Services are visited oldest first, so of two Services listing one IP the
// older adopts it; the younger joins it only through a valid sharing key (join), else
// gets another address.
func (s *state) adopt(svc *corev1.Service, pol policy) []pick {
	ips := svcrules.AdoptableIPs(svc)
	if len(ips) == 0 {
		return nil
	}
	pools, why := s.candidates(svc)
	if why != "" {
		return nil
	}
	var out []pick
	for _, ip := range ips {
		f := familyOf(ip)
		if !hasFamily(pol.families, f) || slices.ContainsFunc(out, func(p pick) bool { return p.f == f }) || s.taken(ip, svc) {
			continue
		}
		if i := slices.IndexFunc(pools, func(p *poolState) bool { return p.allocatable(ip) }); i >= 0 {
			out = append(out, pick{f: f, ip: ip, pool: pools[i].Name, adopted: true})
		}
	}
	return out
}

// taken reports whether someone other than svc has a better claim on ip: an older Service
// owns, requests or holds it, or a Service leaving our class still carries it.
func (s *state) taken(ip netip.Addr, svc *corev1.Service) bool {
	older := func(o *corev1.Service) bool { return o != svc && olderFirst(o, svc) < 0 }
	return s.stale[ip] || slices.ContainsFunc(s.owners[ip], older) || slices.ContainsFunc(s.holders[ip], older)
}
