package svcrules

import (
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Source is where a Service's VIPs come from.
type Source int

// The sources, in order of precedence: the first present (non-blank) one wins, even when
// all its tokens are bad; falling back to the next would hand out an IP nobody asked for.
const (
	SourceNone           Source = iota
	SourceAnnotation            // vipkeeper.io/loadbalancer-ips
	SourceLoadBalancerIP        // spec.loadBalancerIP
	SourceAllocated             // vipkeeper.io/allocated-ips, written by the allocator
)

func (s Source) String() string {
	switch s {
	case SourceAnnotation:
		return "annotation " + AnnotationIPs
	case SourceLoadBalancerIP:
		return "spec.loadBalancerIP"
	case SourceAllocated:
		return "annotation " + AnnotationAllocatedIPs
	}
	return "none"
}

// ByUser reports whether the user asked for the IPs (annotation or spec.loadBalancerIP):
// such a Service gets no allocation.
func (s Source) ByUser() bool { return s == SourceAnnotation || s == SourceLoadBalancerIP }

// Request is what one Service asks for.
type Request struct {
	Source Source
	IPs    []netip.Addr // usable addresses, in order, without duplicates
	Bad    []string     // tokens that are not usable addresses
}

// RequestOf returns the VIPs svc asks for, from its first present source.
func RequestOf(svc *corev1.Service) Request {
	for _, s := range []struct {
		src Source
		val string
	}{
		{SourceAnnotation, svc.Annotations[AnnotationIPs]},
		{SourceLoadBalancerIP, svc.Spec.LoadBalancerIP},
		{SourceAllocated, svc.Annotations[AnnotationAllocatedIPs]},
	} {
		if strings.TrimSpace(s.val) != "" {
			ips, bad := ParseIPs(s.val)
			return Request{Source: s.src, IPs: ips, Bad: bad}
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
