package svcrules

import (
	"cmp"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// OlderFirst orders Services by creationTimestamp, then namespace/name. The older of two
// Services that claim one IP without being allowed to share it keeps the IP.
func OlderFirst(a, b *corev1.Service) int {
	if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
}

// TrafficPolicy is the Service's externalTrafficPolicy; anything but Local (also an
// undefaulted empty value) means Cluster.
func TrafficPolicy(svc *corev1.Service) corev1.ServiceExternalTrafficPolicy {
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		return corev1.ServiceExternalTrafficPolicyLocal
	}
	return corev1.ServiceExternalTrafficPolicyCluster
}

// ProtoPort is one (protocol, port) of a Service; an empty protocol is TCP.
type ProtoPort struct {
	Protocol corev1.Protocol
	Port     int32
}

func (p ProtoPort) String() string { return fmt.Sprintf("%s/%d", p.Protocol, p.Port) }

func keyOf(p corev1.ServicePort) ProtoPort {
	return ProtoPort{cmp.Or(p.Protocol, corev1.ProtocolTCP), p.Port}
}

// ClashingPort returns the first (protocol, port) of b that a uses too, if any.
func ClashingPort(a, b *corev1.Service) (ProtoPort, bool) {
	mine := make(map[ProtoPort]bool, len(a.Spec.Ports))
	for _, p := range a.Spec.Ports {
		mine[keyOf(p)] = true
	}
	for _, p := range b.Spec.Ports {
		if mine[keyOf(p)] {
			return keyOf(p), true
		}
	}
	return ProtoPort{}, false
}

// Refusal says why a Service may not share an IP; the zero Refusal means it may.
type Refusal struct {
	Reason string               // ReasonIPInUse (sharing keys) or ReasonUnsafeSharing (policy, ports)
	Other  types.NamespacedName // the Service already using the IP that it clashes with
	Why    string               // "Service ns/a uses it with port TCP/80 too"
}

// OK reports whether there is no refusal.
func (r Refusal) OK() bool { return r.Reason == "" }

// CanShare says whether svc may use an IP that holders (mutually compatible) already use:
// all carry the same non-empty sharing key (SharingKey), the same externalTrafficPolicy,
// and no two use the same (protocol, port).
func CanShare(holders []*corev1.Service, svc *corev1.Service) Refusal {
	key := SharingKey(svc)
	for _, h := range holders {
		if h == svc {
			continue
		}
		hk, other := SharingKey(h), NameOf(h)
		refuse := func(reason, format string, a ...any) Refusal {
			return Refusal{Reason: reason, Other: other, Why: fmt.Sprintf("Service %s uses it "+format, append([]any{other}, a...)...)}
		}
		switch {
		case hk == "" || key == "":
			return refuse(ReasonIPInUse, "and both need the same %s", AnnotationSharingKey)
		case hk != key:
			return refuse(ReasonIPInUse, "with sharing key %q", hk)
		case TrafficPolicy(h) != TrafficPolicy(svc):
			return refuse(ReasonUnsafeSharing, "with externalTrafficPolicy %s", TrafficPolicy(h))
		}
		if port, clash := ClashingPort(h, svc); clash {
			return refuse(ReasonUnsafeSharing, "with port %s too", port)
		}
	}
	return Refusal{}
}
