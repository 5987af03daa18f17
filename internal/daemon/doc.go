// Package daemon is the shell around the election core: one runner per VIP feeds the
// core its events (Lease observations, write results, eligibility, ticks) with time.Now,
// and executes the actions it returns against the Lease store and the data plane.
//
// Invariants:
//   - Actions run in the order the core returned them, one at a time per VIP, so a Withdraw
//     always completes before the Release or Delete that follows it.
//   - Observations reach the core in resourceVersion order: an informer event older than
//     what a runner already knows (from its own write or a read) is dropped, so a stale
//     event can never look like a newer holder.
//   - Every goroutine ends with the context; Run returns only after every runner has
//     stopped, having withdrawn its VIP and released its Lease when the API answers within
//     the stop budget.
package daemon
