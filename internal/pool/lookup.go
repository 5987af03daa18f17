package pool

import (
	"net/netip"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// Membership answers which VIPPool an address belongs to, by the allocator's own rules:
// only pools in use count (valid, and not yielding to an older pool they overlap), so
// one address is in at most one pool. BGP mode uses it to find a VIP's advertisement.
type Membership struct{ pools []*poolState }

// NewMembership parses the pools once for many lookups.
func NewMembership(pools []*v1alpha1.VIPPool) Membership {
	return Membership{pools: preparePools(pools)}
}

// PoolOf returns the name of the pool in use that holds a.
func (m Membership) PoolOf(a netip.Addr) (string, bool) {
	for _, p := range m.pools {
		if p.active && p.has(a.Unmap()) {
			return p.name, true
		}
	}
	return "", false
}
