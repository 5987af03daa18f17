// Package leader runs the controller role's cluster-wide work under one client-go leader
// election: a list of runnables (the allocator, the Service status writer, and whatever
// else must run on one replica only, such as Lease garbage collection) started together
// when this replica starts to lead and stopped when it stops.
//
// Invariant: the runnables run only during a term of this replica, and a new term starts
// only after every runnable of the previous one has returned, so two terms of one replica
// never overlap. Losing the election is never final: the replica campaigns again. Across
// replicas client-go allows an overlap of up to one renew deadline after a partition; the
// writers tolerate it (every write is conditioned on a resourceVersion, and a double
// allocation heals in favour of the older Service; internal/pool).
package leader
