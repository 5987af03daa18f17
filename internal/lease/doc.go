// Package lease is the elector's only door to the API server: it reads and writes the one
// coordination.k8s.io/v1 Lease per VIP, always as a compare-and-swap on resourceVersion, and
// turns client-go errors into the election core's error classes.
//
// Invariant: every Update and Delete carries the resourceVersion the core decided on, so a
// write never lands on a record the core has not seen; Create only succeeds when no Lease
// exists. Nothing here retries or sleeps: retry policy belongs to the core, and each call is
// bounded by the caller's context (one attempt, one timeout).
//
// Lease traffic uses its own client, rate limiter and HTTP timeout (NewClient), so informers
// and status updates never starve renewals (cilium#26586, kube-vip#563).
package lease
