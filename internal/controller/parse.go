package controller

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// maxQuoted bounds how much of a bad token or how many bad tokens a message repeats, so a
// huge annotation cannot produce a huge Event.
const (
	maxQuoted    = 64
	maxBadTokens = 5
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

// requestedIPs returns the VIPs a served Service asks for, in order of precedence: the
// annotation, else spec.loadBalancerIP, else the allocator's annotation. The first source
// that is present (non-blank) wins even when all its tokens are bad: falling back to
// another source would hand out an IP the user did not ask for.
func requestedIPs(svc *corev1.Service) ([]netip.Addr, []Problem) {
	src, val := ipSource(svc)
	if src == "" {
		return nil, nil
	}
	ips, bad := ParseIPs(val)
	if len(bad) == 0 {
		return ips, nil
	}
	return ips, []Problem{{
		Service: nameOf(svc),
		Reason:  ReasonInvalidIP,
		Message: fmt.Sprintf("%s: %s; ignored", src, quoteTokens(bad)),
	}}
}

func ipSource(svc *corev1.Service) (src, val string) {
	if v := svc.Annotations[AnnotationIPs]; strings.TrimSpace(v) != "" {
		return "annotation " + AnnotationIPs, v
	}
	if v := svc.Spec.LoadBalancerIP; strings.TrimSpace(v) != "" {
		return "spec.loadBalancerIP", v
	}
	if v := svc.Annotations[AnnotationAllocatedIPs]; strings.TrimSpace(v) != "" {
		return "annotation " + AnnotationAllocatedIPs, v
	}
	return "", ""
}

func quoteTokens(bad []string) string {
	var b strings.Builder
	for i, tok := range bad {
		if i == maxBadTokens {
			fmt.Fprintf(&b, " and %d more", len(bad)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if len(tok) > maxQuoted {
			tok = tok[:maxQuoted] + "..."
		}
		fmt.Fprintf(&b, "%q", tok)
	}
	if len(bad) == 1 {
		return b.String() + " is not a usable unicast IP address"
	}
	return b.String() + " are not usable unicast IP addresses"
}

func nameOf(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}
