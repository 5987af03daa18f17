package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// BGPPeer is one router that every selected node opens a BGP session to. Each node
// announces the VIPs of the pools that a BGPAdvertisement sends to this peer as /32 and
// /128 host routes with itself as the next hop. An IPv4 peer gets the IPv4 VIPs, an IPv6
// peer the IPv6 VIPs. docs/bgp.md explains the settings and the timing rule of single mode.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgppeer
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Address",type=string,JSONPath=`.spec.address`
// +kubebuilder:printcolumn:name="ASN",type=integer,JSONPath=`.spec.asn`
// +kubebuilder:printcolumn:name="My ASN",type=integer,JSONPath=`.spec.myASN`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPPeer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BGPPeerSpec `json:"spec"`
	// +optional
	Status BGPPeerStatus `json:"status,omitempty"`
}

// BGPPeerSpec says how to reach the router and how to talk to it.
//
// +kubebuilder:validation:XValidation:rule="!has(self.sourceAddress) || ip(self.sourceAddress).family() == ip(self.address).family()",message="sourceAddress must be of the same IP family as address"
// +kubebuilder:validation:XValidation:rule="duration(self.keepaliveTime) < duration(self.holdTime)",message="keepaliveTime must be shorter than holdTime"
type BGPPeerSpec struct {
	// Address is the router's IP address.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip.isCanonical(self)",message="must be an IP address in canonical form"
	Address string `json:"address"`

	// ASN is the router's autonomous system number.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	ASN int64 `json:"asn"`

	// MyASN is the nodes' autonomous system number on this session (the same as ASN
	// for iBGP).
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=4294967295
	MyASN int64 `json:"myASN"`

	// Port is the router's BGP port.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=65535
	// +kubebuilder:default=179
	// +optional
	Port int32 `json:"port,omitempty"`

	// HoldTime is the BGP hold time proposed to the router, whole seconds from 3s to
	// 65535s. The router drops a silent node's routes after the negotiated hold time (at
	// most this). In single mode it must be shorter than lease duration minus renew
	// deadline (docs/bgp.md); the daemon warns otherwise.
	// +kubebuilder:default="3s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('3s') && duration(self) <= duration('65535s') && duration(self).getMilliseconds() % 1000 == 0",message="must be whole seconds from 3s to 65535s"
	// +optional
	HoldTime metav1.Duration `json:"holdTime,omitempty"`

	// KeepaliveTime is the interval between keepalives, whole seconds, shorter than
	// HoldTime.
	// +kubebuilder:default="1s"
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s') && duration(self).getMilliseconds() % 1000 == 0",message="must be whole seconds, at least 1s"
	// +optional
	KeepaliveTime metav1.Duration `json:"keepaliveTime,omitempty"`

	// PasswordSecretRef names the key of a Secret in vipkeeper's namespace that holds
	// the TCP MD5 password of the session (RFC 2385).
	// +optional
	PasswordSecretRef *SecretKeyRef `json:"passwordSecretRef,omitempty"`

	// EBGPMultiHop lets an eBGP session run to a router that is not on a directly
	// connected network (TTL 255 instead of 1).
	// +optional
	EBGPMultiHop bool `json:"ebgpMultiHop,omitempty"`

	// SourceAddress is the local address the nodes open the session from; it must be
	// an address of each selected node. Empty: the kernel's choice (the route's source).
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self) && ip.isCanonical(self)",message="must be an IP address in canonical form"
	// +optional
	SourceAddress string `json:"sourceAddress,omitempty"`

	// NodeSelector picks the nodes that speak to this peer; absent: every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
}

// SecretKeyRef names one key of a Secret in vipkeeper's namespace.
type SecretKeyRef struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
	// +kubebuilder:default=password
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// BGPPeerStatus holds one entry per node that speaks to the peer, each written by that
// node only.
type BGPPeerStatus struct {
	// +listType=map
	// +listMapKey=node
	// +optional
	Nodes []BGPPeerNodeStatus `json:"nodes,omitempty"`
}

// BGPPeerNodeStatus is one node's session with the peer.
type BGPPeerNodeStatus struct {
	Node string `json:"node"`
	// SessionState is the BGP FSM state: Idle, Connect, Active, OpenSent, OpenConfirm
	// or Established.
	// +optional
	SessionState string `json:"sessionState,omitempty"`
	// Routes is the number of routes this node advertises to the peer.
	// +optional
	Routes int32 `json:"routes"`
	// Conditions: Established (True while the session is up; False with the reason
	// the router refused us, why it dropped, or why the node cannot configure it).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPPeerList is a list of BGPPeers.
//
// +kubebuilder:object:root=true
type BGPPeerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPPeer `json:"items"`
}

// BGPAdvertisement sends the VIPs of some VIPPools to some BGPPeers, in one of two
// modes: ecmp (every eligible node announces; the router balances) or single (only
// the node holding the VIP's Lease announces). A pool no advertisement names is
// announced by ARP/NDP.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=bgpadv
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Mode",type=string,JSONPath=`.spec.mode`
// +kubebuilder:printcolumn:name="Accepted",type=string,JSONPath=`.status.conditions[?(@.type=="Accepted")].status`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type BGPAdvertisement struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec BGPAdvertisementSpec `json:"spec"`
	// +optional
	Status BGPAdvertisementStatus `json:"status,omitempty"`
}

// Advertisement modes.
const (
	ModeECMP   = "ecmp"
	ModeSingle = "single"
)

// BGPAdvertisementSpec says which VIPs go to which peers, how, and with which attributes.
type BGPAdvertisementSpec struct {
	// Pools are VIPPool names.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`
	// +listType=set
	Pools []string `json:"pools"`

	// Mode: ecmp, every candidate node announces (Cluster: every node not excluded;
	// Local: the nodes with a ready local endpoint) and no election runs; single, only
	// the elected holder announces. All advertisements of one pool must agree.
	// +kubebuilder:validation:Enum=ecmp;single
	// +kubebuilder:default=ecmp
	// +optional
	Mode string `json:"mode,omitempty"`

	// Communities are added to the routes: "ASN:VALUE" with both parts 0-65535, or
	// no-export, no-advertise, no-export-subconfed, no-peer.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=32
	// +kubebuilder:validation:items:Pattern=`^([0-9]{1,5}:[0-9]{1,5}|no-export|no-advertise|no-export-subconfed|no-peer)$`
	// +kubebuilder:validation:XValidation:rule="self.all(c, !c.contains(':') || (int(c.split(':')[0]) <= 65535 && int(c.split(':')[1]) <= 65535))",message="each part of ASN:VALUE must be at most 65535"
	// +listType=set
	// +optional
	Communities []string `json:"communities,omitempty"`

	// LocalPref is the LOCAL_PREF of the routes (sent to iBGP peers only).
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=4294967295
	// +optional
	LocalPref *int64 `json:"localPref,omitempty"`

	// Peers are BGPPeer names; empty: every peer.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=set
	// +optional
	Peers []string `json:"peers,omitempty"`

	// NodeSelector picks the nodes that may announce these VIPs; absent: every node.
	// +optional
	NodeSelector *metav1.LabelSelector `json:"nodeSelector,omitempty"`
}

// BGPAdvertisementStatus is written by the daemons; every daemon computes the same.
type BGPAdvertisementStatus struct {
	// ObservedGeneration is the spec generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions: Accepted (False with UnknownPool, UnknownPeer, ModeConflict or
	// InvalidSelector).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// BGPAdvertisementList is a list of BGPAdvertisements.
//
// +kubebuilder:object:root=true
type BGPAdvertisementList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []BGPAdvertisement `json:"items"`
}

// Condition types of the BGP objects.
const (
	// ConditionEstablished is a BGPPeer node entry's: True while the session is up.
	ConditionEstablished = "Established"
	// ConditionAccepted is a BGPAdvertisement's: True when every reference resolves.
	ConditionAccepted = "Accepted"
)
