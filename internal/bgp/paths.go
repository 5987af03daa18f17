package bgp

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/osrg/gobgp/v4/pkg/apiutil"
	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// hostPrefix is ip as a /32 or /128.
func hostPrefix(ip netip.Addr) string { return netip.PrefixFrom(ip, ip.BitLen()).String() }

// route is one VIP as this node originates it: the tags of its advertisements. The next
// hop is left unspecified, which GoBGP replaces with the session's own address.
type route struct {
	tags []uint32
}

func (r route) key() string {
	parts := make([]string, len(r.tags))
	for i, t := range r.tags {
		parts[i] = strconv.Itoa(int(t))
	}
	return strings.Join(parts, ",")
}

// routeFor returns ip's route from this node; false when no advertisement lets this node
// send ip to a peer of its family.
func (p *Plan) routeFor(ip netip.Addr) (route, bool) {
	ads, peers := p.routeOf(ip, p.familyOf(ip))
	if len(peers) == 0 {
		return route{}, false
	}
	r := route{}
	for _, a := range ads {
		r.tags = append(r.tags, a.tag)
	}
	slices.Sort(r.tags)
	return r, true
}

// peersFor returns the names of the peers that get ip from this node.
func (p *Plan) peersFor(ip netip.Addr) []string {
	_, peers := p.routeOf(ip, p.familyOf(ip))
	return peers
}

// path builds the GoBGP path of ip: origin IGP, next hop unspecified, the tags.
func (r route) path(ip netip.Addr) (*apiutil.Path, error) {
	nlri, err := bgp.NewIPAddrPrefix(netip.PrefixFrom(ip, ip.BitLen()))
	if err != nil {
		return nil, fmt.Errorf("route %s: %w", ip, err)
	}
	tags := make([]*bgp.LargeCommunity, len(r.tags))
	for i, t := range r.tags {
		tags[i] = bgp.NewLargeCommunity(tagAdmin, tagMagic, t)
	}
	attrs := []bgp.PathAttributeInterface{bgp.NewPathAttributeOrigin(0), bgp.NewPathAttributeLargeCommunities(tags)}
	family := bgp.RF_IPv4_UC
	if ip.Is4() {
		nh, err := bgp.NewPathAttributeNextHop(netip.IPv4Unspecified())
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", ip, err)
		}
		attrs = append(attrs, nh)
	} else {
		family = bgp.RF_IPv6_UC
		mp, err := bgp.NewPathAttributeMpReachNLRI(family, []bgp.PathNLRI{{NLRI: nlri}}, netip.IPv6Unspecified())
		if err != nil {
			return nil, fmt.Errorf("route %s: %w", ip, err)
		}
		attrs = append(attrs, mp)
	}
	return &apiutil.Path{Family: family, Nlri: nlri, Attrs: attrs}, nil
}

// origin adds and deletes GoBGP paths.
type origin interface {
	AddPath(apiutil.AddPathRequest) ([]apiutil.AddPathResponse, error)
	DeletePath(apiutil.DeletePathRequest) error
}

// installed is a path GoBGP originates for us.
type installed struct {
	key  string
	uuid uuid.UUID
}

func addPath(o origin, ip netip.Addr, r route) (installed, error) {
	p, err := r.path(ip)
	if err != nil {
		return installed{}, err
	}
	res, err := o.AddPath(apiutil.AddPathRequest{Paths: []*apiutil.Path{p}})
	if err == nil && len(res) == 1 {
		err = res[0].Error
	}
	if err != nil || len(res) != 1 {
		return installed{}, fmt.Errorf("announce %s: %w", ip, err)
	}
	return installed{key: r.key(), uuid: res[0].UUID}, nil
}

func deletePath(o origin, ip netip.Addr, in installed) error {
	if err := o.DeletePath(apiutil.DeletePathRequest{UUIDs: []uuid.UUID{in.uuid}}); err != nil {
		return fmt.Errorf("withdraw %s: %w", ip, err)
	}
	return nil
}
