// Package controller is the agent's view of the Services: it turns Services,
// EndpointSlices and Nodes into what this node should do about each VIP (a Want per IP,
// handed to the daemon's Elections) and records this node's own Events. The rules
// themselves are internal/svcrules'; Service status and the cluster-level Events are the
// controller role's (internal/ingress).
//
// Invariants:
//
//   - One election per IP. A VIP used by several Services is one Want, never one per
//     Service: separate elections for one IP are how peers end up with two announcers
//     (cilium#48419, kube-vip#441). The set of Wants is computed whole and replaces the
//     previous one. Want is never called before the informer caches have synced, so
//     an empty cache never reads as "nothing is wanted".
//   - Bad input disturbs nothing else. The decision is the pure function Compute
//     (svcrules.Resolve plus this node's CanCarry and rank). A bad token, a clash or a
//     wrong class refuses only that Service's request (a Problem, which the controller
//     role records as a Warning Event), never another Service's VIP, and no input panics
//     (FuzzParseIPs, FuzzCompute).
//   - Node Ready is never used. Nodes are read only for their labels (the label
//     node.kubernetes.io/exclude-from-external-load-balancers, ignored with
//     IgnoreExcludeLB, and pools' spec.l2.nodeSelectors) and for their addresses (a VIP
//     may not be a node's own IP). Ready flips in bulk when a control plane recovers
//     (gardener#3947, metallb#615); the per-VIP Lease already tells a dead node apart.
//     This node's own Node object is not required: if it is missing, the node counts as
//     a Cluster candidate.
//   - Status and Events are output only. They never feed back into the Wants, and a
//     failing status write never causes a withdrawal (kube-vip#1032).
//
// Which Services: type LoadBalancer with spec.loadBalancerClass equal to the configured
// class (default vipkeeper.io/lb), or with no class when Class.Default is set, and not
// being deleted. Which VIPs: the first present (non-blank) of the annotation
// vipkeeper.io/loadbalancer-ips, MetalLB's metallb.io/loadBalancerIPs and
// metallb.universe.tf/loadBalancerIPs, kube-vip's kube-vip.io/loadbalancerIPs,
// spec.loadBalancerIP, the allocator's annotation vipkeeper.io/allocated-ips
// (svcrules.RequestOf). A present source with only bad tokens yields no VIP rather than
// falling back to the next, which would give the user an IP they did not ask for.
//
// Candidates. externalTrafficPolicy Cluster: every node not opted out. Local: nodes with
// a local endpoint that is ready, or serving and not terminating; when the Service has
// no such endpoint anywhere, nodes with a terminating-but-serving one (kube-proxy falls
// back to these too, so the VIP stays lit during a rollout rather than going dark).
// Opted-out nodes are never candidates. A VIP in a VIPPool with spec.l2.nodeSelectors
// (the pool its allocation came from, else the oldest whose addresses hold it) has only
// the selected nodes as candidates. This node's rank is its position by sha256("node#ip")
// among the candidates, so many VIPs spread over the nodes.
//
// Sharing. Services may share an IP only if all carry the same non-empty
// vipkeeper.io/sharing-key, have the same externalTrafficPolicy and disjoint (protocol,
// port) sets. Otherwise the oldest (creationTimestamp, then namespace/name) keeps the IP
// and a younger one's request for it is refused (IPInUse for missing or different keys,
// UnsafeSharing for policy or port clashes). For shared Local Services the candidates
// are the nodes with a local endpoint for every Service; if no node has all, the nodes
// with one for any: serving some of the Services beats serving none of them.
//
// CanCarry. It is asked with the VIP's pool's spec.l2.interfaces (nil: --interface), which
// also go into the Want for the data plane. If this node has no such interface, or it
// cannot carry the VIP's family, only this node's eligibility is refused: the VIP stays
// wanted (Eligible=false here) so other nodes may announce it, and the node reports its
// own CannotCarry Event. A node without the pool's LAN is so never a candidate. The other
// nodes still count this node when ranking; that delays their spread by at most one
// step, never safety.
//
// Pools come from poolwatch: without the VIPPool CRD there are none, and every VIP is
// announced as in no pool (every node not opted out, --interface).
//
// Events. Every node records its own: VIPAnnounced, VIPWithdrawn, Lease problems and
// CannotCarry (NodeEvents). Refusals and NoCandidate are recorded once, by the controller
// role, never by N agents.
package controller
