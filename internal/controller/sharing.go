package controller

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// resolveSharing decides which of the Services claiming ip (oldest first) get it. The
// oldest always keeps it; each younger one joins only if it is compatible with every
// Service already accepted, else its request for ip is refused with a Problem saying why.
func resolveSharing(ip netip.Addr, claimants []*corev1.Service) ([]*corev1.Service, []Problem) {
	accepted := claimants[:1:1]
	var problems []Problem
	for _, svc := range claimants[1:] {
		reason, why := shareable(accepted, svc)
		if reason == "" {
			accepted = append(accepted, svc)
			continue
		}
		problems = append(problems, Problem{Service: nameOf(svc), Reason: reason, Message: fmt.Sprintf(
			"%s is already used by Service %s and cannot be shared: %s", ip, nameOf(accepted[0]), why)})
	}
	return accepted, problems
}

// shareable returns an empty reason if svc may share an IP with all of accepted (which
// are mutually compatible), else the reason and why.
func shareable(accepted []*corev1.Service, svc *corev1.Service) (reason, why string) {
	owner := accepted[0]
	ownerKey, key := owner.Annotations[AnnotationSharingKey], svc.Annotations[AnnotationSharingKey]
	switch {
	case ownerKey == "" || key == "":
		return ReasonIPInUse, fmt.Sprintf("both Services need the same %s annotation", AnnotationSharingKey)
	case ownerKey != key:
		return ReasonIPInUse, fmt.Sprintf("different sharing keys %q and %q", ownerKey, key)
	case trafficPolicy(owner) != trafficPolicy(svc):
		return ReasonUnsafeSharing, fmt.Sprintf("different externalTrafficPolicy %s and %s",
			trafficPolicy(owner), trafficPolicy(svc))
	}
	for _, other := range accepted {
		if port, clash := clashingPort(other, svc); clash {
			return ReasonUnsafeSharing, fmt.Sprintf("port %s is also used by Service %s", port, nameOf(other))
		}
	}
	return "", ""
}

// trafficPolicy is the Service's externalTrafficPolicy; anything but Local (also an
// undefaulted empty value) means Cluster.
func trafficPolicy(svc *corev1.Service) corev1.ServiceExternalTrafficPolicy {
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		return corev1.ServiceExternalTrafficPolicyLocal
	}
	return corev1.ServiceExternalTrafficPolicyCluster
}

type protoPort struct {
	proto corev1.Protocol
	port  int32
}

func (p protoPort) String() string { return fmt.Sprintf("%s/%d", p.proto, p.port) }

func keyOf(p corev1.ServicePort) protoPort {
	if p.Protocol == "" {
		return protoPort{corev1.ProtocolTCP, p.Port}
	}
	return protoPort{p.Protocol, p.Port}
}

// clashingPort returns the first (protocol, port) of b that a uses too, if any.
func clashingPort(a, b *corev1.Service) (protoPort, bool) {
	mine := make(map[protoPort]bool, len(a.Spec.Ports))
	for _, p := range a.Spec.Ports {
		mine[keyOf(p)] = true
	}
	for _, p := range b.Spec.Ports {
		if mine[keyOf(p)] {
			return keyOf(p), true
		}
	}
	return protoPort{}, false
}
