package announce

import (
	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// nfARPOut is NF_ARP_OUT (linux/netfilter_arp.h), the ARP family's output hook; the
// ARP family numbers its hooks apart from the inet ones (NF_INET_LOCAL_OUT is 3).
const nfARPOut = 1

// ICMPv6 message types (RFC 4861).
const (
	icmpv6NS = 135 // Neighbor Solicitation
	icmpv6NA = 136 // Neighbor Advertisement
)

func outputHook(fam nftables.TableFamily) *nftables.ChainHook {
	if fam == nftables.TableFamilyARP {
		return nftables.ChainHookRef(nfARPOut)
	}
	return nftables.ChainHookOutput
}

// gateRules returns the output chain's rules for fam: drop what advertises a VIP's
// mapping while the VIP is in the vips set and not in the live set.
//
//	arp: arp hlen 6 arp plen 4 arp saddr ip @vips4 arp saddr ip != @live4 drop
//	ip6: icmpv6 type nd-neighbor-advert  nd target  @vips6 (not @live6) drop
//	     icmpv6 type nd-neighbor-solicit ip6 saddr  @vips6 (not @live6) drop
//
// ARP: replies and requests alike carry the sender's mapping, so both are gated; the
// length check makes offset 14 the sender protocol address (Ethernet, IPv4). IPv6: the
// kernel's Neighbor Advertisements (answers, and its unsolicited ones) for a VIP, and its
// Neighbor Solicitations sent from a VIP, whose source link-layer option teaches the
// receiver the VIP's MAC (RFC 4861 §7.2.3) as an ARP request does.
func gateRules(fam fenceFamily) []*nftables.Rule {
	if fam.table.Family == nftables.TableFamilyARP {
		match := []expr.Any{
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 4, Len: 2},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{6, 4}},
			&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 14, Len: 4},
		}
		return []*nftables.Rule{{Exprs: gated(match, fam)}}
	}
	na := append(icmpv6Type(icmpv6NA),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 8, Len: 16})
	ns := append(icmpv6Type(icmpv6NS),
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: 8, Len: 16})
	return []*nftables.Rule{{Exprs: gated(na, fam)}, {Exprs: gated(ns, fam)}}
}

// icmpv6Type matches an ICMPv6 message of type typ (meta l4proto skips extension headers).
func icmpv6Type(typ byte) []expr.Any {
	return []expr.Any{
		&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{unix.IPPROTO_ICMPV6}},
		&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{typ}},
	}
}

// gated appends to match (which leaves an address in register 1): in @vips, not in
// @live, drop.
func gated(match []expr.Any, fam fenceFamily) []expr.Any {
	return append(match,
		&expr.Lookup{SourceRegister: 1, SetName: fam.vips.Name, SetID: fam.vips.ID},
		&expr.Lookup{SourceRegister: 1, SetName: fam.live.Name, SetID: fam.live.ID, Invert: true},
		&expr.Verdict{Kind: expr.VerdictDrop},
	)
}
