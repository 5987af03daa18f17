package pool

import (
	"github.com/vipkeeper/vipkeeper/internal/svcapi"

	"cmp"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

type family int

const (
	v4 family = 4
	v6 family = 6
)

func familyOf(a netip.Addr) family {
	if a.Is4() {
		return v4
	}
	return v6
}

func (f family) String() string { return fmt.Sprintf("IPv%d", int(f)) }

// serves reports whether svc is a LoadBalancer Service of our class (controller.Serves).
func serves(svc *corev1.Service, class Class) bool {
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass == nil {
		return class.Default
	}
	return *svc.Spec.LoadBalancerClass == cmp.Or(class.Name, DefaultClass)
}

// policy is how many families a Service wants and how hard.
type policy struct {
	families []family // in the Service's order
	require  bool     // RequireDualStack: all or none
}

// wantedFamilies follows spec.ipFamilyPolicy and spec.ipFamilies. SingleStack (or unset)
// wants ipFamilies[0]; the dual-stack policies want every family in ipFamilies, which the
// API server fills with both on a dual-stack cluster and with one on a single-stack one (a
// VIP of a family the Service has no cluster IP of would reach nothing through kube-proxy).
// Empty ipFamilies (never so from an API server) means IPv4, or both for dual-stack.
func wantedFamilies(svc *corev1.Service) policy {
	var fams []family
	for _, f := range svc.Spec.IPFamilies {
		switch {
		case f == corev1.IPv4Protocol && !hasFamily(fams, v4):
			fams = append(fams, v4)
		case f == corev1.IPv6Protocol && !hasFamily(fams, v6):
			fams = append(fams, v6)
		}
	}
	p := corev1.IPFamilyPolicySingleStack
	if svc.Spec.IPFamilyPolicy != nil {
		p = *svc.Spec.IPFamilyPolicy
	}
	switch {
	case p != corev1.IPFamilyPolicyPreferDualStack && p != corev1.IPFamilyPolicyRequireDualStack:
		return policy{families: append(fams, v4)[:1]}
	case len(fams) == 0:
		fams = []family{v4, v6}
	case p == corev1.IPFamilyPolicyRequireDualStack && len(fams) == 1:
		fams = append(fams, 10-fams[0]) // the other family
	}
	return policy{families: fams, require: p == corev1.IPFamilyPolicyRequireDualStack}
}

func hasFamily(fams []family, f family) bool {
	for _, x := range fams {
		if x == f {
			return true
		}
	}
	return false
}

// requested returns the IPs svc asks for by annotation or spec.loadBalancerIP, and
// whether it asks at all (a present source counts even if all its tokens are bad, as
// for the controller).
func requested(svc *corev1.Service) ([]netip.Addr, bool) {
	if v := svc.Annotations[AnnotationIPs]; strings.TrimSpace(v) != "" {
		ips, _ := parseIPs(v)
		return ips, true
	}
	if v := svc.Spec.LoadBalancerIP; strings.TrimSpace(v) != "" {
		ips, _ := parseIPs(v)
		return ips, true
	}
	return nil, false
}

// parseIPs is svcapi.ParseIPs: the allocator and the controller read one list alike.
func parseIPs(s string) ([]netip.Addr, []string) { return svcapi.ParseIPs(s) }

// parseFrom parses vipkeeper.io/allocated-pools; malformed pairs are ignored.
func parseFrom(s string) map[netip.Addr]string {
	out := map[netip.Addr]string{}
	for pair := range strings.SplitSeq(s, ",") {
		ip, name, ok := strings.Cut(strings.TrimSpace(pair), "=")
		a, err := netip.ParseAddr(strings.TrimSpace(ip))
		if ok && err == nil && name != "" {
			out[a.Unmap()] = strings.TrimSpace(name)
		}
	}
	return out
}

// sharingRefusal says why svc may not use an IP that owners (mutually compatible)
// already use, or "" if it may: the same non-empty sharing key, the same
// externalTrafficPolicy, no common (protocol, port), and, when sameNamespace is set (the
// allocator's own rule), the same namespace. Without sameNamespace it is the controller's
// rule, which decides who announces.
func sharingRefusal(owners []*corev1.Service, svc *corev1.Service, sameNamespace bool) string {
	for _, o := range owners {
		ok, key := o.Annotations[AnnotationSharingKey], svc.Annotations[AnnotationSharingKey]
		switch {
		case ok == "" || key == "":
			return fmt.Sprintf("it is used by Service %s and both need the same %s", nameOf(o), AnnotationSharingKey)
		case ok != key:
			return fmt.Sprintf("Service %s uses it with sharing key %q", nameOf(o), ok)
		case sameNamespace && o.Namespace != svc.Namespace:
			return fmt.Sprintf("Service %s uses it from another namespace", nameOf(o))
		case trafficPolicy(o) != trafficPolicy(svc):
			return fmt.Sprintf("Service %s uses it with externalTrafficPolicy %s", nameOf(o), trafficPolicy(o))
		}
		if port, clash := clashingPort(o, svc); clash {
			return fmt.Sprintf("Service %s uses it with port %s too", nameOf(o), port)
		}
	}
	return ""
}

func trafficPolicy(svc *corev1.Service) corev1.ServiceExternalTrafficPolicy {
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		return corev1.ServiceExternalTrafficPolicyLocal
	}
	return corev1.ServiceExternalTrafficPolicyCluster
}

func clashingPort(a, b *corev1.Service) (string, bool) {
	key := func(p corev1.ServicePort) string {
		return fmt.Sprintf("%s/%d", cmp.Or(p.Protocol, corev1.ProtocolTCP), p.Port)
	}
	mine := map[string]bool{}
	for _, p := range a.Spec.Ports {
		mine[key(p)] = true
	}
	for _, p := range b.Spec.Ports {
		if mine[key(p)] {
			return key(p), true
		}
	}
	return "", false
}

func nameOf(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}

// olderFirst orders Services as the controller does: creationTimestamp, then
// namespace/name. The older of two Services claiming one IP keeps it.
func olderFirst(a, b *corev1.Service) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}
