package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ifaProto is IFA_PROTO from linux/if_addr.h (Linux 6.1+). Neither
// golang.org/x/sys nor netlink v1.3.1 knows it, which is why addresses are
// added, listed and deleted with raw RTM_*ADDR requests below.
const ifaProto = 0xb

// forever is the kernel's "infinite" lifetime (INFINITY_LIFE_TIME).
const forever = ^uint32(0)

// dumpRetries bounds retries of an address dump interrupted by a concurrent
// change (NLM_F_DUMP_INTR).
const dumpRetries = 3

// kaddr is one address as the kernel reports it.
type kaddr struct {
	index  int
	prefix netip.Prefix
	label  string
	flags  uint32
	proto  uint8
	valid  uint32 // remaining valid lifetime in seconds, forever if infinite
}

// link is what the data plane needs to know about an interface.
type link struct {
	index int
	name  string
	hw    net.HardwareAddr
	up    bool // administratively up and with carrier, when looked up
}

// kernel performs the netlink calls, in the announcer's network namespace.
type kernel struct {
	h    *netlink.Handle
	sock *nl.SocketHandle
}

func newKernel(ns netns.NsHandle) (*kernel, error) {
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink handle: %w", err)
	}
	s, err := nl.GetNetlinkSocketAt(ns, netns.None(), unix.NETLINK_ROUTE)
	if err != nil {
		h.Close()
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	tv := unix.NsecToTimeval(nl.SocketTimeoutTv.Nano())
	_ = s.SetSendTimeout(&tv)
	_ = s.SetReceiveTimeout(&tv)
	return &kernel{h: h, sock: &nl.SocketHandle{Socket: s}}, nil
}

func (k *kernel) close() {
	k.sock.Close()
	k.h.Close()
}

func (k *kernel) request(typ, flags int) *nl.NetlinkRequest {
	req := nl.NewNetlinkRequest(typ, flags)
	req.Sockets = map[int]*nl.SocketHandle{unix.NETLINK_ROUTE: k.sock}
	return req
}

// replace creates the host address ip on link index, or updates its
// lifetimes if it is there (NLM_F_REPLACE), marked with proto and label.
func (k *kernel) replace(index int, ip netip.Addr, label string, proto uint8, lft uint32) error {
	req := k.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_REPLACE|unix.NLM_F_ACK)
	flags := vipFlags(ip)
	msg := addrMsg(index, ip)
	msg.Flags = uint8(flags)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(flags)))
	ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Prefered: lft, Valid: lft}}
	req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	if ip.Is4() && label != "" {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(label)))
	}
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(proto)))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// del removes the host address ip from link index. An address that is
// already gone is not an error.
func (k *kernel) del(index int, ip netip.Addr) error {
	req := k.request(unix.RTM_DELADDR, unix.NLM_F_ACK)
	req.AddData(addrMsg(index, ip))
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, ip.AsSlice()))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.ENODEV) {
		return nil
	}
	return err
}

func addrMsg(index int, ip netip.Addr) *nl.IfAddrmsg {
	msg := nl.NewIfAddrmsg(family(ip))
	msg.Index = uint32(index)
	msg.Prefixlen = uint8(ip.BitLen())
	msg.Scope = unix.RT_SCOPE_UNIVERSE
	return msg
}

// list dumps every IPv4 and IPv6 address on every interface.
func (k *kernel) list() ([]kaddr, error) {
	var err error
	for range dumpRetries {
		var msgs [][]byte
		req := k.request(unix.RTM_GETADDR, unix.NLM_F_DUMP)
		req.AddData(nl.NewIfAddrmsg(unix.AF_UNSPEC))
		msgs, err = req.Execute(unix.NETLINK_ROUTE, unix.RTM_NEWADDR)
		if err == nil {
			return parseAddrs(msgs), nil
		}
		if !errors.Is(err, nl.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("list addresses: %w", err)
}

func parseAddrs(msgs [][]byte) []kaddr {
	out := make([]kaddr, 0, len(msgs))
	for _, m := range msgs {
		if a, ok := parseAddr(m); ok {
			out = append(out, a)
		}
	}
	return out
}

// parseAddr decodes one RTM_NEWADDR message; malformed ones are skipped.
func parseAddr(m []byte) (kaddr, bool) {
	if len(m) < unix.SizeofIfAddrmsg {
		return kaddr{}, false
	}
	hdr := nl.DeserializeIfAddrmsg(m)
	attrs, err := nl.ParseRouteAttr(m[unix.SizeofIfAddrmsg:])
	if err != nil {
		return kaddr{}, false
	}
	a := kaddr{index: int(hdr.Index), flags: uint32(hdr.Flags), valid: forever}
	var local, address netip.Addr
	for _, at := range attrs {
		switch at.Attr.Type {
		case unix.IFA_LOCAL:
			local, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_ADDRESS:
			address, _ = netip.AddrFromSlice(at.Value)
		case unix.IFA_LABEL:
			a.label = unix.ByteSliceToString(at.Value)
		case unix.IFA_FLAGS:
			if len(at.Value) == 4 {
				a.flags = nl.NativeEndian().Uint32(at.Value)
			}
		case unix.IFA_CACHEINFO:
			if len(at.Value) >= unix.SizeofIfaCacheinfo {
				a.valid = nl.DeserializeIfaCacheInfo(at.Value).Valid
			}
		case ifaProto:
			if len(at.Value) == 1 {
				a.proto = at.Value[0]
			}
		}
	}
	ip := local // IPv4 reports the local address as IFA_LOCAL, IPv6 only as IFA_ADDRESS
	if !ip.IsValid() {
		ip = address
	}
	if !ip.IsValid() || int(hdr.Prefixlen) > ip.BitLen() {
		return kaddr{}, false
	}
	a.prefix = netip.PrefixFrom(ip.Unmap(), int(hdr.Prefixlen))
	return a, true
}

func (k *kernel) linkByName(name string) (link, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		return link{}, fmt.Errorf("interface %s: %w", name, err)
	}
	return toLink(l), nil
}

func (k *kernel) linkByIndex(index int) (link, error) {
	l, err := k.h.LinkByIndex(index)
	if err != nil {
		return link{}, fmt.Errorf("interface #%d: %w", index, err)
	}
	return toLink(l), nil
}

func toLink(l netlink.Link) link {
	at := l.Attrs()
	up := at.RawFlags&unix.IFF_UP != 0 && at.RawFlags&unix.IFF_RUNNING != 0
	return link{index: at.Index, name: at.Name, hw: at.HardwareAddr, up: up}
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return unix.AF_INET
	}
	return unix.AF_INET6
}

// vipFlags are the address flags of a VIP: IPv6 VIPs skip duplicate address
// detection (the election already decided who holds the address) and the
// /128 prefix route (like an IPv4 /32, which gets none).
func vipFlags(ip netip.Addr) uint32 {
	if ip.Is4() {
		return 0
	}
	return unix.IFA_F_NODAD | unix.IFA_F_NOPREFIXROUTE
}

// kernelKeepsProto reports whether the running kernel stores IFA_PROTO.
func kernelKeepsProto() bool {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return false
	}
	return protoSupported(unix.ByteSliceToString(u.Release[:]))
}

// protoSupported reports whether a kernel release string ("6.18.44-foo")
// is Linux 6.1 or later, the first with IFA_PROTO.
func protoSupported(release string) bool {
	major, rest, _ := strings.Cut(release, ".")
	maj, err1 := strconv.Atoi(major)
	minor, err2 := strconv.Atoi(leadingDigits(rest))
	if err1 != nil || err2 != nil {
		return false
	}
	return maj > 6 || (maj == 6 && minor >= 1)
}

func leadingDigits(s string) string {
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i < 0 {
		return s
	}
	return s[:i]
}
