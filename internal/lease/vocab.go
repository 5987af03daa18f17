package lease

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// The vocabulary of vipkeeper's Leases, shared by the agents, the controller role and
// `vipkeeper status`. Two kinds live in the daemon namespace, both labelled
// ManagedByLabel=ManagedByValue and KindLabel:
//
//   - VIP Leases (KindVIP), named Name(ip): the ownership record of one VIP. holderIdentity
//     is the announcing node ("" = released); AnnotationIncarnation is the holder's
//     incarnation; AnnotationVIP is the address; AnnotationTransition says why ownership
//     last changed; acquireTime is when. Written only when ownership changes.
//   - Node Leases (KindNode), named NodeName(node): one node's presence, renewed every retry
//     period by that node. holderIdentity is the node while its incarnation lives, "" once a
//     peer revoked it (AnnotationRevokedBy); renewTime is its last renew.
const (
	KindLabel = "vipkeeper.io/kind"
	KindVIP   = "vip"
	KindNode  = "node"

	AnnotationVIP         = "vipkeeper.io/vip"
	AnnotationIncarnation = "vipkeeper.io/incarnation"
	AnnotationTransition  = "vipkeeper.io/transition"
	AnnotationRevokedBy   = "vipkeeper.io/revoked-by"
	AnnotationPeerAddress = "vipkeeper.io/peer-address"
	// AnnotationNode names the node of a presence Lease (its name may be cut and hashed).
	AnnotationNode = "vipkeeper.io/node"

	// HeldFinalizer is on a VIP Lease while a node holds it, so that deleting the Lease by
	// hand only marks it: it goes away once the holder has withdrawn the VIP (or its
	// incarnation was revoked), never while the VIP may still be up.
	HeldFinalizer = "vipkeeper.io/held"
)

// NodePrefix starts the name of every node presence Lease.
const NodePrefix = Prefix + "node-"

// maxName is the longest Lease name (a DNS subdomain).
const maxName = 253

// NodeName returns the presence Lease name of node: vipkeeper-node-<node>. Node names are
// DNS subdomains of up to 253 characters; a name that would not fit is cut and suffixed
// with a hash of the whole, so distinct nodes never share a Lease.
func NodeName(node string) string {
	n := NodePrefix + node
	if len(n) <= maxName {
		return n
	}
	sum := sha256.Sum256([]byte(node))
	h := hex.EncodeToString(sum[:8])
	return strings.TrimRight(n[:maxName-len(h)-1], ".-") + "-" + h
}
