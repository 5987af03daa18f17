// Package election is the pure per-VIP Lease elector: Step(now, event) -> actions. It has
// no goroutines, no I/O and no clock of its own; the shell passes time.Now() (whose
// monotonic reading is the only clock trusted), executes the actions in order and feeds
// the results back (etcd raft's Step). Remote renewTime is never compared with the local
// clock.
//
// # Invariant
//
// No two nodes announce one VIP at the same time. It rests on:
//
//   - Leader fence. A node announces only after one of its writes that made it holder is
//     confirmed, and only until deadline = (core time the write was emitted) + RenewDeadline.
//     Announce.Until carries the deadline, so the kernel drops the address by itself even if
//     the process freezes or dies. At the deadline the leader withdraws, whatever the API says.
//   - Candidate wait. A node takes a Lease held by another node only by a compare-and-swap on a
//     version it has seen unchanged for LeaseDuration on its own clock (likewise a Lease that
//     vanished after being seen). That version landed after the holder emitted its last write,
//     so LeaseDuration > RenewDeadline puts the holder's deadline before the take. A released
//     Lease or one never seen may be taken at once: a releasing holder withdrew first.
//   - Confirmation. A write is confirmed by a success reply, or, after a timeout, by a record
//     naming us that carries the write's token: that write landed, and counts from the moment
//     it was emitted. A record naming us without one of our tokens (a predecessor's write) is
//     never taken as ours; it is renewed by CAS before announcing. A 409 never lands.
//
// Safety needs clock rates that agree within (LeaseDuration-RenewDeadline)/LeaseDuration and
// a shell that withdraws synchronously before executing the next action (a Release lets a
// successor announce at once) and whose start-up sweep removes addresses a previous process
// left before any elector runs. A backward step of now counts as no time for waits and voids
// every fence measured from before it (the leader steps down; no earlier write can make it
// lead); a forward jump is taken as elapsed time (a stalled process looks the same). A Lease
// deleted by hand while held can be re-created at once by a node that never saw it; the old
// holder withdraws at its next renew (NotFound), so do not delete held Leases by hand.
//
// # Outage policy
//
// Errors arrive as classes. Conflict means the version moved: re-read, never a loss by itself.
// Transient (timeouts, 5xx, 429) may have landed: re-read after a full-jitter backoff from
// RetryPeriod/4 up to RetryPeriod, and retry; a leader's attempts are cut to end by its
// deadline. Permanent (400/401/403/422) is a configuration error: retry with backoff from
// RetryPeriod/4 (a restarting kube-apiserver answers 403 for a moment) up to LeaseDuration,
// for ever. NotFound: the Lease was deleted; a leader
// withdraws at once, and it is re-created only after LeaseDuration.
//
// A leader that cannot renew withdraws at its deadline and stays a candidate for ever. It
// keeps trying: while the record still names it, it renews by CAS and leads again as soon as
// one write is confirmed; nobody else can take that record until it has stood still for
// LeaseDuration. Stepping down is never final; the elector never exits except on StopRequested.
package election
