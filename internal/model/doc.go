// Package model holds ride.pml, a spin model of vipkeeper's ride-through rules (issue 11)
// on top of the node-fenced presence model (docs/safety.md), and the test that checks it:
// spin -a, gcc, then a full state search with pan (docs/ride-through-model.md).
//
// # Invariant
//
// At no instant do two nodes have one VIP's address on their interfaces, kernel lifetimes
// included. ride.pml asserts it wherever an address is added; the search at every bound of
// the test's configurations finds no violation, and never stops early (depth or memory).
// Each mutant breaks one rule and must yield a counterexample: a mutant that passes means
// the model no longer exercises that rule.
//
// The package has no Go code outside its tests: the implementation of the rules belongs to
// internal/election.
package model
