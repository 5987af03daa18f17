// Package app turns a validated Config into a running daemon: it builds the real adapters
// (API clients, Lease store and cache, netlink data plane, informers, HTTP endpoints) and
// runs them until the context ends.
//
// Invariant: nothing starts before Config.Validate passes, and a bad configuration is one
// clear error that names every offending setting. /livez never depends on the API server
// (cilium#31702: a liveness probe that fails while the API is down kills every VIP).
package app
