// Package ingress is the controller role's Service writer: while its replica leads
// (internal/leader), it writes status.loadBalancer.ingress (ip, ipMode VIP, sorted) of
// every Service of our class and records the cluster-level Warning Events: refused requests
// (InvalidIP, IPInUse, UnsafeSharing, NodeAddress, WrongClass) and a wanted VIP without any
// candidate node (NoCandidate, saying why).
//
// Invariants:
//
//   - It decides from svcrules.Resolve over its own informers, the same rules as the
//     agents' Compute, so the status never names a VIP the agents do not elect for.
//   - Status and Events are output only: nothing here feeds back into what the agents
//     announce, and a failing status write never causes a withdrawal (kube-vip#1032).
//   - Services not of our class are never touched.
//   - Its informers start with the term, so a new leader starts from a fresh list. It
//     reads VIPPools (poolwatch) for their spec.l2, so NoCandidate says when a pool's node
//     selectors leave no node.
//   - A Service moved from another load balancer is not renumbered by a race: while it
//     asks for nothing, the IPs of its status that lie in a pool and are no other
//     Service's VIP stay as they are (held), for the allocator to adopt (internal/pool).
package ingress
