package bgp

import (
	"fmt"
	"slices"
	"strconv"

	api "github.com/osrg/gobgp/v4/api"
)

// Every route carries, inside this node only, one large community per advertisement that
// sends it (tagAdmin:tagMagic:tag). The export policy turns the tags into the peers and
// attributes of those advertisements and strips them, so one path in GoBGP's table can
// go to some peers with some communities and to other peers with others.
const (
	tagAdmin = 0
	tagMagic = 0x766b6970 // "vkip"
)

func tagString(tag uint32) string { return fmt.Sprintf("%d:%d:%d", tagAdmin, tagMagic, tag) }

// The global policies: export routes to the peers of their advertisements; import only
// our own (GoBGP judges locally originated paths by the import policy too).
const (
	policyName   = "vipkeeper-export"
	importPolicy = "vipkeeper-import"
)

// policyRequest builds the whole routing policy of a plan: import nothing (a node is no
// router), export only our own tagged routes, each to the peers of its advertisements.
func policyRequest(p *Plan) *api.SetPoliciesRequest {
	sets, stmts := policyParts(p)
	export := &api.PolicyAssignment{Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_EXPORT,
		DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT}
	local := &api.Policy{Name: importPolicy, Statements: []*api.Statement{{Name: "local",
		Conditions: &api.Conditions{RouteType: api.Conditions_ROUTE_TYPE_LOCAL},
		Actions:    &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT}}}}
	req := &api.SetPoliciesRequest{DefinedSets: sets, Policies: []*api.Policy{local}, Assignments: []*api.PolicyAssignment{export,
		{Name: "global", Direction: api.PolicyDirection_POLICY_DIRECTION_IMPORT, DefaultAction: api.RouteAction_ROUTE_ACTION_REJECT,
			Policies: []*api.Policy{{Name: importPolicy}}}}}
	if len(stmts) > 0 {
		pol := &api.Policy{Name: policyName, Statements: stmts}
		req.Policies = append(req.Policies, pol)
		export.Policies = []*api.Policy{{Name: policyName}}
	}
	return req
}

func policyParts(p *Plan) ([]*api.DefinedSet, []*api.Statement) {
	var sets []*api.DefinedSet
	var attrs, accepts []*api.Statement
	toPeer := map[string][]string{} // peer -> tags of the advertisements sending to it
	for _, a := range p.allAds() {
		sets = append(sets, largeSet("adv-"+strconv.Itoa(int(a.tag)), tagString(a.tag)))
		for _, peer := range a.peers {
			toPeer[peer] = append(toPeer[peer], tagString(a.tag))
			if s := attrStatement(a, peer); s != nil {
				attrs = append(attrs, s)
			}
		}
	}
	for _, peer := range p.Peers {
		tags := toPeer[peer.Name]
		if len(tags) == 0 {
			continue
		}
		sets = append(sets, &api.DefinedSet{DefinedType: api.DefinedType_DEFINED_TYPE_NEIGHBOR,
			Name: "peer-" + peer.Name, List: []string{hostPrefix(peer.Addr)}}, largeSet("to-"+peer.Name, tags...))
		accepts = append(accepts, &api.Statement{Name: "to-" + peer.Name,
			Conditions: &api.Conditions{NeighborSet: anyOf("peer-" + peer.Name), LargeCommunitySet: anyOf("to-" + peer.Name)},
			Actions: &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_ACCEPT,
				LargeCommunity: &api.CommunityAction{Type: api.CommunityAction_TYPE_REMOVE,
					Communities: []string{fmt.Sprintf(`^%d:%d:\d+$`, tagAdmin, tagMagic)}}}})
	}
	return sets, append(attrs, accepts...)
}

// attrStatement adds a's communities and local preference on routes to peer; it does not
// decide (route action none), so every advertisement of a route adds its own.
func attrStatement(a *adv, peer string) *api.Statement {
	if len(a.communities) == 0 && a.localPref == nil {
		return nil
	}
	acts := &api.Actions{RouteAction: api.RouteAction_ROUTE_ACTION_UNSPECIFIED}
	if len(a.communities) > 0 {
		acts.Community = &api.CommunityAction{Type: api.CommunityAction_TYPE_ADD, Communities: slices.Clone(a.communities)}
	}
	if a.localPref != nil {
		acts.LocalPref = &api.LocalPrefAction{Value: *a.localPref}
	}
	return &api.Statement{Name: fmt.Sprintf("adv-%d-%s", a.tag, peer), Actions: acts,
		Conditions: &api.Conditions{NeighborSet: anyOf("peer-" + peer), LargeCommunitySet: anyOf("adv-" + strconv.Itoa(int(a.tag)))}}
}

func largeSet(name string, list ...string) *api.DefinedSet {
	return &api.DefinedSet{DefinedType: api.DefinedType_DEFINED_TYPE_LARGE_COMMUNITY, Name: name, List: list}
}

func anyOf(set string) *api.MatchSet {
	return &api.MatchSet{Type: api.MatchSet_TYPE_ANY, Name: set}
}

// allAds lists every accepted advertisement once, by tag.
func (p *Plan) allAds() []*adv {
	seen := map[uint32]*adv{}
	for _, ads := range p.byPool {
		for _, a := range ads {
			seen[a.tag] = a
		}
	}
	out := make([]*adv, 0, len(seen))
	for _, a := range seen {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b *adv) int { return int(a.tag) - int(b.tag) })
	return out
}
