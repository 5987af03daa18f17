package svcrules

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Annotations on Services.
const (
	// AnnotationIPs asks for specific VIPs: comma-separated IPv4 and/or IPv6 addresses.
	AnnotationIPs = "vipkeeper.io/loadbalancer-ips"
	// AnnotationAllocatedIPs holds the VIPs the pool allocator chose (same format).
	AnnotationAllocatedIPs = "vipkeeper.io/allocated-ips"
	// AnnotationAllocatedPools records the pool each allocated VIP came from
	// ("198.51.100.3=pool-a,2001:db8::3=pool-b"), written by the allocator; it decides
	// which pool's spec.l2 applies to the VIP.
	AnnotationAllocatedPools = "vipkeeper.io/allocated-pools"
	// AnnotationSharingKey lets Services share one VIP when they all carry the same value.
	AnnotationSharingKey = "vipkeeper.io/sharing-key"
	// AnnotationPool asks for VIPs from the named VIPPool only; the only way to get
	// addresses of a pool with autoAssign false.
	AnnotationPool = "vipkeeper.io/pool"
	// DefaultClass is the spec.loadBalancerClass served by default.
	DefaultClass = "vipkeeper.io/lb"
)

// Problem reasons (CamelCase, used verbatim as Event reasons).
const (
	ReasonInvalidIP     = "InvalidIP"
	ReasonIPInUse       = "IPInUse"
	ReasonUnsafeSharing = "UnsafeSharing"
	ReasonNodeAddress   = "NodeAddress"
	ReasonWrongClass    = "WrongClass"
	ReasonNoCandidate   = "NoCandidate"
)

// Class says which Services we serve.
type Class struct {
	Name    string // spec.loadBalancerClass we serve; DefaultClass when empty
	Default bool   // also serve type LoadBalancer Services with no class
}

// Served is the class name in effect.
func (c Class) Served() string {
	if c.Name == "" {
		return DefaultClass
	}
	return c.Name
}

// Serves reports whether svc is a type LoadBalancer Service of the class.
func (c Class) Serves(svc *corev1.Service) bool {
	if svc == nil || svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		return false
	}
	if svc.Spec.LoadBalancerClass == nil {
		return c.Default
	}
	return *svc.Spec.LoadBalancerClass == c.Served()
}

// Active reports whether svc is served and not being deleted: the Services whose requests
// count. A Service being deleted frees its VIPs at once.
func (c Class) Active(svc *corev1.Service) bool {
	return c.Serves(svc) && svc.DeletionTimestamp == nil
}

// NameOf is the Service's namespace/name.
func NameOf(svc *corev1.Service) types.NamespacedName {
	return types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
}
