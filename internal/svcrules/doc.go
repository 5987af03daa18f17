// Package svcrules is the one place where vipkeeper's rules about Services are written: which
// Services we serve (class), which VIPs a Service asks for and from which source (also
// MetalLB's and kube-vip's annotations, for clusters that switch), who may share one VIP
// (sharing key, traffic policy, ports), who wins a clash (older first), which pool a VIP
// belongs to and so where it is announced (a VIPPool's addresses and spec.l2), and which
// nodes may announce a VIP (Resolve). It is pure: no I/O, no clock, no client.
//
// Invariant: the agent's Compute (internal/controller), the allocator's Decide
// (internal/pool), the controller role's status and Events and `vipkeeper status` all decide
// from these functions, so they cannot disagree: a token one reader accepts, every reader
// accepts; two Services one of them lets share an IP, every one lets share it; a node one
// of them counts as a candidate for a VIP, every one counts.
package svcrules
