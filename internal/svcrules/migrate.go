package svcrules

import (
	"net/netip"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// The annotations of MetalLB and kube-vip that vipkeeper reads as fallbacks below its own,
// so Services keep their addresses when a cluster switches (docs/migration.md). Each list
// is in order: the first present (non-blank) annotation wins and the rest are not looked
// at, even when they disagree, as for vipkeeper's own sources. MetalLB's current
// metallb.io prefix comes before its older metallb.universe.tf one.
const (
	AnnotationMetalLBIPs           = "metallb.io/loadBalancerIPs"
	AnnotationMetalLBLegacyIPs     = "metallb.universe.tf/loadBalancerIPs"
	AnnotationKubeVIPIPs           = "kube-vip.io/loadbalancerIPs"
	AnnotationMetalLBPool          = "metallb.io/address-pool"
	AnnotationMetalLBLegacyPool    = "metallb.universe.tf/address-pool"
	AnnotationMetalLBSharing       = "metallb.io/allow-shared-ip"
	AnnotationMetalLBLegacySharing = "metallb.universe.tf/allow-shared-ip"
)

var (
	// poolAnnotations name the VIPPool a Service asks for.
	poolAnnotations = []string{AnnotationPool, AnnotationMetalLBPool, AnnotationMetalLBLegacyPool}
	// sharingAnnotations carry the sharing key.
	sharingAnnotations = []string{AnnotationSharingKey, AnnotationMetalLBSharing, AnnotationMetalLBLegacySharing}
)

// first returns the first of keys whose annotation on svc is not blank, and its trimmed
// value; "" and "" when none is.
func first(svc *corev1.Service, keys []string) (key, value string) {
	for _, k := range keys {
		if v := strings.TrimSpace(svc.Annotations[k]); v != "" {
			return k, v
		}
	}
	return "", ""
}

// PoolOf returns the VIPPool svc asks for and the annotation that names it:
// vipkeeper.io/pool, else metallb.io/address-pool, else metallb.universe.tf/address-pool.
// Both are "" when svc names none.
func PoolOf(svc *corev1.Service) (name, annotation string) {
	annotation, name = first(svc, poolAnnotations)
	return name, annotation
}

// SharingKey is svc's sharing key: vipkeeper.io/sharing-key, else
// metallb.io/allow-shared-ip, else metallb.universe.tf/allow-shared-ip; "" for none.
// Services that carry the same key may share one VIP, whichever annotation carries it.
func SharingKey(svc *corev1.Service) string {
	_, v := first(svc, sharingAnnotations)
	return v
}

// AdoptableIPs are the addresses a Service moved from another load balancer may keep: the
// usable IPs of its status.loadBalancer.ingress, in order, when it asks for none itself
// (no request, no allocation: RequestOf is SourceNone). The allocator adopts them when
// they are free and inside a pool the Service may use (internal/pool); until it has, the
// status writer leaves those inside a pool in place (internal/ingress), so a switch
// renumbers nothing.
func AdoptableIPs(svc *corev1.Service) []netip.Addr {
	if RequestOf(svc).Source != SourceNone {
		return nil
	}
	var out []netip.Addr
	for _, in := range svc.Status.LoadBalancer.Ingress {
		if ip, ok := parseVIP(strings.TrimSpace(in.IP)); ok && !slices.Contains(out, ip) {
			out = append(out, ip)
		}
	}
	return out
}
