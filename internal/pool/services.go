package pool

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
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
// whether it asks at all (a present source counts even if all its tokens are bad, as for
// the agents: svcrules.RequestOf).
func requested(svc *corev1.Service) ([]netip.Addr, bool) {
	r := svcrules.RequestOf(svc)
	return r.IPs, r.Source.ByUser()
}

// parseIPs is svcrules.ParseIPs: the allocator and the agents read one list alike.
func parseIPs(s string) ([]netip.Addr, []string) { return svcrules.ParseIPs(s) }

// parseFrom parses vipkeeper.io/allocated-pools (svcrules.AllocatedPools).
func parseFrom(s string) map[netip.Addr]string { return svcrules.AllocatedPools(s) }

// sharingRefusal says why svc may not use an IP that owners (mutually compatible)
// already use, or "" if it may: svcrules.CanShare (the agents' rule, which decides who
// announces) and, when sameNamespace is set (the allocator's own rule for the IPs it hands
// out), the same namespace.
func sharingRefusal(owners []*corev1.Service, svc *corev1.Service, sameNamespace bool) string {
	if sameNamespace {
		for _, o := range owners {
			if o != svc && o.Namespace != svc.Namespace {
				return fmt.Sprintf("Service %s uses it from another namespace", nameOf(o))
			}
		}
	}
	return svcrules.CanShare(owners, svc).Why
}

func nameOf(svc *corev1.Service) types.NamespacedName { return svcrules.NameOf(svc) }

// olderFirst is svcrules.OlderFirst: the older of two Services claiming one IP keeps it.
func olderFirst(a, b *corev1.Service) int { return svcrules.OlderFirst(a, b) }
