// Package daemon is the shell around the election core: one loop owns the node's core
// (election.Node) and feeds it every event (Lease observations, request results, wants,
// data-plane outcomes, ticks) with time.Now, and executes the actions it returns: Lease
// requests in their own goroutines, data-plane changes by the loop itself from a queue
// (withdrawals first, then lifetime refreshes and new installs by turns), in slices of at
// most planeSlice between looks at the inputs, so a pass over thousands of VIPs never holds
// up a presence renewal.
//
// Invariants:
//   - Actions run in the order the core returned them, except that data-plane calls wait
//     in the queue; the core has at most one in flight per VIP and releases a record only
//     after the outcome of its withdrawal, so a withdrawal is known done (or known failed)
//     before the release that may follow it.
//   - The core never sees a record older than one it saw: informer events and request
//     results are ordered by resourceVersion here (the only place versions are ordered);
//     an older event is dropped, an older result is marked Stale.
//   - Every goroutine ends with the context. Run returns only after the loop has stopped,
//     having withdrawn every VIP, and released its Lease and the presence when the API
//     answers within the stop budget. The loop never spins: a wake-up in the past is
//     counted and waited out for a millisecond.
package daemon
