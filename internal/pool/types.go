package pool

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Annotations read or written by the allocator; the shared ones come from svcrules, which
// the agents read too.
const (
	// AnnotationIPs asks for specific VIPs; a Service carrying it gets no allocation.
	AnnotationIPs = svcrules.AnnotationIPs
	// AnnotationAllocatedIPs holds the VIPs the allocator chose, comma-separated.
	AnnotationAllocatedIPs = svcrules.AnnotationAllocatedIPs
	// AnnotationSharingKey lets Services of one namespace share one allocated VIP (also
	// MetalLB's allow-shared-ip annotations: svcrules.SharingKey).
	AnnotationSharingKey = svcrules.AnnotationSharingKey
	// AnnotationAllocatedPools records the pool each allocated VIP came from
	// ("198.51.100.3=pool-a,2001:db8::3=pool-b"), so a pool that shrinks knows which
	// Services still hold its former addresses, and the agents which pool's spec.l2 applies.
	AnnotationAllocatedPools = svcrules.AnnotationAllocatedPools
	// AnnotationPool asks for VIPs from the named pool only; the only way to get
	// addresses of a pool with autoAssign false (also MetalLB's address-pool
	// annotations: svcrules.PoolOf).
	AnnotationPool = svcrules.AnnotationPool

	DefaultClass = svcrules.DefaultClass
	// FieldManager names the allocator's writes.
	FieldManager = "vipkeeper-allocator"
)

// Event reasons (CamelCase). Service Events: IPAllocated and IPReleased are Normal, the
// rest Warnings. Pool Events carry the pool condition type that turned True.
const (
	ReasonIPAllocated      = "IPAllocated"
	ReasonIPReleased       = "IPReleased"
	ReasonAllocationFailed = "AllocationFailed"
	ReasonSharingRefused   = "SharingRefused"
	ReasonIPConflict       = "IPConflict"
)

// Class says which Services the allocator serves (svcrules.Class).
type Class = svcrules.Class

// Input is everything Decide looks at. Decide never modifies it.
type Input struct {
	Pools    []*v1alpha1.VIPPool
	Services []*corev1.Service
	// Namespaces holds the labels of each namespace, for namespaceSelector; a namespace
	// missing here matches no selector.
	Namespaces map[string]map[string]string
	Class      Class
}

// Output is what Decide wants done.
type Output struct {
	Assignments []Assignment                      // sorted by Service
	Pools       map[string]v1alpha1.VIPPoolStatus // by pool name; conditions carry no times
	Problems    []Problem                         // sorted; each becomes a Warning Event
}

// Assignment sets the allocator's two annotations of one Service; empty values remove
// them. Reason and Message describe it (a Normal Event once written).
type Assignment struct {
	Service types.NamespacedName
	IPs     string // vipkeeper.io/allocated-ips
	Pools   string // vipkeeper.io/allocated-pools
	Reason  string
	Message string
}

// Object names a Service or a VIPPool.
type Object struct {
	Kind      string // "Service" or "VIPPool"
	Namespace string // empty for a VIPPool
	Name      string
}

// Problem is one refused request or one bad pool.
type Problem struct {
	Object  Object
	Reason  string
	Message string
}

// Kinds of Object.
const (
	KindService = "Service"
	KindPool    = v1alpha1.Kind
)
