package bgp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/vipkeeper/vipkeeper/api/v1alpha1"
	"github.com/vipkeeper/vipkeeper/internal/pool"
)

// Input is everything Resolve looks at. Resolve never modifies it.
type Input struct {
	Node       string
	NodeLabels map[string]string
	Peers      []*v1alpha1.BGPPeer
	Ads        []*v1alpha1.BGPAdvertisement
	Pools      []*v1alpha1.VIPPool
	// Secret returns one key of a Secret in the daemon's namespace.
	Secret func(name, key string) (string, error)
	Timing Timing
}

// Timing is the election timing that single mode must fit into (docs/bgp.md).
type Timing struct {
	LeaseDuration, RenewDeadline time.Duration
}

// HoldMargin is how much shorter than LeaseDuration - RenewDeadline a peer's hold time
// must be in single mode: the router's hold timer, its route processing and the rate
// difference of two clocks all fit in it.
const HoldMargin = time.Second

// MaxSingleHold is the longest hold time single mode accepts with this timing.
func (t Timing) MaxSingleHold() time.Duration {
	return t.LeaseDuration - t.RenewDeadline - HoldMargin
}

// Peer is one BGPPeer as this node speaks to it.
type Peer struct {
	Name            string
	Addr            netip.Addr
	Port            uint16
	ASN, MyASN      uint32
	Hold, Keepalive time.Duration
	Password        string
	MultiHop        bool
	Source          netip.Addr // invalid: the kernel's choice
}

// adv is one accepted BGPAdvertisement of one pool.
type adv struct {
	name        string
	tag         uint32 // the internal large community that routes its VIPs to its peers
	mode        string
	communities []string
	localPref   *uint32
	peers       []string // names of the peers this node sends to (a subset of Plan.Peers)
	selected    bool     // this node may announce the VIPs
}

// Plan is the BGP configuration of this node, computed by Resolve.
type Plan struct {
	Peers        []Peer               // the peers this node speaks to, by name
	PeerProblems map[string]string    // peers this node should speak to but cannot: why
	Accepted     map[string]Condition // every advertisement's Accepted condition, by name
	pools        pool.Membership
	byPool       map[string][]*adv // pool -> its accepted advertisements, oldest first
	// claimed holds the mode of every pool that any advertisement names, accepted or not:
	// a pool meant for BGP never falls back to ARP/NDP because its advertisement is wrong.
	claimed map[string]string
}

// Condition is a status condition without the bookkeeping fields.
type Condition struct {
	Status  metav1.ConditionStatus
	Reason  string
	Message string
}

// Problem reasons of advertisements and peers (CamelCase, the Event reasons).
const (
	ReasonAccepted        = "Accepted"
	ReasonUnknownPool     = "UnknownPool"
	ReasonUnknownPeer     = "UnknownPeer"
	ReasonModeConflict    = "ModeConflict"
	ReasonInvalidSelector = "InvalidSelector"
	ReasonHoldTooLong     = "HoldTimeTooLong"
	ReasonSecret          = "SecretUnavailable"
	ReasonInvalidPeer     = "InvalidPeer"
)

// Resolve decides, from listed objects only, which peers this node speaks to and which
// advertisement governs each pool. It is pure, and bad input of one object refuses only
// that object (a condition), never another.
func Resolve(in Input) *Plan {
	p := &Plan{PeerProblems: map[string]string{}, Accepted: map[string]Condition{},
		pools: pool.NewMembership(in.Pools), byPool: map[string][]*adv{}, claimed: map[string]string{}}
	all := p.resolvePeers(in)
	poolNames := map[string]bool{}
	for _, vp := range in.Pools {
		if vp != nil {
			poolNames[vp.Name] = true
		}
	}
	for _, a := range oldestFirst(in.Ads) {
		p.accept(in, a, all, poolNames)
	}
	return p
}

// oldestFirst returns the objects oldest first (then by name), without nils: the oldest
// advertisement of a pool fixes its mode, the oldest peer of an address is the one used.
func oldestFirst[T any, P interface {
	*T
	metav1.Object
}](in []P) []P {
	out := slices.DeleteFunc(slices.Clone(in), func(o P) bool { return o == nil })
	slices.SortFunc(out, func(a, b P) int {
		ta, tb := a.GetCreationTimestamp(), b.GetCreationTimestamp()
		return cmp.Or(ta.Compare(tb.Time), cmp.Compare(a.GetName(), b.GetName()))
	})
	return out
}

// peerInfo is what an advertisement needs to know of every BGPPeer, selected or not.
type peerInfo struct {
	hold  time.Duration
	local bool // this node speaks to it
}

func (p *Plan) accept(in Input, a *v1alpha1.BGPAdvertisement, all map[string]peerInfo, pools map[string]bool) {
	mode := cmp.Or(a.Spec.Mode, v1alpha1.ModeECMP)
	for _, name := range a.Spec.Pools {
		if _, ok := p.claimed[name]; !ok {
			p.claimed[name] = mode
		}
	}
	sel, err := selects(a.Spec.NodeSelector, in.NodeLabels)
	if err != nil {
		p.refuse(a.Name, ReasonInvalidSelector, "spec.nodeSelector: %v", err)
		return
	}
	for _, name := range a.Spec.Pools {
		if !pools[name] {
			p.refuse(a.Name, ReasonUnknownPool, "VIPPool %q does not exist", name)
			return
		}
		if ads := p.byPool[name]; len(ads) > 0 && ads[0].mode != mode {
			p.refuse(a.Name, ReasonModeConflict, "pool %q is announced in mode %s by the older BGPAdvertisement %q",
				name, ads[0].mode, ads[0].name)
			return
		}
	}
	peers, cond := advPeers(a, mode, all, in.Timing)
	if cond.Status == metav1.ConditionFalse {
		p.Accepted[a.Name] = cond
		return
	}
	ad := &adv{name: a.Name, tag: uint32(len(p.Accepted) + 1), mode: mode, peers: peers,
		communities: a.Spec.Communities, selected: sel, localPref: u32(a.Spec.LocalPref)}
	for _, name := range a.Spec.Pools {
		p.byPool[name] = append(p.byPool[name], ad)
	}
	p.Accepted[a.Name] = cond
}

// advPeers returns the peers of a that this node speaks to. Single mode refuses a peer
// whose hold time could keep a frozen holder's route alive after a successor announces.
func advPeers(a *v1alpha1.BGPAdvertisement, mode string, all map[string]peerInfo, t Timing) ([]string, Condition) {
	names := a.Spec.Peers
	if len(names) == 0 {
		names = slices.Sorted(mapsKeys(all))
	}
	var out []string
	for _, n := range names {
		pi, ok := all[n]
		switch {
		case !ok:
			return nil, Condition{metav1.ConditionFalse, ReasonUnknownPeer, fmt.Sprintf("BGPPeer %q does not exist", n)}
		case mode == v1alpha1.ModeSingle && pi.hold > t.MaxSingleHold():
			return nil, Condition{metav1.ConditionFalse, ReasonHoldTooLong, fmt.Sprintf(
				"BGPPeer %q: hold time %v is longer than lease duration %v - renew deadline %v - %v; in single mode a frozen holder's route could outlive its fence (docs/bgp.md)",
				n, pi.hold, t.LeaseDuration, t.RenewDeadline, HoldMargin)}
		case pi.local:
			out = append(out, n)
		}
	}
	return out, Condition{metav1.ConditionTrue, ReasonAccepted, "every pool and peer resolves"}
}

func (p *Plan) refuse(name, reason, format string, a ...any) {
	p.Accepted[name] = Condition{metav1.ConditionFalse, reason, fmt.Sprintf(format, a...)}
}

// selects reports whether a node with these labels matches sel (nil: every node).
func selects(sel *metav1.LabelSelector, nodeLabels map[string]string) (bool, error) {
	if sel == nil {
		return true, nil
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return false, err
	}
	return s.Matches(labels.Set(nodeLabels)), nil
}

func u32(v *int64) *uint32 {
	if v == nil || *v < 0 || *v > 1<<32-1 {
		return nil
	}
	x := uint32(*v)
	return &x
}
