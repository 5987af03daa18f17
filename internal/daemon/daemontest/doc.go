// Package daemontest wraps the daemon's ports for tests. Store is a LeaseStore that injects
// API faults: transient errors, a hung API server, 403, replies lost after the write
// landed, writes that land after the caller gave up, a dead process. Source is a
// LeaseSource that can be cut off from the informer (a partition). Plane is a Dataplane
// that records every Add and Remove and can be cut off like a killed process. All of them
// log to one History, ordered by a sequence number, so a test can check "withdrawn before
// released" across nodes without comparing clocks.
//
// Invariant: a wrapper never blocks its caller except on the caller's context (a hung API
// server blocks on <-ctx.Done()), so it is safe inside a testing/synctest bubble, and it
// never changes what reaches the real port except as its Mode says.
package daemontest
