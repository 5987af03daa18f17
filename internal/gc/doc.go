// Package gc is the controller role's Lease garbage collector: it deletes the VIP Leases no
// Service wants any more, including Leases never held, and the presence Leases of nodes
// that left the cluster.
//
// Invariant: it never removes a record while a node may announce by it. It deletes a VIP
// record only after no Service wanted the VIP for Grace (two lease durations, in its own
// view), and only when the record names nobody (released) or names an incarnation that its
// presence record shows revoked; a held one it first releases (a compare-and-swap, which
// also drops the held finalizer). For a node whose Node object has been gone for Grace, it
// revokes the presence by a compare-and-swap on a version it saw unchanged for the lease
// duration (as any challenger does: by then that node's fence has passed), and deletes the
// presence once revoked and no VIP record names the node. The decision (Decide) is pure;
// Run executes it against the API with lease.Store.
package gc
