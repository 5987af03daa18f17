package pool

import (
	"net/netip"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/svcrules"
)

// Membership answers which VIPPool an address belongs to, by the one rule every reader
// uses (svcrules.PoolOfVIP: the oldest pool one of whose valid entries holds it), so BGP
// mode, the agents' spec.l2 and the allocator agree on a VIP's pool. BGP mode uses it to
// find a VIP's advertisement.
type Membership struct{ pools []*svcrules.Pool }

// NewMembership parses the pools once for many lookups.
func NewMembership(pools []*v1alpha1.VIPPool) Membership {
	return Membership{pools: svcrules.ParsePools(pools)}
}

// PoolOf returns the name of the pool that holds a.
func (m Membership) PoolOf(a netip.Addr) (string, bool) {
	if p := svcrules.PoolOfVIP(m.pools, a.Unmap(), ""); p != nil {
		return p.Name, true
	}
	return "", false
}
