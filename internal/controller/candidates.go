package controller

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"

	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// nodeWant is this node's Want for one resolved VIP.
func nodeWant(in Input, v svcrules.VIP) (Want, []Problem) {
	w := Want{IP: v.IP, Services: v.Services, Interfaces: v.Interfaces}
	if !slices.Contains(v.Candidates, in.NodeName) {
		return w, nil
	}
	if err := carry(in.CanCarry, v.IP, v.Interfaces); err != nil {
		return w, cannotCarry(in.NodeName, v, err)
	}
	w.Eligible, w.Ahead = true, Ahead(in.NodeName, v.IP, v.Candidates)
	w.Rank = len(w.Ahead)
	return w, nil
}

func carry(canCarry func(netip.Addr, []string) error, ip netip.Addr, interfaces []string) (err error) {
	if canCarry == nil {
		return nil
	}
	defer func() { // the hook is the data plane's code; a panic there must not stop us
		if r := recover(); r != nil {
			err = fmt.Errorf("CanCarry(%s) panicked: %v", ip, r)
		}
	}()
	return canCarry(ip, interfaces)
}

func cannotCarry(self string, v svcrules.VIP, err error) []Problem {
	out := make([]Problem, len(v.Services))
	for i, nn := range v.Services {
		out[i] = Problem{Service: nn, Reason: ReasonCannotCarry, Node: self, Message: fmt.Sprintf(
			"node %s cannot carry %s (%v); it stays out of the election, other nodes may announce it", self, v.IP, err)}
	}
	return out
}

// Rank is node's 0-based rendezvous rank for ip among cands: how many candidates score
// higher, by sha256("node#ip") (ties broken by name). It is not sorted per call, so one
// node's rank costs one pass.
func Rank(node string, ip netip.Addr, cands []string) int {
	mine, rank := score(node, ip), 0
	for _, other := range cands {
		if other == node {
			continue
		}
		if s := score(other, ip); s > mine || (s == mine && other < node) {
			rank++
		}
	}
	return rank
}

// Ahead names the candidates ranked before node for ip, best first: Rank is its length.
// The elector uses it to skip a releaser's place in a graceful handover.
func Ahead(node string, ip netip.Addr, cands []string) []string {
	mine := score(node, ip)
	var out []string
	for _, other := range cands {
		if s := score(other, ip); other != node && (s > mine || (s == mine && other < node)) {
			out = append(out, other)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return cmp.Compare(score(b, ip), score(a, ip)) })
	return out
}

func score(node string, ip netip.Addr) uint64 {
	sum := sha256.Sum256([]byte(node + "#" + ip.String()))
	return binary.BigEndian.Uint64(sum[:8])
}
