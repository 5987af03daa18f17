package controller

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/svcapi"
)

// Annotations and names read or written by the controller.
const (
	// AnnotationIPs asks for specific VIPs: comma-separated IPv4 and/or IPv6 addresses.
	AnnotationIPs = svcapi.AnnotationIPs
	// AnnotationAllocatedIPs holds the VIPs the pool allocator chose (same format).
	AnnotationAllocatedIPs = svcapi.AnnotationAllocatedIPs
	// AnnotationSharingKey lets Services share one VIP when they all carry the same value.
	AnnotationSharingKey = svcapi.AnnotationSharingKey
	// DefaultClass is the spec.loadBalancerClass served when Config.Class is empty.
	DefaultClass = svcapi.DefaultClass
	// LeaderLeaseName is the Lease that elects the one daemon writing status and Events.
	LeaderLeaseName = "vipkeeper-controller"
	// Component is the Event source component.
	Component = "vipkeeper"
)

// Event and Problem reasons (CamelCase, used verbatim as the Event reason).
const (
	ReasonInvalidIP     = "InvalidIP"
	ReasonIPInUse       = "IPInUse"
	ReasonUnsafeSharing = "UnsafeSharing"
	ReasonNodeAddress   = "NodeAddress"
	ReasonWrongClass    = "WrongClass"
	ReasonCannotCarry   = "CannotCarry"
	ReasonVIPAnnounced  = "VIPAnnounced"
	ReasonVIPWithdrawn  = "VIPWithdrawn"
)

// Want is what this node should do about one VIP.
type Want struct {
	IP       netip.Addr
	Eligible bool // this node is a candidate for the VIP (and its interface can carry it)
	// Rank is the 0-based rendezvous rank of this node among the candidates (highest
	// sha256("node#ip") first); meaningful only when Eligible, 0 otherwise.
	Rank int
	// Ahead names the candidates ranked before this node, best first (len(Ahead) == Rank).
	Ahead    []string
	Services []types.NamespacedName // Services that use the IP, sorted
}

// Elections is implemented by the daemon. Want replaces the whole set of VIPs that any
// Service of our class wants, also those this node is not eligible for (Eligible=false).
// VIPs absent from the map are not wanted by anyone. The map is the callee's to keep;
// Want is called from the controller loop and should return quickly.
type Elections interface {
	Want(wants map[netip.Addr]Want)
}

// Problem is one refused or partly refused request of one Service.
type Problem struct {
	Service types.NamespacedName
	Reason  string // CamelCase, the Event reason
	Message string
	// Node is set when the problem concerns only that node (ReasonCannotCarry): the
	// VIP stays wanted and only this node's eligibility is refused. Such problems are
	// reported by the node itself; all others by the elected controller.
	Node string
}

// Class says which Services we serve.
type Class struct {
	Name    string // spec.loadBalancerClass we serve; DefaultClass when empty
	Default bool   // also serve type LoadBalancer Services with no class
}
