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

// ParseName is the inverse of Name for IPv4 VIPs (vipkeeper-198-51-100-7), the one form
// that is unambiguous; IPv6 VIP Leases are recognised by AnnotationVIP.
func ParseName(name string) (netip.Addr, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok || strings.Count(rest, "-") != 3 {
		return netip.Addr{}, false
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(rest, "-", "."))
	if err != nil || !ip.Is4() {
		return netip.Addr{}, false
	}
	return ip, true
}
