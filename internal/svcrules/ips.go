package svcrules

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Source is where a Service's VIPs come from.
type Source int

// The sources, in order of precedence: the first present (non-blank) one wins, even when
// all its tokens are bad, and even when a later one names other IPs; falling back to the
// next would hand out an IP nobody asked for. MetalLB's and kube-vip's annotations come
// right below vipkeeper's own (docs/migration.md), above the deprecated
// spec.loadBalancerIP, as those projects rank them too.
const (
	SourceNone           Source = iota
	SourceAnnotation            // vipkeeper.io/loadbalancer-ips
	SourceMetalLB               // metallb.io/loadBalancerIPs
	SourceMetalLBLegacy         // metallb.universe.tf/loadBalancerIPs
	SourceKubeVIP               // kube-vip.io/loadbalancerIPs
	SourceLoadBalancerIP        // spec.loadBalancerIP
	SourceAllocated             // vipkeeper.io/allocated-ips, written by the allocator
)

// annotationOf is the annotation each annotation source reads.
var annotationOf = map[Source]string{
	SourceAnnotation: AnnotationIPs, SourceMetalLB: AnnotationMetalLBIPs, SourceMetalLBLegacy: AnnotationMetalLBLegacyIPs,
	SourceKubeVIP: AnnotationKubeVIPIPs, SourceAllocated: AnnotationAllocatedIPs,
}

func (s Source) String() string {
	if a, ok := annotationOf[s]; ok {
		return "annotation " + a
	}
	if s == SourceLoadBalancerIP {
		return "spec.loadBalancerIP"
	}
	return "none"
}

// ByUser reports whether the user asked for the IPs (any annotation but the allocator's,
// or spec.loadBalancerIP): such a Service gets no allocation.
func (s Source) ByUser() bool { return s != SourceNone && s != SourceAllocated }

// Request is what one Service asks for.
type Request struct {
	Source Source
	IPs    []netip.Addr // usable addresses, in order, without duplicates
	Bad    []string     // tokens that are not usable addresses
}

// RequestOf returns the VIPs svc asks for, from its first present source.
func RequestOf(svc *corev1.Service) Request {
	for src := SourceAnnotation; src <= SourceAllocated; src++ {
		val := svc.Spec.LoadBalancerIP
		if a, ok := annotationOf[src]; ok {
			val = svc.Annotations[a]
		}
		if strings.TrimSpace(val) != "" {
			ips, bad := ParseIPs(val)
			return Request{Source: src, IPs: ips, Bad: bad}
		}
	}
	return Request{}
}

// ParseIPs parses a comma-separated list of IP addresses (spaces around tokens allowed,
// empty tokens skipped). It returns the usable addresses in order without duplicates and
// the tokens it refused. Usable means a unicast IPv4 or IPv6 address without a zone that
// is not unspecified, loopback, multicast or link-local. IPv4-mapped IPv6 addresses are
// unmapped, so "::ffff:198.51.100.7" and "198.51.100.7" are one VIP.
func ParseIPs(s string) (ips []netip.Addr, bad []string) {
	seen := map[netip.Addr]bool{}
	for tok := range strings.SplitSeq(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		ip, ok := parseVIP(tok)
		if !ok {
			bad = append(bad, tok)
			continue
		}
		if !seen[ip] {
			seen[ip] = true
			ips = append(ips, ip)
		}
	}
	return ips, bad
}

func parseVIP(tok string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(tok)
	if err != nil || ip.Zone() != "" {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.IsUnspecified() || ip.IsLoopback() || ip.IsMulticast() ||
		ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() {
		return netip.Addr{}, false
	}
	return ip, true
}
