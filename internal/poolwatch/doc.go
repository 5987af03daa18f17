// Package poolwatch gives the readers of VIPPools that run beside other informers (the
// agent's controller, the controller role's status writer, `vipkeeper status`) the pools
// as typed objects, from a cache of their own.
//
// Invariant: a missing CRD reads as "no pools", never as a cache that does not sync, so
// a cluster without vippools.vipkeeper.io still serves every VIP (as in no pool: every
// node, the agent's --interface). Source asks discovery every Poll (every ServedPoll once
// it is served) whether the CRD is served, runs an informer while it is, and says each
// change once in the log.
package poolwatch
