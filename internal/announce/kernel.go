package announce

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

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
	metric uint32 // IFA_RT_PRIORITY, 0 if none
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

// addrSpec is one VIP address as replace installs it.
type addrSpec struct {
	index  int
	ip     netip.Addr
	label  string // IPv4 only; "" for none
	proto  uint8  // IFA_PROTO
	metric uint32 // IFA_RT_PRIORITY
	lft    uint32 // valid and preferred lifetime, seconds
	// exclusive: create only (NLM_F_EXCL), EEXIST if the interface has the address.
	exclusive bool
}

// replace creates the host address of s, or updates its lifetimes if it is
// there (NLM_F_REPLACE), marked with its proto, metric and label.
func (k *kernel) replace(s addrSpec) error {
	mode := unix.NLM_F_REPLACE
	if s.exclusive {
		mode = unix.NLM_F_EXCL
	}
	req := k.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|mode|unix.NLM_F_ACK)
	flags := vipFlags(s.ip)
	msg := addrMsg(s.index, s.ip)
	msg.Flags = uint8(flags)
	req.AddData(msg)
	req.AddData(nl.NewRtAttr(unix.IFA_LOCAL, s.ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_ADDRESS, s.ip.AsSlice()))
	req.AddData(nl.NewRtAttr(unix.IFA_FLAGS, nl.Uint32Attr(flags)))
	ci := nl.IfaCacheInfo{IfaCacheinfo: unix.IfaCacheinfo{Prefered: s.lft, Valid: s.lft}}
	req.AddData(nl.NewRtAttr(unix.IFA_CACHEINFO, ci.Serialize()))
	if s.ip.Is4() && s.label != "" {
		req.AddData(nl.NewRtAttr(unix.IFA_LABEL, nl.ZeroTerminated(s.label)))
	}
	req.AddData(nl.NewRtAttr(unix.IFA_RT_PRIORITY, nl.Uint32Attr(s.metric)))
	req.AddData(nl.NewRtAttr(ifaProto, nl.Uint8Attr(s.proto)))
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
	return nil, kernelErr("list addresses", err)
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
		case unix.IFA_RT_PRIORITY:
			if len(at.Value) == 4 {
				a.metric = nl.NativeEndian().Uint32(at.Value)
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

// linkByName looks name up; a missing interface is ErrCannotCarry.
func (k *kernel) linkByName(name string) (link, error) {
	l, err := k.h.LinkByName(name)
	if err != nil {
		return link{}, missingLink("interface "+name, err)
	}
	return toLink(l), nil
}

func (k *kernel) linkByIndex(index int) (link, error) {
	l, err := k.h.LinkByIndex(index)
	if err != nil {
		return link{}, missingLink(fmt.Sprintf("interface #%d", index), err)
	}
	return toLink(l), nil
}

// links lists every interface.
func (k *kernel) links() ([]link, error) {
	ls, err := k.h.LinkList()
	if err != nil {
		return nil, kernelErr("list interfaces", err)
	}
	out := make([]link, len(ls))
	for i, l := range ls {
		out[i] = toLink(l)
	}
	return out, nil
}

func missingLink(what string, err error) error {
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
		return &classified{msg: what, cause: err, class: ErrCannotCarry}
	}
	return kernelErr(what, err)
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
