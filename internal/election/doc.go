// Package election is vipkeeper's pure election core: one Node per process holds the node's
// own presence, what it knows of its peers' presence, and the ownership and data-plane
// state of every VIP it cares about. Step(now, event) -> actions; no goroutines, no I/O, no
// clock of its own. The shell passes time.Now() (whose monotonic reading is the only clock
// trusted), executes the actions in order and feeds the results back (etcd raft's Step).
// Remote renewTime is never compared with the local clock.
//
// # Records
//
// Each node has one presence record, renewed every RetryPeriod; it is the only record
// written in steady state, so API writes grow with nodes, not VIPs. It carries the node's
// incarnation, fresh per process start (and per restart of the presence after it ended).
// Each VIP has one ownership record naming a node and its incarnation, written only when
// ownership changes, and carrying a finalizer while held so that deleting it by hand only
// marks it.
//
// # Invariant
//
// No two nodes announce one VIP at the same time. A node announces a VIP only while (a)
// the VIP's record names this node's current incarnation and (b) its presence fence
// stands: the emission time of its newest presence write known to have landed, plus
// RenewDeadline. Install.Until carries the fence plus KernelSlack, so the kernel drops the
// address by itself if the process freezes or dies. An address that is up is extended to a
// newer fence only once less than RefreshAhead is left of its lifetime (a shorter lifetime
// is always safe; the kernel call per VIP is what it saves).
//
//   - Presence renewals are conditioned on holder and incarnation, not on resourceVersion,
//     so several may be in flight; each that lands moves the fence to its own emission +
//     RenewDeadline. One that timed out is credited only if a record carrying its token
//     shows up.
//   - A node takes a VIP from another node's incarnation only with evidence that the
//     incarnation is over: a presence record of that node revoked with that incarnation,
//     from any source; or an answer of the API server, asked after the VIP's record was
//     learned, showing the presence revoked (or absent, from LeaseDuration after that
//     request was issued: absentUntil). It revokes a
//     peer's presence only by a compare-and-swap on a version it saw unchanged for
//     LeaseDuration on its own clock, which puts the peer's fence before the revocation
//     (LeaseDuration > RenewDeadline + KernelSlack + KernelLateness).
//   - VIP records change by compare-and-swap only, so one acquisition wins per version.
//   - Withdraw before release: a record naming this node is released or deleted only once
//     its address is known gone, or surely gone by its kernel lifetime (a failed removal),
//     and, after a failed start-up sweep, a record of an earlier process only once that
//     process's addresses have surely expired. The presence is resigned (which frees every
//     record of the incarnation at once) only when no address may still be up.
//
// With the ride-through (Config.Ride, ride.go), the fence in (b) becomes the deadline: the
// fence, or later the end of a ride, granted when every member attested in time that it is
// blind (a blind node cannot revoke), capped at the fence + Ride.Cap. A node revokes only
// while sighted; its wait on a holder restarts at its own attestation to that holder, and
// lasts (LD + Cap)(1+ρ)/(1-ρ) unless the holder acknowledged it before the wait began. A
// peer may renew our presence for us (relay), credited from when we asked.
// docs/ride-through-model.md and docs/safety.md argue these rules.
//
// Safety needs clock rates that agree within the margin above, and a shell that reports
// each data-plane outcome before executing the next action. A backward step of now counts
// as no time for waits and voids the fence; a forward jump is taken as elapsed time.
//
// # Outage policy
//
// Errors arrive as classes. Conflict means the version moved: wait for the informer to
// bring it (read after 2 x RetryPeriod), never a loss by itself; for a renewal it means the
// incarnation ended. Transient (timeouts, 5xx, 429) may have landed. Presence retries back
// off from RetryPeriod/4 to RetryPeriod and never stop; everything else backs off up to
// LeaseDuration. Timeouts of reads and ownership writes are sized from the measured
// latency; renewals run until shortly before the fence they would set. A node whose fence
// passed withdraws and keeps renewing: as long as its incarnation was not revoked, it
// announces again as soon as one renewal lands. Stepping down is never final.
package election
