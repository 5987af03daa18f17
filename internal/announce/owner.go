package announce

import (
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// labelSuffix is appended to the interface name to form the IPv4 label of a
// VIP ("eth0:vk"). Labels hold at most 15 characters (IFNAMSIZ-1), so
// interfaces of 13 or more characters get no label; it is cosmetic.
const labelSuffix = ":vk"

// metricTag is the high half of the IFA_RT_PRIORITY (address metric) of every VIP: "VK".
// The low half is the protocol value, so the default is 0x564b0056 (1447755862).
const metricTag = 0x564b_0000

// marker decides which addresses vipkeeper owns. See doc.go and docs/dataplane.md.
type marker struct {
	proto   uint8
	protoOK bool   // the kernel stores IFA_PROTO (Linux >= 6.1)
	metric  uint32 // IFA_RT_PRIORITY of every VIP (kept by Linux >= 4.18)
}

func newMarker(proto uint8, release string) marker {
	return marker{proto: proto, protoOK: atLeast(release, 6, 1), metric: metricTag | uint32(proto)}
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
// IFA_PROTO, the protocol value alone decides. Elsewhere the address metric
// decides, together with the shape every VIP has (vipShaped). An IPv4
// address labelled "<ifname>:vk" with a finite lifetime is also owned: an
// earlier vipkeeper marked its VIPs so on old kernels.
func (m marker) owns(a kaddr) bool {
	if !isHost(a.prefix) {
		return false
	}
	if m.protoOK {
		return a.proto == m.proto
	}
	if a.metric == m.metric && vipShaped(a) {
		return true
	}
	return a.prefix.Addr().Is4() && a.valid != forever &&
		len(a.label) > len(labelSuffix) && strings.HasSuffix(a.label, labelSuffix)
}

// vipShaped reports whether a has the flags and lifetime of every VIP: no
// prefix route, no DAD for IPv6, and a finite lifetime.
func vipShaped(a kaddr) bool {
	want := vipFlags(a.prefix.Addr())
	return a.flags&want == want && a.flags&unix.IFA_F_PERMANENT == 0 && a.valid != forever
}

// vipFlags are the address flags of a VIP: no prefix route (a host address
// connects nothing), and for IPv6 no duplicate address detection (the
// election already decided who holds the address).
func vipFlags(ip netip.Addr) uint32 {
	if ip.Is4() {
		return unix.IFA_F_NOPREFIXROUTE
	}
	return unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
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

// kernelRelease is the running kernel's release ("6.18.44-foo"), "" if unknown.
func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}

// atLeast reports whether a kernel release string is Linux major.minor or later.
func atLeast(release string, major, minor int) bool {
	majs, rest, _ := strings.Cut(release, ".")
	maj, err1 := strconv.Atoi(majs)
	min, err2 := strconv.Atoi(leadingDigits(rest))
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > major || (maj == major && min >= minor)
}

func leadingDigits(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		return s
	}
	return s[:i]
}
