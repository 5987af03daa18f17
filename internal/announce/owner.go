package announce

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// labelSuffix is appended to the interface name to form the IPv4 label of a
// VIP ("eth0:vk"). Labels hold at most 15 characters (IFNAMSIZ-1).
const labelSuffix = ":vk"

// marker decides which addresses vipkeeper owns. See doc.go.
type marker struct {
	proto   uint8
	protoOK bool // the kernel stores IFA_PROTO (Linux >= 6.1)
}

// label is the IPv4 label for a VIP on ifname, or "" if it would not fit.
func (m marker) label(ifname string) string {
	l := ifname + labelSuffix
	if len(l) > unix.IFNAMSIZ-1 {
		return ""
	}
	return l
}

// owns reports whether a is a VIP that some vipkeeper process installed.
// Only host addresses (/32, /128) are ever owned. Where the kernel keeps
// IFA_PROTO, the protocol value alone decides. On older kernels an IPv4 VIP
// is recognised by its label ("eth0:vk"), an IPv6 VIP by the combination no
// other software uses: /128, nodad, noprefixroute and a finite lifetime.
func (m marker) owns(a kaddr) bool {
	if !isHost(a.prefix) {
		return false
	}
	if m.protoOK {
		return a.proto == m.proto
	}
	if a.prefix.Addr().Is4() {
		return len(a.label) > len(labelSuffix) && strings.HasSuffix(a.label, labelSuffix)
	}
	const want = unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
	return a.flags&want == want && a.flags&unix.IFA_F_PERMANENT == 0 && a.valid != forever
}

func isHost(p netip.Prefix) bool {
	return p.IsValid() && p.Bits() == p.Addr().BitLen()
}

// lifetime turns an absolute deadline into the kernel's valid_lft: whole
// seconds from now, rounded down, so the kernel drops the address no later
// than until. ok is false when less than one second is left: the address
// must then be removed, not installed.
func lifetime(until, now time.Time) (lft uint32, ok bool) {
	left := until.Sub(now)
	if left < time.Second {
		return 0, false
	}
	secs := int64(left / time.Second)
	if secs >= math.MaxUint32 {
		secs = math.MaxUint32 - 1 // stay finite: MaxUint32 means forever
	}
	return uint32(secs), true
}

// vipAddr checks that ip may be used as a VIP and returns its canonical form.
func vipAddr(ip netip.Addr) (netip.Addr, error) {
	ip = ip.Unmap()
	if !ip.IsValid() || !ip.IsGlobalUnicast() {
		return netip.Addr{}, fmt.Errorf("vip %s: %w", ip, ErrInvalidVIP)
	}
	return ip, nil
}

// coveringLink returns the interface whose connected network (the prefix of
// an address it holds) contains ip: the most specific one, then the lowest
// index. Host addresses connect nothing and are ignored.
func coveringLink(ip netip.Addr, addrs []kaddr) (index int, ok bool) {
	bits := -1
	for _, a := range addrs {
		if isHost(a.prefix) || !a.prefix.Masked().Contains(ip) {
			continue
		}
		b := a.prefix.Bits()
		if b > bits || (b == bits && a.index < index) {
			index, bits = a.index, b
		}
	}
	return index, bits >= 0
}

// noInterfaceError says that no interface is on the VIP's network.
type noInterfaceError struct{ ip netip.Addr }

func (e noInterfaceError) Error() string {
	return fmt.Sprintf("no interface has a connected route covering %s; set --interface", e.ip)
}

func (e noInterfaceError) Is(target error) bool { return target == ErrNoInterface }
