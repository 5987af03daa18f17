package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// VIPPool is a set of addresses that vipkeeper hands to type LoadBalancer Services of its
// class that ask for no particular IP (the lowest free address of the first matching pool
// by priority, then name, of each wanted family), and where its addresses are announced
// (spec.l2).
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName={vpool,vippool},categories=vipkeeper
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Priority",type=integer,JSONPath=`.spec.priority`,priority=1
// +kubebuilder:printcolumn:name="Allocated",type=integer,JSONPath=`.status.allocated`
// +kubebuilder:printcolumn:name="Free",type=integer,JSONPath=`.status.free`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type VIPPool struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec VIPPoolSpec `json:"spec"`
	// +optional
	Status VIPPoolStatus `json:"status,omitempty"`
}

// VIPPoolSpec says which addresses a pool holds and which Services may get them.
type VIPPoolSpec struct {
	// Addresses are CIDRs ("198.51.100.0/28", "2001:db8::/120"), inclusive ranges
	// ("198.51.100.10-198.51.100.20") or single addresses, IPv4 and IPv6 in one list.
	// IPv4 CIDRs of /30 and larger never hand out their network and broadcast address,
	// IPv6 CIDRs shorter than /127 never their first (subnet-router anycast) address;
	// ranges and single addresses are taken as written. A pool with any invalid entry,
	// an entry with non-unicast addresses, or entries overlapping each other is not used.
	// The API server refuses entries that are not written as one of the three forms.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=256
	// +kubebuilder:validation:items:MaxLength=100
	// +kubebuilder:validation:items:XValidation:rule="isCIDR(self) || isIP(self) || (self.split('-').size() == 2 && isIP(self.split('-')[0]) && isIP(self.split('-')[1]) && ip(self.split('-')[0]).family() == ip(self.split('-')[1]).family())",message="an entry is a CIDR (198.51.100.0/28), an inclusive range of one family without spaces (198.51.100.10-198.51.100.20) or a single address"
	// +listType=atomic
	Addresses []string `json:"addresses"`

	// Priority orders the pools the allocator picks from: higher first, then by name.
	// +kubebuilder:default=0
	// +kubebuilder:validation:Minimum=-1000
	// +kubebuilder:validation:Maximum=1000
	// +optional
	Priority int32 `json:"priority,omitempty"`

	// AutoAssign lets the allocator hand out addresses of this pool to any matching
	// Service. When false, only Services that name the pool in the annotation
	// vipkeeper.io/pool get them.
	// +kubebuilder:default=true
	// +optional
	AutoAssign *bool `json:"autoAssign,omitempty"`

	// AvoidBuggyIPs skips IPv4 addresses ending in .0 or .255, which some old clients
	// drop as broadcast addresses.
	// +optional
	AvoidBuggyIPs bool `json:"avoidBuggyIPs,omitempty"`

	// ServiceSelector limits the pool to Services with matching labels; empty or absent
	// matches every Service.
	// +optional
	ServiceSelector *metav1.LabelSelector `json:"serviceSelector,omitempty"`

	// Namespaces limits the pool to Services in these namespaces; empty means any.
	// +kubebuilder:validation:MaxItems=1024
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelector limits the pool to Services in namespaces with matching labels;
	// absent matches every namespace. With Namespaces, a Service must satisfy both.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// L2 says which nodes may announce the pool's addresses and on which interfaces
	// (MetalLB's L2Advertisement). Absent: every node not opted out, on the agent's
	// --interface.
	// +optional
	L2 *L2Advertisement `json:"l2,omitempty"`
}

// L2Advertisement says where the addresses of one pool are announced (gratuitous ARP and
// unsolicited NDP). A VIP belongs to the pool its allocation came from
// (vipkeeper.io/allocated-pools), else to the oldest pool whose spec.addresses hold it; a
// VIP in no pool is announced on the agent's --interface by every node.
type L2Advertisement struct {
	// NodeSelectors: a node is a candidate for the pool's VIPs when it matches any of
	// them. Empty or absent: every node (still without the label
	// node.kubernetes.io/exclude-from-external-load-balancers).
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	NodeSelectors []metav1.LabelSelector `json:"nodeSelectors,omitempty"`

	// Interfaces that may carry the pool's VIPs: names ("eth1") or path.Match patterns
	// ("enp*s0f[01]"). One plain name is used as it is; otherwise the allowed interface
	// whose connected network covers the VIP is chosen. A node with no such interface is
	// not a candidate (Event CannotCarry). Empty or absent: the agent's --interface.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=64
	// +kubebuilder:validation:items:Pattern=`^[^/\s]+$`
	// +listType=atomic
	// +optional
	Interfaces []string `json:"interfaces,omitempty"`
}

// VIPPoolStatus is written by the elected allocator only.
type VIPPoolStatus struct {
	// ObservedGeneration is the spec generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Allocated is the number of the pool's addresses in use by Services of vipkeeper's
	// class, allocated or requested.
	// +optional
	Allocated int64 `json:"allocated"`

	// Free is the number of addresses the allocator could still hand out; 0 while the
	// pool is not Ready. It saturates at 9223372036854775807, which an IPv6 /64 reaches.
	// +optional
	Free int64 `json:"free"`

	// Conditions: Ready, Invalid, Overlapping, Exhausted, ShrunkInUse.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// Condition types of a VIPPool.
const (
	// ConditionReady is True when the pool is used for new allocations.
	ConditionReady = "Ready"
	// ConditionInvalid is True when an entry of spec.addresses, a selector or spec.l2 is
	// invalid.
	ConditionInvalid = "Invalid"
	// ConditionOverlapping is True when the pool shares addresses with another valid
	// pool; of two overlapping pools only the older one is used.
	ConditionOverlapping = "Overlapping"
	// ConditionExhausted is True when the pool has no free address of a family it holds.
	ConditionExhausted = "Exhausted"
	// ConditionShrunkInUse is True when Services keep addresses that were allocated
	// from the pool but are no longer in spec.addresses.
	ConditionShrunkInUse = "ShrunkInUse"
)

// VIPPoolList is a list of VIPPools.
//
// +kubebuilder:object:root=true
type VIPPoolList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []VIPPool `json:"items"`
}
