package controller

import (
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/svcapi"
)

// maxQuoted bounds how much of a bad token or how many bad tokens a message repeats, so a
// huge annotation cannot produce a huge Event.
const (
	maxQuoted    = 64
	maxBadTokens = 5
)

// requestedIPs returns the VIPs a served Service asks for, in order of precedence: the
// annotation, else spec.loadBalancerIP, else the allocator's annotation. The first source
// that is present (non-blank) wins even when all its tokens are bad: falling back to
// another source would hand out an IP the user did not ask for.
func requestedIPs(svc *corev1.Service) ([]netip.Addr, []Problem) {
	src, val := ipSource(svc)
	if src == "" {
		return nil, nil
	}
	ips, bad := svcapi.ParseIPs(val)
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
