// Package svcapi is the Service-side vocabulary of vipkeeper, shared by the per-node
// controller (which reads it) and the pool allocator (which writes some of it): annotation
// names, the default class, and how an IP list in an annotation is parsed.
//
// Invariant: one string means one set of VIPs everywhere; a token one reader accepts, every
// reader accepts.
package svcapi

import (
	"net/netip"
	"strings"
)

// Annotations on Services.
const (
	// AnnotationIPs asks for specific VIPs: comma-separated IPv4 and/or IPv6 addresses.
	AnnotationIPs = "vipkeeper.io/loadbalancer-ips"
	// AnnotationAllocatedIPs holds the VIPs the pool allocator chose (same format).
	AnnotationAllocatedIPs = "vipkeeper.io/allocated-ips"
	// AnnotationSharingKey lets Services share one VIP when they all carry the same value.
	AnnotationSharingKey = "vipkeeper.io/sharing-key"
	// DefaultClass is the spec.loadBalancerClass served by default.
	DefaultClass = "vipkeeper.io/lb"
)

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
