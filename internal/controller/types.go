package controller

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/types"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Annotations and names read by the agent (the vocabulary is svcrules').
const (
	AnnotationIPs          = svcrules.AnnotationIPs
	AnnotationAllocatedIPs = svcrules.AnnotationAllocatedIPs
	AnnotationSharingKey   = svcrules.AnnotationSharingKey
	DefaultClass           = svcrules.DefaultClass
	// Component is the Event source component.
	Component = "vipkeeper"
)

// Event and Problem reasons (CamelCase, used verbatim as the Event reason). The refusals
// come from svcrules; CannotCarry and the announce/withdraw Events are this node's own.
const (
	ReasonInvalidIP     = svcrules.ReasonInvalidIP
	ReasonIPInUse       = svcrules.ReasonIPInUse
	ReasonUnsafeSharing = svcrules.ReasonUnsafeSharing
	ReasonNodeAddress   = svcrules.ReasonNodeAddress
	ReasonWrongClass    = svcrules.ReasonWrongClass
	ReasonNoCandidate   = svcrules.ReasonNoCandidate
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
	// Interfaces are the names or patterns of the interfaces that may carry the VIP (its
	// pool's spec.l2.interfaces); nil: this node's --interface.
	Interfaces []string
}

// Elections is implemented by the daemon. Want replaces the whole set of VIPs that any
// Service of our class wants, also those this node is not eligible for (Eligible=false).
// VIPs absent from the map are not wanted by anyone. The map is the callee's to keep;
// Want is called from the controller loop and should return quickly.
type Elections interface {
	Want(wants map[netip.Addr]Want)
}

// Problem is one refused or partly refused request of one Service (svcrules.Problem). A
// problem with Node set (ReasonCannotCarry) is reported by that node; all others by the
// controller role.
type Problem = svcrules.Problem

// Class says which Services we serve (svcrules.Class).
type Class = svcrules.Class
