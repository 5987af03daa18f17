package lab

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strconv"
)

// Prefix starts the name of every namespace, host interface, temp dir and pid file a lab
// creates; Sweep recognises leftovers by it.
const Prefix = "vkl-"

// The client's first addresses on the data LAN (198.51.100.0/24, 2001:db8:1::/64). It
// has probeSources of each family, .2 to .9, and probes from them in turn.
var (
	ClientIPv4 = clientSource4(0)
	ClientIPv6 = clientSource6(0)
	mgmtRange  = netip.MustParsePrefix("203.0.113.0/24")
)

// probeSources is how many addresses per family the client probes from.
const probeSources = 8

func clientSource4(k int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(2 + k)}) }
func clientSource6(k int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", 2+k))
}

// clientSources returns the client's probe source addresses of both families.
func clientSources() (v4, v6 []netip.Addr) {
	for k := range probeSources {
		v4 = append(v4, clientSource4(k))
		v6 = append(v6, clientSource6(k))
	}
	return v4, v6
}

const (
	dataBits4 = 24
	dataBits6 = 64
	// mgmtBits: the host-side management network is one /27 of 203.0.113.0/24, chosen free
	// at start, so two labs can run side by side in the host namespace.
	mgmtBits  = 27
	mgmtSlots = 1 << (mgmtBits - 24)
	// Ports of the daemon's endpoints on its management address.
	healthPort  = 9473
	metricsPort = 9472
)

// VIP4 is the n-th IPv4 VIP of the lab's range, 198.51.100.(100+n), n in 0..99.
func VIP4(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(100 + n%100)})
}

// VIP6 is the n-th IPv6 VIP of the lab's range, 2001:db8:1::(100+n) written in decimal
// digits (2001:db8:1::100 for n = 0), n in 0..899.
func VIP6(n int) netip.Addr {
	return netip.MustParseAddr("2001:db8:1::" + strconv.Itoa(100+n%900))
}

// NodeName is the name of lab node i (1-based): its Node object and Lease holder identity.
func NodeName(i int) string { return "node-" + strconv.Itoa(i) }

// plan holds the names and addresses of one lab; it is pure data.
type plan struct {
	id    string // 6 hex digits
	slot  int    // management /27 within 203.0.113.0/24
	nodes int
}

func newID() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (p plan) tag() string           { return Prefix + p.id }
func (p plan) lanNS() string         { return p.tag() + "-lan" }
func (p plan) clientNS() string      { return p.tag() + "-client" }
func (p plan) nodeNS(i int) string   { return p.tag() + "-" + NodeName(i) }
func (p plan) hostBridge() string    { return p.tag() }
func (p plan) hostVeth(i int) string { return p.tag() + "-" + strconv.Itoa(i) }
func (p plan) lanPort(i int) string  { return "n" + strconv.Itoa(i) }

func (p plan) mgmtBase() netip.Addr {
	b := mgmtRange.Addr().As4()
	b[3] = byte(p.slot * 256 / mgmtSlots)
	return netip.AddrFrom4(b)
}

func (p plan) mgmtNet() netip.Prefix { return netip.PrefixFrom(p.mgmtBase(), mgmtBits) }

// hostMgmtIP is kube-apiserver's address, on the host bridge.
func (p plan) hostMgmtIP() netip.Addr { return nthAddr(p.mgmtBase(), 1) }

// nodeMgmtIP is node i's address on the management network.
func (p plan) nodeMgmtIP(i int) netip.Addr { return nthAddr(p.mgmtBase(), 1+i) }

func nodeIPv4(i int) netip.Addr { return netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}) }

// nodeIPv6 is 2001:db8:1::(10+i) written in decimal digits, like the IPv4 address.
func nodeIPv6(i int) netip.Addr {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", 10+i))
}

func nthAddr(base netip.Addr, n int) netip.Addr {
	b := base.As4()
	b[3] += byte(n)
	return netip.AddrFrom4(b)
}

func prefix4(a netip.Addr) string { return netip.PrefixFrom(a, dataBits4).String() }
func prefix6(a netip.Addr) string { return netip.PrefixFrom(a, dataBits6).String() }
func mgmtPrefix(p plan, a netip.Addr) string {
	return netip.PrefixFrom(a, mgmtBits).String()
}
