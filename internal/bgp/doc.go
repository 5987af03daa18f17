// Package bgp is vipkeeper's second data plane: an embedded GoBGP speaker that announces
// each VIP as a /32 or /128 host route with this node as next hop, to the routers of the
// BGPPeers that select this node, as the BGPAdvertisements of the VIP's pool say.
//
// Two modes, per pool. ECMP: every candidate node announces (SetECMP, the controller's
// candidacy, no election). Single: only the elected holder announces (Add, Remove: the
// daemon's data-plane interface), and the route follows the elector exactly as the L2
// address does.
//
// Invariants:
//   - A single-mode route is never originated past the fence it was added with: Add arms
//     a timer that withdraws it at Until unless a later Add moved the fence. A process
//     that is frozen or killed cannot withdraw; its route then lives at the router until
//     the negotiated hold time expires (or the TCP session closes), so single mode is
//     accepted only for peers whose hold time is at most LeaseDuration - RenewDeadline -
//     HoldMargin (Resolve refuses the advertisement otherwise): the route is gone before
//     any successor may announce. No graceful restart capability is ever advertised, so
//     a router never keeps a dead node's routes as stale.
//   - Nothing is imported from peers and nothing is exported but our own routes, each
//     only to the peers of its advertisements (one export policy; default reject).
//   - Bad input disturbs nothing else: Resolve is pure, one bad BGPPeer or
//     BGPAdvertisement is refused with a condition, and the sessions of the other peers
//     stay up. A peer that refuses us is retried with exponential backoff, for ever.
//   - On stop every route is withdrawn and every session closed with a Cease before Run
//     returns, so the routers converge before the process exits.
package bgp
