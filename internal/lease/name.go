package lease

import (
	"net/netip"
	"strings"
)

// Prefix starts the name of every Lease that vipkeeper manages for a VIP.
const Prefix = "vipkeeper-"

// ManagedByLabel marks the Leases vipkeeper creates, so the informer can select them.
const (
	ManagedByLabel = "app.kubernetes.io/managed-by"
	ManagedByValue = "vipkeeper"
)

// Name returns the Lease name for a VIP: vipkeeper-198-51-100-7, vipkeeper-2001-db8--7.
// An address ending in "::" ends in "--0". IPv4-mapped IPv6 addresses are named as their IPv4 form and zones are dropped, so one
// address always maps to one Lease.
func Name(ip netip.Addr) string {
	ip = ip.Unmap().WithZone("")
	r := strings.NewReplacer(".", "-", ":", "-")
	n := Prefix + r.Replace(ip.String())
	if strings.HasSuffix(n, "-") { // 2001:db8:: - a name must end in a letter or digit
		n += "0"
	}
	return n
}
