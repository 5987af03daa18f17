package pool

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"strings"
)

// block is one entry of spec.addresses. It covers [lo, hi] (what overlap checks see) and
// hands out [first, last]: a CIDR without its network and broadcast address (IPv4 /30
// and larger) or its subnet-router anycast address (IPv6 shorter than /127).
type block struct {
	lo, hi      netip.Addr
	first, last netip.Addr
	entry       string // as written, for messages
}

// special holds the prefixes no VIP may come from: the ones controller.ParseIPs refuses
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

// parseBlock parses one entry: a CIDR, an inclusive range "a-b" or a single address.
func parseBlock(entry string) (block, error) {
	s := strings.TrimSpace(entry)
	var b block
	var err error
	switch {
	case s == "":
		return block{}, errors.New("empty entry")
	case strings.Contains(s, "/"):
		b, err = parseCIDR(s)
	case strings.Contains(s, "-"):
		b, err = parseRange(s)
	default:
		var a netip.Addr
		a, err = parseAddr(s)
		b = block{lo: a, hi: a, first: a, last: a}
	}
	if err != nil {
		return block{}, err
	}
	b.entry = s
	return b, checkUnicast(b)
}

func parseCIDR(s string) (block, error) {
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return block{}, fmt.Errorf("not a CIDR: %w", err)
	}
	if p.Addr().Is4In6() {
		return block{}, errors.New("IPv4-mapped IPv6 addresses are not allowed; write the IPv4 form")
	}
	if m := p.Masked(); m != p {
		return block{}, fmt.Errorf("host bits are set; did you mean %s?", m)
	}
	b := block{lo: p.Addr(), hi: lastOf(p)}
	b.first, b.last = b.lo, b.hi
	switch {
	case p.Addr().Is4() && p.Bits() <= 30:
		b.first, b.last = b.lo.Next(), b.hi.Prev()
	case p.Addr().Is6() && p.Bits() <= 126:
		b.first = b.lo.Next()
	}
	return b, nil
}

func parseRange(s string) (block, error) {
	parts := strings.Split(s, "-")
	if len(parts) != 2 {
		return block{}, errors.New("a range is two addresses joined by one '-'")
	}
	lo, err := parseAddr(strings.TrimSpace(parts[0]))
	if err != nil {
		return block{}, err
	}
	hi, err := parseAddr(strings.TrimSpace(parts[1]))
	if err != nil {
		return block{}, err
	}
	if lo.Is4() != hi.Is4() {
		return block{}, errors.New("the range mixes IPv4 and IPv6")
	}
	if lo.Compare(hi) > 0 {
		return block{}, errors.New("the range starts after it ends")
	}
	return block{lo: lo, hi: hi, first: lo, last: hi}, nil
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

func checkUnicast(b block) error {
	for _, p := range special {
		if p.Addr().Is4() == b.lo.Is4() && b.lo.Compare(lastOf(p)) <= 0 && p.Addr().Compare(b.hi) <= 0 {
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

// contains reports whether a lies in [lo, hi].
func (b block) contains(a netip.Addr) bool {
	return b.lo.Compare(a) <= 0 && a.Compare(b.hi) <= 0
}

// allocatable reports whether the block may hand out a.
func (b block) allocatable(a netip.Addr, avoidBuggy bool) bool {
	if b.first.Compare(a) > 0 || a.Compare(b.last) > 0 {
		return false
	}
	return !(avoidBuggy && buggy(a))
}

// buggy reports IPv4 addresses ending in .0 or .255.
func buggy(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	last := a.As4()[3]
	return last == 0 || last == 255
}

// size counts the addresses the block hands out.
func (b block) size(avoidBuggy bool) *big.Int {
	if b.first.Compare(b.last) > 0 {
		return new(big.Int)
	}
	n := new(big.Int).Sub(toInt(b.last), toInt(b.first))
	n.Add(n, big.NewInt(1))
	if avoidBuggy && b.first.Is4() {
		n.Sub(n, big.NewInt(buggyUpTo(u32(b.last))-buggyUpTo(int64(u32(b.first))-1)))
	}
	return n
}

// buggyUpTo counts x in [0, n] with x%256 of 0 or 255; n < 0 counts nothing.
func buggyUpTo(n int64) int64 {
	if n < 0 {
		return 0
	}
	c := n/256*2 + 1
	if n%256 == 255 {
		c++
	}
	return c
}

func u32(a netip.Addr) int64 {
	b := a.As4()
	return int64(b[0])<<24 | int64(b[1])<<16 | int64(b[2])<<8 | int64(b[3])
}

func toInt(a netip.Addr) *big.Int { return new(big.Int).SetBytes(a.AsSlice()) }

// saturate converts n to int64, capping at math.MaxInt64 and flooring at 0.
func saturate(n *big.Int) int64 {
	switch {
	case n.Sign() < 0:
		return 0
	case !n.IsInt64():
		return math.MaxInt64
	}
	return n.Int64()
}

// lowestFree returns the lowest address of the block that it may hand out and that used
// does not hold. It visits at most len(used) + the skipped buggy addresses + 1 addresses.
func (b block) lowestFree(used map[netip.Addr]bool, avoidBuggy bool) (netip.Addr, bool) {
	if b.first.Compare(b.last) > 0 {
		return netip.Addr{}, false
	}
	for a := b.first; a.IsValid() && a.Compare(b.last) <= 0; a = a.Next() {
		if !used[a] && !(avoidBuggy && buggy(a)) {
			return a, true
		}
	}
	return netip.Addr{}, false
}
