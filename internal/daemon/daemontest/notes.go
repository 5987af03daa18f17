package daemontest

import (
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"
)

// Notes records what a daemon told its Notifier. It is safe for concurrent use.
type Notes struct {
	mu       sync.Mutex
	counts   map[string]int // "announced", "withdrawn", "problem"
	problems []string       // reasons, in order
}

// NewNotes returns an empty Notes.
func NewNotes() *Notes { return &Notes{counts: map[string]int{}} }

// Announced counts an announcement.
func (n *Notes) Announced(netip.Addr, []types.NamespacedName) { n.count("announced", "") }

// Withdrawn counts a withdrawal.
func (n *Notes) Withdrawn(netip.Addr, []types.NamespacedName, string) { n.count("withdrawn", "") }

// Problem records a problem's reason.
func (n *Notes) Problem(_ netip.Addr, _ []types.NamespacedName, reason, _ string) {
	n.count("problem", reason)
}

func (n *Notes) count(kind, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.counts[kind]++
	if reason != "" {
		n.problems = append(n.problems, reason)
	}
}

// Count returns how often kind ("announced", "withdrawn", "problem") was reported.
func (n *Notes) Count(kind string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.counts[kind]
}

// Problems returns the reasons of the problems reported, in order.
func (n *Notes) Problems() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.problems...)
}
