package bgp

import (
	"cmp"
	"fmt"
	"iter"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
)

// Defaults of BGPPeer fields the API server would have filled (objects from a client
// that skipped defaulting, and unit tests).
const (
	DefaultHold      = 3 * time.Second
	DefaultKeepalive = time.Second
	DefaultPort      = 179
)

func mapsKeys[V any](m map[string]V) iter.Seq[string] { return maps.Keys(m) }

// resolvePeers fills p.Peers with the peers this node speaks to and returns what every
// advertisement needs to know of all valid peers.
func (p *Plan) resolvePeers(in Input) map[string]peerInfo {
	all := map[string]peerInfo{}
	byAddr := map[netip.Addr]string{}
	for _, bp := range oldestFirst(in.Peers) {
		peer, err := toPeer(bp)
		if err != nil {
			p.PeerProblems[bp.Name] = err.Error()
			continue
		}
		if other, ok := byAddr[peer.Addr]; ok {
			p.PeerProblems[bp.Name] = fmt.Sprintf("spec.address %s is already the address of the older BGPPeer %q", peer.Addr, other)
			continue
		}
		byAddr[peer.Addr] = bp.Name
		local, err := selects(bp.Spec.NodeSelector, in.NodeLabels)
		if err != nil {
			p.PeerProblems[bp.Name] = fmt.Sprintf("spec.nodeSelector: %v", err)
			continue
		}
		if local {
			if local, err = p.withPassword(&peer, bp, in.Secret); err != nil {
				p.PeerProblems[bp.Name] = err.Error()
			}
		}
		all[bp.Name] = peerInfo{hold: peer.Hold, local: local}
		if local {
			p.Peers = append(p.Peers, peer)
		}
	}
	slices.SortFunc(p.Peers, func(a, b Peer) int { return cmp.Compare(a.Name, b.Name) })
	return all
}

// withPassword reads the peer's TCP MD5 password. A missing Secret keeps the peer
// unconfigured: speaking without the password would only be refused.
func (p *Plan) withPassword(peer *Peer, bp *v1alpha1.BGPPeer, secret func(string, string) (string, error)) (bool, error) {
	ref := bp.Spec.PasswordSecretRef
	if ref == nil {
		return true, nil
	}
	key := cmp.Or(ref.Key, "password")
	if secret == nil {
		return false, fmt.Errorf("Secret %s key %s: no Secret source", ref.Name, key)
	}
	pw, err := secret(ref.Name, key)
	if err != nil {
		return false, fmt.Errorf("Secret %s key %s: %w", ref.Name, key, err)
	}
	peer.Password = pw
	return true, nil
}

// toPeer converts and checks what admission should already have rejected.
func toPeer(bp *v1alpha1.BGPPeer) (Peer, error) {
	s := bp.Spec
	peer := Peer{Name: bp.Name, Port: uint16(cmp.Or(s.Port, DefaultPort)), MultiHop: s.EBGPMultiHop,
		Hold: cmp.Or(s.HoldTime.Duration, DefaultHold), Keepalive: cmp.Or(s.KeepaliveTime.Duration, DefaultKeepalive)}
	var err error
	if peer.Addr, err = netip.ParseAddr(s.Address); err != nil || peer.Addr.Zone() != "" {
		return peer, fmt.Errorf("spec.address %q is not an IP address", s.Address)
	}
	peer.Addr = peer.Addr.Unmap()
	if s.SourceAddress != "" {
		if peer.Source, err = netip.ParseAddr(s.SourceAddress); err != nil || peer.Source.Unmap().Is4() != peer.Addr.Is4() {
			return peer, fmt.Errorf("spec.sourceAddress %q is not an address of the family of %s", s.SourceAddress, peer.Addr)
		}
		peer.Source = peer.Source.Unmap()
	}
	if s.ASN < 1 || s.ASN > 1<<32-1 || s.MyASN < 1 || s.MyASN > 1<<32-1 {
		return peer, fmt.Errorf("spec.asn %d and spec.myASN %d must be 1..4294967295", s.ASN, s.MyASN)
	}
	peer.ASN, peer.MyASN = uint32(s.ASN), uint32(s.MyASN)
	if peer.Hold < 3*time.Second || peer.Keepalive < time.Second || peer.Keepalive >= peer.Hold || s.Port < 0 || s.Port > 65535 {
		return peer, fmt.Errorf("hold time %v must be at least 3s and longer than keepalive %v (at least 1s); port %d", peer.Hold, peer.Keepalive, s.Port)
	}
	return peer, nil
}

// Mode returns the advertisement mode of ip (ModeECMP or ModeSingle); false when no
// advertisement names ip's pool, and the VIP is announced by ARP/NDP. A pool whose
// advertisements are all refused keeps their mode and is announced by nobody (its
// conditions say why). The mode is the same on every node: node selectors decide who
// may announce, never the mode.
func (p *Plan) Mode(ip netip.Addr) (string, bool) {
	if ads := p.ads(ip); len(ads) > 0 {
		return ads[0].mode, true
	}
	if p == nil {
		return "", false
	}
	name, ok := p.pools.PoolOf(ip)
	if !ok {
		return "", false
	}
	mode, ok := p.claimed[name]
	return mode, ok
}

func (p *Plan) ads(ip netip.Addr) []*adv {
	if p == nil {
		return nil
	}
	name, ok := p.pools.PoolOf(ip)
	if !ok {
		return nil
	}
	return p.byPool[name]
}

// routeOf returns the advertisements that send ip from this node, and the names of the
// peers of ip's family that they send it to; nil when this node may not announce ip.
func (p *Plan) routeOf(ip netip.Addr, family func(string) bool) ([]*adv, []string) {
	var out []*adv
	peers := map[string]bool{}
	for _, a := range p.ads(ip) {
		if !a.selected {
			continue
		}
		hit := false
		for _, n := range a.peers {
			if family(n) {
				peers[n], hit = true, true
			}
		}
		if hit {
			out = append(out, a)
		}
	}
	return out, slices.Sorted(maps.Keys(peers))
}

// familyOf returns a filter for peer names whose address family is that of ip.
func (p *Plan) familyOf(ip netip.Addr) func(string) bool {
	return func(name string) bool {
		for _, peer := range p.Peers {
			if peer.Name == name {
				return peer.Addr.Is4() == ip.Is4()
			}
		}
		return false
	}
}

// key identifies what a plan decides (peers, modes, who sends what where), so a plan
// recomputed from unchanged objects is recognised as the same.
func (p *Plan) key() string {
	if p == nil {
		return ""
	}
	var b strings.Builder
	fmt.Fprint(&b, p.Peers, p.claimed)
	for _, name := range slices.Sorted(maps.Keys(p.byPool)) {
		for _, a := range p.byPool[name] {
			lp := int64(-1)
			if a.localPref != nil {
				lp = int64(*a.localPref)
			}
			fmt.Fprintf(&b, "|%s:%s:%d:%s:%v:%v:%v:%d", name, a.name, a.tag, a.mode, a.selected, a.peers, a.communities, lp)
		}
	}
	return b.String()
}
