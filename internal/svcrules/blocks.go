package svcrules

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
)

// Block is one entry of a VIPPool's spec.addresses. It covers [Lo, Hi] (what membership
// and overlap checks see) and hands out [First, Last]: a CIDR without its network and
// broadcast address (IPv4 /30 and larger) or its subnet-router anycast address (IPv6
// shorter than /127).
type Block struct {
	Lo, Hi      netip.Addr
	First, Last netip.Addr
	Entry       string // as written (trimmed), for messages
}

// special holds the prefixes no VIP may come from: the ones ParseIPs refuses
// (unspecified, loopback, multicast, link-local), IPv4-mapped IPv6 (the controller unmaps
// those, so they would alias IPv4 VIPs) and the IPv4 limited broadcast.
var special = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/32"), netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("255.255.255.255/32"),
	netip.MustParsePrefix("::/128"), netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("::ffff:0:0/96"), netip.MustParsePrefix("fe80::/10"),
	netip.MustParsePrefix("ff00::/8"),
}

// ParseBlock parses one entry: a CIDR, an inclusive range "a-b" or a single address.
func ParseBlock(entry string) (Block, error) {
	s := strings.TrimSpace(entry)
	var b Block
	var err error
	switch {
	case s == "":
		return Block{}, errors.New("empty entry")
	case strings.Contains(s, "/"):
		b, err = parseCIDR(s)
	case strings.Contains(s, "-"):
		b, err = parseRange(s)
	default:
		var a netip.Addr
		a, err = parseAddr(s)
		b = Block{Lo: a, Hi: a, First: a, Last: a}
	}
	if err != nil {
		return Block{}, err
	}
	b.Entry = s
	return b, checkUnicast(b)
}

func parseCIDR(s string) (Block, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return Block{}, fmt.Errorf("not a CIDR: %w", err)
	}
	if p.Addr().Is4In6() {
		return Block{}, errors.New("IPv4-mapped IPv6 addresses are not allowed; write the IPv4 form")
	}
	if m := p.Masked(); m != p {
		return Block{}, fmt.Errorf("host bits are set; did you mean %s?", m)
	}
	b := Block{Lo: p.Addr(), Hi: lastOf(p)}
	b.First, b.Last = b.Lo, b.Hi
	switch {
	case p.Addr().Is4() && p.Bits() <= 30:
		b.First, b.Last = b.Lo.Next(), b.Hi.Prev()
	case p.Addr().Is6() && p.Bits() <= 126:
		b.First = b.Lo.Next()
	}
	return b, nil
}

func parseRange(s string) (Block, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 2 {
		return Block{}, errors.New("a range is two addresses joined by one '-'")
	}
	lo, err := parseAddr(strings.TrimSpace(parts[0]))
	if err != nil {
		return Block{}, err
	}
	hi, err := parseAddr(strings.TrimSpace(parts[1]))
	if err != nil {
		return Block{}, err
	}
	if lo.Is4() != hi.Is4() {
		return Block{}, errors.New("the range mixes IPv4 and IPv6")
	}
	if lo.Compare(hi) > 0 {
		return Block{}, errors.New("the range starts after it ends")
	}
	return Block{Lo: lo, Hi: hi, First: lo, Last: hi}, nil
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	switch {
	case err != nil:
		return netip.Addr{}, fmt.Errorf("not an IP address: %w", err)
	case a.Zone() != "":
		return netip.Addr{}, errors.New("addresses with a zone are not allowed")
	case a.Is4In6():
		return netip.Addr{}, errors.New("IPv4-mapped IPv6 addresses are not allowed; write the IPv4 form")
	}
	return a, nil
}

func checkUnicast(b Block) error {
	for _, p := range special {
		if p.Addr().Is4() == b.Lo.Is4() && b.Lo.Compare(lastOf(p)) <= 0 && p.Addr().Compare(b.Hi) <= 0 {
			return fmt.Errorf("contains addresses of %s, which are not unicast VIPs", p)
		}
	}
	return nil
}

// lastOf returns the highest address of p (p must be valid).
func lastOf(p netip.Prefix) netip.Addr {
	a := p.Masked().Addr().As16()
	hostBits := p.Addr().BitLen() - p.Bits()
	for i := 15; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		a[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	out := netip.AddrFrom16(a)
	if p.Addr().Is4() {
		return out.Unmap()
	}
	return out
}

// Contains reports whether a lies in [Lo, Hi].
func (b Block) Contains(a netip.Addr) bool {
	return b.Lo.Compare(a) <= 0 && a.Compare(b.Hi) <= 0
}
